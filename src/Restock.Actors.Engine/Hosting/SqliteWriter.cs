using System.Collections.Concurrent;
using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace Restock.Actors.Engine.Hosting;

/// <summary>
/// The engine's own writes to one SQLite file (journal rows, snapshots), taken one at a time in the order asked, a
/// waiting writer holding no thread. SQLite has one writer per file: a connection that finds it taken gets
/// SQLITE_BUSY, and Microsoft.Data.Sqlite then sleeps 150 ms on the caller's thread before each retry. A journal write
/// that met a large snapshot's transaction so slept two or three times: a hot SKU's answers stopped for 300–450 ms
/// while two of the thread pool's three threads were held asleep or writing (README, "What stopped the world").
/// Each file's WAL is checkpointed by <see cref="WalCheckpointer"/>, off the writers' commits.
/// </summary>
public static class SqliteWriter
{
    private sealed class WrittenFile(string connectionString)
    {
        public readonly SemaphoreSlim Turn = new(1, 1);
        public readonly WalCheckpointer Checkpointer = new(connectionString);
    }

    /// <summary>A quarter of SQLite's 1,000-page checkpoint threshold (4 KB pages).</summary>
    private const long LargeWriteBytes = 1 << 20;

    private static readonly ConcurrentDictionary<string, WrittenFile> Files = new(StringComparer.Ordinal);

    /// <summary>Runs <paramref name="write"/> once no other write of the engine's to the same file is under way.</summary>
    /// <param name="bytes">About how much it writes, if known: a large write has the WAL checkpointed at once after it.</param>
    public static async Task RunAsync(string connectionString, Func<Task> write, CancellationToken cancellationToken, long bytes = 0)
    {
        var file = FileFor(connectionString);
        await file.Turn.WaitAsync(cancellationToken);
        try
        {
            await write();
        }
        finally
        {
            file.Turn.Release();
            file.Checkpointer.Wrote(file.Turn, bytes >= LargeWriteBytes);
        }
    }

    /// <summary>
    /// A connection for a write of the engine's: SQLite's own checkpoint at commit is off on it (the commit that passes
    /// 1,000 pages of WAL otherwise copies them all into the file, 40–60 ms after a large snapshot, while the reservations
    /// of that commit wait for its answer); <see cref="WalCheckpointer"/> checkpoints instead.
    /// </summary>
    public static SqliteConnection OpenForWrite(string connectionString)
    {
        var connection = new SqliteConnection(connectionString);
        connection.Open();
        raw.sqlite3_wal_autocheckpoint(connection.Handle!, 0);
        return connection;
    }

    /// <summary>Completes once no checkpoint of the file is under way or asked for (tests).</summary>
    internal static Task CheckpointsIdleAsync(string connectionString) => FileFor(connectionString).Checkpointer.IdleAsync();

    private static WrittenFile FileFor(string connectionString) =>
        Files.GetOrAdd(FileOf(connectionString), static (_, connectionString) => new WrittenFile(connectionString), connectionString);

    /// <summary>The same file whatever the connection string's other settings; an in-memory database by its name.</summary>
    private static string FileOf(string connectionString)
    {
        var builder = new SqliteConnectionStringBuilder(connectionString);
        return builder.Mode == SqliteOpenMode.Memory || builder.DataSource is "" or ":memory:" || builder.DataSource.StartsWith("file:", StringComparison.Ordinal)
            ? connectionString
            : Path.GetFullPath(builder.DataSource);
    }
}
