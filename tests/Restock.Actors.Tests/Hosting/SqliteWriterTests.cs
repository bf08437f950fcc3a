using Restock.Actors.Engine.Hosting;
using Restock.Actors.Tests.Support;

namespace Restock.Actors.Tests.Hosting;

/// <summary>
/// The engine's journal and snapshot inserts run on their file's writer thread, in the file's turn: a thread-pool thread
/// is never held through their commit, a failure reaches the caller, and a write cancelled before its turn never runs.
/// </summary>
public sealed class SqliteWriterTests
{
    [Fact]
    public async Task A_write_runs_on_the_files_own_thread_not_on_the_pool_and_its_failure_reaches_the_caller()
    {
        using var db = new TestDatabase();
        bool? onPool = null;
        await SqliteWriter.RunOnWriterThreadAsync(db.ConnectionString, () => onPool = Thread.CurrentThread.IsThreadPoolThread, CancellationToken.None);
        Assert.False(onPool);

        var e = await Assert.ThrowsAsync<InvalidOperationException>(() =>
            SqliteWriter.RunOnWriterThreadAsync(db.ConnectionString, () => throw new InvalidOperationException("disk full"), CancellationToken.None));
        Assert.Equal("disk full", e.Message);

        var ran = false;
        await SqliteWriter.RunOnWriterThreadAsync(db.ConnectionString, () => ran = true, CancellationToken.None);
        Assert.True(ran);
    }

    [Fact]
    public async Task Writes_to_one_file_run_one_at_a_time_in_the_order_asked_and_a_cancelled_one_never_runs()
    {
        using var db = new TestDatabase();
        var order = new List<int>();
        var running = 0;
        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();
        var writes = Enumerable.Range(0, 20).Select(i => i == 10
            ? SqliteWriter.RunOnWriterThreadAsync(db.ConnectionString, () => order.Add(-1), cancelled.Token)
            : SqliteWriter.RunOnWriterThreadAsync(db.ConnectionString, () =>
            {
                Assert.Equal(1, Interlocked.Increment(ref running));
                Thread.Sleep(2);
                order.Add(i);
                Interlocked.Decrement(ref running);
            }, CancellationToken.None)).ToList();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => writes[10]);
        await Task.WhenAll(writes.Where((_, i) => i != 10));
        Assert.Equal(Enumerable.Range(0, 20).Where(i => i != 10), order);
    }

    [Fact]
    public async Task A_write_whose_wait_callback_throws_still_gives_the_turn_to_the_next_write()
    {
        using var db = new TestDatabase();
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var holding = SqliteWriter.RunAsync(db.ConnectionString, () => release.Task, CancellationToken.None);
        // Waits for the held turn, so its callback (a meter's record) is told how long: here it throws.
        var waiting = SqliteWriter.RunOnWriterThreadAsync(db.ConnectionString, () => { }, CancellationToken.None,
            waited: _ => throw new InvalidOperationException("a listener failed"));
        release.SetResult();
        await holding;
        await Assert.ThrowsAsync<InvalidOperationException>(() => waiting);

        var next = SqliteWriter.RunOnWriterThreadAsync(db.ConnectionString, () => { }, CancellationToken.None);
        Assert.Same(next, await Task.WhenAny(next, Task.Delay(TimeSpan.FromSeconds(30))));
    }
}
