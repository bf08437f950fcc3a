using System.Collections.Concurrent;
using System.Diagnostics;
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
        public readonly WriterThread Thread = new();
    }

    /// <summary>A quarter of SQLite's 1,000-page checkpoint threshold (4 KB pages).</summary>
    private const long LargeWriteBytes = 1 << 20;

    private static readonly ConcurrentDictionary<string, WrittenFile> Files = new(StringComparer.Ordinal);

    // Each connection string's file, so that a write finds it without parsing the string and resolving its path.
    private static readonly ConcurrentDictionary<string, WrittenFile> FilesByConnectionString = new(StringComparer.Ordinal);

    /// <summary>Runs <paramref name="write"/> once no other write of the engine's to the same file is under way.</summary>
    /// <param name="bytes">About how much it writes, if known: a large write has the WAL checkpointed at once after it.</param>
    public static Task RunAsync(string connectionString, Func<Task> write, CancellationToken cancellationToken, long bytes = 0) =>
        RunAsync(FileFor(connectionString), write, cancellationToken, bytes, waited: null);

    private static async Task RunAsync(WrittenFile file, Func<Task> write, CancellationToken cancellationToken, long bytes, Action<TimeSpan>? waited)
    {
        var turn = file.Turn.WaitAsync(cancellationToken);
        var asked = turn.IsCompleted || waited is null ? 0 : Stopwatch.GetTimestamp();
        await turn;
        try
        {
            // Inside the try: a meter listener that throws must not keep the turn from every later write.
            if (asked != 0) waited!(Stopwatch.GetElapsedTime(asked));
            await write();
        }
        finally
        {
            file.Turn.Release();
            file.Checkpointer.Wrote(file.Turn, bytes >= LargeWriteBytes);
        }
    }

    /// <summary>
    /// Runs the synchronous <paramref name="write"/> in the file's turn (as <see cref="RunAsync"/>) on the file's own
    /// writer thread, not on a thread-pool thread: a journal insert spends nearly all its time in its COMMIT's fsync, and
    /// at 15,000 reservations/s that held ~0.6 of one of the pool's 3–4 threads (a trace: 3,989 of ~26,000 pool-thread
    /// samples), the threads the SKU actors and the callers' continuations run on.
    /// </summary>
    /// <param name="waited">Told how long the write waited for the turn, when another write held it.</param>
    public static Task RunOnWriterThreadAsync(string connectionString, Action write, CancellationToken cancellationToken, long bytes = 0,
        Action<TimeSpan>? waited = null)
    {
        var file = FileFor(connectionString);
        return RunAsync(file, () => cancellationToken.IsCancellationRequested ? Task.FromCanceled(cancellationToken) : file.Thread.Run(write),
            cancellationToken, bytes, waited);
    }

    /// <summary>A connection for a write of the engine's, its checkpoints left to <see cref="LeaveCheckpointsToCheckpointer"/>.</summary>
    public static SqliteConnection OpenForWrite(string connectionString)
    {
        var connection = new SqliteConnection(connectionString);
        connection.Open();
        LeaveCheckpointsToCheckpointer(connection);
        return connection;
    }

    /// <summary>
    /// Turns SQLite's own checkpoint at commit off on an open connection that writes in the file's turn (the journal's, the
    /// snapshots', the ledger's): the commit that passes 1,000 pages of WAL otherwise copies them all into the file and
    /// syncs it (40–60 ms after a large snapshot) while every write waiting for the turn waits for it too;
    /// <see cref="WalCheckpointer"/> checkpoints instead. Where it cannot (a <c>file:</c> URI or an in-memory database)
    /// SQLite's own stays on, or the WAL would grow without end. The setting stays with the connection in
    /// Microsoft.Data.Sqlite's pool, which every user of the same connection string shares (the persistence plugin's too):
    /// harmless, since every write in the turn is followed by a pass.
    /// </summary>
    public static void LeaveCheckpointsToCheckpointer(SqliteConnection connection)
    {
        if (FileFor(connection.ConnectionString).Checkpointer.Checkpoints)
            raw.sqlite3_wal_autocheckpoint(connection.Handle!, 0);
    }

    /// <summary>Completes once no checkpoint of the file is under way or asked for (tests).</summary>
    internal static Task CheckpointsIdleAsync(string connectionString) => FileFor(connectionString).Checkpointer.IdleAsync();

    private static WrittenFile FileFor(string connectionString) =>
        FilesByConnectionString.GetOrAdd(connectionString, static connectionString =>
            Files.GetOrAdd(FileOf(connectionString), static (_, connectionString) => new WrittenFile(connectionString), connectionString));

    /// <summary>The same file whatever the connection string's other settings; an in-memory database or a URI by its connection string.</summary>
    private static string FileOf(string connectionString) =>
        JournalStore.FileOf(new SqliteConnectionStringBuilder(connectionString)) ?? connectionString;

    /// <summary>
    /// One file's writer thread: runs one write at a time (the file's turn already orders them), started on the first
    /// write and ended after <see cref="IdleMs"/> without one, so files no longer written (tests') keep no thread.
    /// </summary>
    private sealed class WriterThread
    {
        private const int IdleMs = 5_000;
        private readonly object _gate = new();
        private Action? _write;
        private TaskCompletionSource? _done;
        private bool _alive;

        public Task Run(Action write)
        {
            var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            lock (_gate)
            {
                (_write, _done) = (write, done);
                if (_alive) Monitor.Pulse(_gate);
                else
                {
                    _alive = true;
                    new Thread(Loop) { IsBackground = true, Name = "sqlite-writer" }.Start();
                }
            }
            return done.Task;
        }

        private void Loop()
        {
            while (true)
            {
                Action write;
                TaskCompletionSource done;
                lock (_gate)
                {
                    while (_write is null)
                        if (!Monitor.Wait(_gate, IdleMs) && _write is null)
                        {
                            _alive = false;
                            return;
                        }
                    (write, done) = (_write, _done!);
                    (_write, _done) = (null, null);
                }
                try
                {
                    write();
                    done.TrySetResult();
                }
                catch (Exception e)
                {
                    done.TrySetException(e);
                }
            }
        }
    }
}
