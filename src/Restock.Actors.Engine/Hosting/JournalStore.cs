using Akka.Configuration;
using Microsoft.Data.Sqlite;

namespace Restock.Actors.Engine.Hosting;

/// <summary>Prepares the journal's database before the first write.</summary>
internal static class JournalStore
{
    /// <summary>The PostgreSQL advisory lock key that makes nodes create their tables one at a time.</summary>
    public const long SchemaLock = 0x5245_5354_4F43_4B;

    public static bool IsSqlite(Config config) =>
        config.GetString("akka.persistence.journal.sql.provider-name", "").StartsWith("SQLite", StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// SQLite: creates the file's folder and switches the file to WAL once (the file keeps the mode). WAL lets
    /// readers and the writer work at once; synchronous stays at SQLite's default FULL, so commits are durable.
    /// </summary>
    public static void Prepare(Config config)
    {
        if (!IsSqlite(config)) return;
        var builder = new SqliteConnectionStringBuilder(config.GetString("akka.persistence.journal.sql.connection-string"));
        if (builder.Mode == SqliteOpenMode.Memory || builder.DataSource is "" or ":memory:") return;
        var folder = Path.GetDirectoryName(Path.GetFullPath(builder.DataSource));
        if (!string.IsNullOrEmpty(folder)) System.IO.Directory.CreateDirectory(folder);
        using var connection = new SqliteConnection(builder.ToString());
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA journal_mode=WAL;";
        command.ExecuteNonQuery();
    }
}
