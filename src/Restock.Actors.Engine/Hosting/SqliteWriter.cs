using System.Collections.Concurrent;
using Microsoft.Data.Sqlite;

namespace Restock.Actors.Engine.Hosting;

/// <summary>
/// The engine's own writes to one SQLite file (journal rows, snapshots), taken one at a time in the order asked, a
/// waiting writer holding no thread. SQLite has one writer per file: a connection that finds it taken gets
/// SQLITE_BUSY, and Microsoft.Data.Sqlite then sleeps 150 ms on the caller's thread before each retry. A journal write
/// that met a large snapshot's transaction so slept two or three times: a hot SKU's answers stopped for 300–450 ms
/// while two of the thread pool's three threads were held asleep or writing (README, "What stopped the world").
/// </summary>
public static class SqliteWriter
{
    private static readonly ConcurrentDictionary<string, SemaphoreSlim> Files = new(StringComparer.Ordinal);

    /// <summary>Runs <paramref name="write"/> once no other write of the engine's to the same file is under way.</summary>
    public static async Task RunAsync(string connectionString, Func<Task> write, CancellationToken cancellationToken)
    {
        var turn = Files.GetOrAdd(FileOf(connectionString), _ => new SemaphoreSlim(1, 1));
        await turn.WaitAsync(cancellationToken);
        try
        {
            await write();
        }
        finally
        {
            turn.Release();
        }
    }

    /// <summary>The same file whatever the connection string's other settings; an in-memory database by its name.</summary>
    private static string FileOf(string connectionString)
    {
        var builder = new SqliteConnectionStringBuilder(connectionString);
        return builder.Mode == SqliteOpenMode.Memory || builder.DataSource is "" or ":memory:" || builder.DataSource.StartsWith("file:", StringComparison.Ordinal)
            ? connectionString
            : Path.GetFullPath(builder.DataSource);
    }
}
