using Microsoft.Data.Sqlite;
using Restock.Actors.Engine.Hosting;

namespace Restock.Actors.LoadTests.Targets;

/// <summary>The SQLite files of an engine whose journal is one given file: the journal's and the snapshot store's beside it.</summary>
public static class EngineFiles
{
    /// <summary>The engine's configuration on the journal file <paramref name="file"/>, as a deployment sets it.</summary>
    public static Akka.Configuration.Config Config(string file, params string[] overrides) =>
        RestockConfig.Load(k => k == "RESTOCK_CONNECTION_STRING" ? $"Data Source={file}" : null, overrides);

    /// <summary>The snapshot store's file, as the engine's configuration names it.</summary>
    public static string SnapshotsOf(string file) =>
        new SqliteConnectionStringBuilder(Config(file).GetString(RestockConfig.SnapshotConnectionString)).DataSource;

    /// <summary>Deletes both files with their WAL and shared memory.</summary>
    public static void Delete(string file)
    {
        SqliteConnection.ClearAllPools();
        foreach (var path in new[] { file, SnapshotsOf(file) })
        foreach (var suffix in new[] { "", "-wal", "-shm" })
            File.Delete(path + suffix);
    }
}
