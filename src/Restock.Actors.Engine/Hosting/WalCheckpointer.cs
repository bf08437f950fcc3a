using Microsoft.Data.Sqlite;

namespace Restock.Actors.Engine.Hosting;

/// <summary>
/// Checkpoints one SQLite file's WAL (copies its pages into the database file) on a thread of its own, instead of inside
/// the commit that passes SQLite's 1,000-page threshold: after a large snapshot that commit, usually the journal's,
/// took 40–60 ms, and every reservation in it waited for that. Each pass, at most one every <see cref="Interval"/>
/// after writes: a PASSIVE checkpoint beside the writers (they go on appending meanwhile); then, once the WAL holds
/// <see cref="RestartFrames"/> frames or more, a second one in a writer turn of its own, which copies only what was
/// appended since, so that the next write starts the WAL again from its beginning (SQLite restarts it only when every
/// frame has been copied, which never happens while writes keep arriving during a checkpoint). Durability is SQLite's
/// own: commits are synced to the WAL as before (synchronous FULL); a checkpoint syncs the WAL before copying and the
/// file after.
/// </summary>
public sealed class WalCheckpointer(string connectionString)
{
    /// <summary>The least time between two passes while writes go on.</summary>
    internal static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// SQLite's own threshold: the WAL is restarted once it passes this many frames (pages). Fewer, larger restarts (4,000
    /// frames) did not shorten the hot SKU's longest waits (PERFORMANCE-LOG, "Quiet window, session 14").
    /// </summary>
    internal const int RestartFrames = 1_000;

    // The file's WAL, if it is a file: a pass runs only while it exists. A file in rollback-journal mode (tests') has
    // none, and there even the schema read of a checkpoint pragma takes a shared lock that fails a writer's COMMIT.
    private readonly string? _wal = JournalStore.FileOf(new SqliteConnectionStringBuilder(connectionString)) is { } file ? file + "-wal" : null;
    private readonly object _gate = new();

    /// <summary>Whether this file's WAL is checkpointed here: only then may a write connection turn SQLite's own off.</summary>
    internal bool Checkpoints => _wal is not null;

    private bool _running, _wroteSince, _urgent;
    private long _lastPass;
    private TaskCompletionSource? _idle;

    /// <summary>
    /// A write to the file ended: a pass follows, on a thread of its own, unless one is already under way. After a
    /// <paramref name="large"/> one (a snapshot) at once: the next commit of a connection that still checkpoints at
    /// commit (a snapshot delete's, on a persistence plugin's connection that no write of the engine's has used before, see
    /// <see cref="SqliteWriter.LeaveCheckpointsToCheckpointer"/>) would otherwise copy it all inside its writer turn; while a
    /// pass runs, SQLite has such a commit skip its checkpoint.
    /// </summary>
    internal void Wrote(SemaphoreSlim turn, bool large)
    {
        if (_wal is null) return;
        lock (_gate)
        {
            _wroteSince = true;
            if (large)
            {
                _urgent = true;
                Monitor.Pulse(_gate);
            }
            if (_running) return;
            _running = true;
        }
        new Thread(() => Passes(turn)) { IsBackground = true, Name = "sqlite-wal-checkpoint" }.Start();
    }

    /// <summary>Completes once no pass is under way or due.</summary>
    internal Task IdleAsync()
    {
        lock (_gate)
        {
            if (!_running) return Task.CompletedTask;
            return (_idle ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
        }
    }

    private void Passes(SemaphoreSlim turn)
    {
        while (true)
        {
            lock (_gate)
            {
                if (!_wroteSince)
                {
                    _running = false;
                    (_idle, var idle) = (null, _idle);
                    idle?.TrySetResult();
                    return;
                }
                for (var wait = Remaining(); wait > 0 && !_urgent; wait = Remaining())
                    Monitor.Wait(_gate, (int)wait);
                _wroteSince = _urgent = false;
            }
            _lastPass = Environment.TickCount64;
            try
            {
                Pass(turn);
            }
            catch (SqliteException)
            {
                // A file gone or busy now is checkpointed by the next pass, or by SQLite when its last connection
                // closes; the writes themselves are already durable in the WAL.
            }
        }
    }

    private long Remaining() => _lastPass + (long)Interval.TotalMilliseconds - Environment.TickCount64;

    private void Pass(SemaphoreSlim turn)
    {
        if (!File.Exists(_wal)) return;
        // Never creates the file: a pass that comes after the file was deleted finds nothing to do.
        using var connection = new SqliteConnection(new SqliteConnectionStringBuilder(connectionString) { Mode = SqliteOpenMode.ReadWrite, Pooling = false }.ToString());
        connection.Open();
        var log = Checkpoint(connection);
        if (log < RestartFrames) return;
        TakeTurn(turn);
        try
        {
            Checkpoint(connection);
        }
        finally
        {
            turn.Release();
        }
    }

    /// <summary>
    /// Blocks until the writers' turn is taken, without spinning first: <see cref="SemaphoreSlim.Wait()"/> spins and
    /// yields the CPU ~25 times before it blocks (~100 <c>sched_yield</c> calls a second on this thread under load, the
    /// turn being held by a journal commit's fsync for milliseconds), on a machine whose cores the SKUs need.
    /// </summary>
    private static void TakeTurn(SemaphoreSlim turn)
    {
        using var taken = turn.WaitAsync();
        if (!taken.IsCompleted) ((IAsyncResult)taken).AsyncWaitHandle.WaitOne();
    }

    /// <returns>The frames in the WAL (0 if the file is not in WAL mode).</returns>
    /// <remarks>
    /// The pragma, not sqlite3_wal_checkpoint_v2: on a connection that has not read the file yet, SQLite has not opened
    /// the WAL, and the C call then checkpoints nothing and reports an empty WAL; preparing the pragma reads the schema.
    /// </remarks>
    private static int Checkpoint(SqliteConnection connection)
    {
        using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA wal_checkpoint(PASSIVE)";
        using var result = command.ExecuteReader();
        return result.Read() ? Math.Max(0, result.GetInt32(1)) : 0;
    }
}
