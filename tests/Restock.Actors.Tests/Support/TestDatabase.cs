using Akka.Configuration;
using Akka.Event;
using Microsoft.Data.Sqlite;
using Restock.Actors.Engine.Hosting;

namespace Restock.Actors.Tests.Support;

/// <summary>A SQLite journal file of one test's own, and the snapshot store's file beside it, deleted when the test ends.</summary>
public sealed class TestDatabase : IDisposable
{
    public TestDatabase()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "restock-tests", $"{Guid.NewGuid():N}.db");
        Snapshots = new SqliteFile(new SqliteConnectionStringBuilder(Config().GetString(RestockConfig.SnapshotConnectionString)).DataSource);
    }

    public string Path { get; }

    public string ConnectionString => $"Data Source={Path}";

    /// <summary>The snapshot store's file, as the configuration names it.</summary>
    public SqliteFile Snapshots { get; }

    public string? Setting(string name) => name == "RESTOCK_CONNECTION_STRING" ? ConnectionString : null;

    /// <summary>The shipped configuration on this file, plus the test's own HOCON entries.</summary>
    public Config Config(params string[] overrides) => RestockConfig.Load(Setting, overrides);

    /// <summary>
    /// The same, with the file prepared as the engine prepares it before its journal opens (WAL), for tests that start
    /// the persistence plugins without the engine. On a file left in SQLite's rollback journal, a pooled connection
    /// that read the schema before the snapshot table was created fails its next query of it with "no such table"
    /// while another connection commits (it cannot re-read the schema then): a SKU's snapshot load or delete failed so
    /// (<c>SqliteStaleSchemaTests</c>).
    /// </summary>
    public Config PreparedConfig(params string[] overrides)
    {
        var config = Config(overrides);
        JournalStore.Prepare(config, NoLogger.Instance);
        return config;
    }

    public void Execute(string sql) => new SqliteFile(Path).Execute(sql);

    public long Count(string sql) => new SqliteFile(Path).Count(sql);

    public IReadOnlyList<string> Strings(string sql) => new SqliteFile(Path).Strings(sql);

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        foreach (var file in new[] { Path, Snapshots.Path })
        foreach (var suffix in new[] { "", "-wal", "-shm" })
        {
            try { File.Delete(file + suffix); }
            catch (IOException) { }
        }
    }
}

/// <summary>Statements on one SQLite file, each on a connection of its own.</summary>
public sealed class SqliteFile(string path)
{
    public string Path => path;

    public string ConnectionString => $"Data Source={path}";

    public void Execute(string sql)
    {
        using var connection = new SqliteConnection(ConnectionString);
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    public long Count(string sql) => Convert.ToInt64(Strings(sql).Single());

    public IReadOnlyList<string> Strings(string sql)
    {
        using var connection = new SqliteConnection(ConnectionString);
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        using var reader = command.ExecuteReader();
        var values = new List<string>();
        while (reader.Read()) values.Add(Convert.ToString(reader.GetValue(0))!);
        return values;
    }
}
