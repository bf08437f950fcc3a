using Restock.Actors.Engine.Hosting;

namespace Restock.Actors.Tests.Hosting;

/// <summary>
/// The shared recovery reads: every request gets its own answer exactly once, whatever batch it went in; a second query runs
/// beside the first only while a whole query's worth waits, never more than the limit at once.
/// </summary>
public sealed class RecoveryReadsTests
{
    /// <summary>A read that answers each request with its double once released, and records how many queries overlapped.</summary>
    private sealed class GatedRead
    {
        private int _running;
        public int MostAtOnce;
        public readonly List<int> BatchSizes = [];

        public int Started
        {
            get
            {
                lock (BatchSizes) return BatchSizes.Count;
            }
        }
        public TaskCompletionSource Release = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public readonly TaskCompletionSource FirstStarted = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public async Task<int[]> ReadAsync(IReadOnlyList<int> requests, CancellationToken cancel)
        {
            var now = Interlocked.Increment(ref _running);
            lock (BatchSizes)
            {
                BatchSizes.Add(requests.Count);
                MostAtOnce = Math.Max(MostAtOnce, now);
            }
            FirstStarted.TrySetResult();
            await Release.Task.WaitAsync(cancel);
            Interlocked.Decrement(ref _running);
            return requests.Select(r => r * 2).ToArray();
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public async Task A_backlog_runs_up_to_the_limit_of_queries_at_once_and_every_request_gets_its_own_answer(int queriesAtOnce)
    {
        const int perQuery = 10;
        var gated = new GatedRead();
        var reads = new RecoveryReads<int, int>("test", gated.ReadAsync, perQuery, CancellationToken.None, queriesAtOnce);

        // The first request starts a query; while it runs, a backlog of many queries' worth builds up.
        var answers = new List<Task<int>> { reads.Read(0) };
        await gated.FirstStarted.Task.WaitAsync(TimeSpan.FromSeconds(10));
        answers.AddRange(Enumerable.Range(1, 10 * perQuery).Select(reads.Read));
        // Until as many queries as allowed are under way (on a busy pool they may take a while to start), and a moment
        // more for any beyond the limit to show.
        for (var waited = 0; gated.Started < queriesAtOnce && waited < 10_000; waited += 10)
            await Task.Delay(10);
        await Task.Delay(100);
        gated.Release.SetResult();

        var results = await Task.WhenAll(answers).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(Enumerable.Range(0, answers.Count).Select(i => i * 2), results);
        Assert.InRange(gated.MostAtOnce, 1, queriesAtOnce);
        if (queriesAtOnce > 1) Assert.True(gated.MostAtOnce > 1, "a backlog runs more than one query at once");
        Assert.All(gated.BatchSizes, size => Assert.InRange(size, 1, perQuery));
        Assert.Equal(answers.Count, gated.BatchSizes.Sum());
    }

    [Fact]
    public async Task Fewer_waiting_than_one_query_holds_wait_for_the_query_under_way_and_share_the_next()
    {
        const int perQuery = 10;
        var gated = new GatedRead();
        var reads = new RecoveryReads<int, int>("test", gated.ReadAsync, perQuery, CancellationToken.None, 2);

        var first = reads.Read(0);
        await gated.FirstStarted.Task.WaitAsync(TimeSpan.FromSeconds(10));
        var waiting = Enumerable.Range(1, perQuery - 1).Select(reads.Read).ToList();
        await Task.Delay(200);

        Assert.Equal(1, gated.MostAtOnce);
        gated.Release.SetResult();
        Assert.Equal(Enumerable.Range(1, perQuery - 1).Select(i => i * 2), await Task.WhenAll(waiting).WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(0, await first);
        Assert.Equal([1, perQuery - 1], gated.BatchSizes);
    }

    [Fact]
    public async Task A_failed_query_fails_only_its_own_requests()
    {
        var calls = 0;
        var reads = new RecoveryReads<int, int>("test", (requests, _) =>
            Interlocked.Increment(ref calls) == 1 ? Task.FromException<int[]>(new InvalidOperationException("disk")) : Task.FromResult(requests.ToArray()),
            10, CancellationToken.None, 2);

        await Assert.ThrowsAsync<InvalidOperationException>(() => reads.Read(1));
        Assert.Equal(2, await reads.Read(2));
    }
}
