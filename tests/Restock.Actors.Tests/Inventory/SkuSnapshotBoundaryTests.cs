using Akka.Actor;
using Akka.Persistence;
using Akka.Persistence.TestKit;
using Restock.Actors.Domain.Inventory;
using Restock.Actors.Engine.Inventory;
using Restock.Actors.Tests.Simulation;
using Restock.Actors.Tests.Support;
using Xunit.Abstractions;

namespace Restock.Actors.Tests.Inventory;

/// <summary>
/// The SKU's state changes in place, so a snapshot is captured right after the decision that makes it due and saved only
/// once the write ending with that decision is confirmed: it never holds a decision that is not durable.
/// </summary>
public sealed class SkuSnapshotBoundaryTests(ITestOutputHelper output) : EngineTestKit(output, [.. SimConfig.TestKitJournal])
{
    private static readonly DateTimeOffset InAnHour = DateTimeOffset.UtcNow.AddHours(1);

    private InventorySettings Settings => InventorySettings.From(Sys.Settings.Config) with { SnapshotEvery = 2 };

    private ITestJournal Journal => TestJournal.FromRef(Persistence.Instance.Apply(Sys).JournalFor(null));

    private async Task<SkuSnapshot?> LatestSnapshot(string skuId)
    {
        var loaded = await Persistence.Instance.Apply(Sys).SnapshotStoreFor(null).AskBounded<LoadSnapshotResult>(
            new LoadSnapshot(SkuActor.PersistenceIdFor(skuId), SnapshotSelectionCriteria.Latest, long.MaxValue), TimeSpan.FromSeconds(10));
        return loaded.Snapshot?.Snapshot as SkuSnapshot;
    }

    private static string[] OpenOrders(SkuSnapshot? snapshot) => snapshot?.OpenLines.Select(l => l.OrderId).Order().ToArray() ?? [];

    [Fact]
    public async Task A_snapshot_due_with_a_decision_whose_write_fails_is_never_saved_and_recovery_equals_the_journal()
    {
        var sku = Sys.ActorOf(SkuActor.Props("mug", Settings));
        await sku.AskBounded<SkuReply>(new SkuRequest("mug", new SetStock("a1", 10, "delivery")));
        await sku.AskBounded<SkuReply>(new SkuRequest("mug", new Reserve("o1", 1, InAnHour)));
        // Two events: the snapshot after o1 is saved once o1's write is confirmed.
        await AwaitAssertAsync(async () => Assert.Equal(["o1"], OpenOrders(await LatestSnapshot("mug"))),
            TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(50));
        await sku.AskBounded<SkuReply>(new SkuRequest("mug", new Reserve("o2", 1, InAnHour)));

        // o3 makes the next snapshot due; its write fails, so neither it nor its snapshot may survive.
        await Journal.OnWrite.Fail();
        Watch(sku);
        await Assert.ThrowsAsync<StockOutcomeUnknownException>(() => sku.AskBounded<SkuReply>(new SkuRequest("mug", new Reserve("o3", 1, InAnHour))));
        ExpectTerminated(sku);
        await Journal.OnWrite.Pass();
        await Task.Delay(300); // a snapshot saved by mistake would be stored by now
        Assert.Equal(["o1"], OpenOrders(await LatestSnapshot("mug")));

        var recovered = Sys.ActorOf(SkuActor.Props("mug", Settings));
        Assert.Equal(new StockLevels(8, 2, 0, 0, 0, 0), (await recovered.AskBounded<SkuReply>(new GetStock("mug"))).Levels);
        var stats = await recovered.AskBounded<JournalStats>(new GetJournalStats("mug"));
        Assert.Equal((2L, 1L), (stats.LastSnapshotAt, stats.EventsReplayed));
        Assert.Equal(SkuOutcome.Done, (await recovered.AskBounded<SkuReply>(new SkuRequest("mug", new Reserve("o3", 1, InAnHour)))).Outcome);
        Assert.Equal(SkuOutcome.AlreadyDone, (await recovered.AskBounded<SkuReply>(new SkuRequest("mug", new Reserve("o2", 1, InAnHour)))).Outcome);
    }

    [Fact]
    public async Task A_snapshot_is_saved_only_after_the_write_of_its_decision_is_confirmed_and_holds_no_later_decision()
    {
        var sku = Sys.ActorOf(SkuActor.Props("pen", Settings with { SnapshotEvery = 3 }));
        await sku.AskBounded<SkuReply>(new SkuRequest("pen", new SetStock("a1", 10, "delivery")));

        // Every write waits at the gate: o1 is in flight alone; o2 (which makes a snapshot due), o3 and o4 queue behind it.
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await Journal.OnWrite.FailIf(async _ =>
        {
            await gate.Task;
            return false;
        });
        var replies = new[] { "o1", "o2", "o3", "o4" }.Select(o => sku.AskBounded<SkuReply>(new SkuRequest("pen", new Reserve(o, 1, InAnHour)))).ToArray();
        await Task.Delay(300);
        Assert.Null(await LatestSnapshot("pen"));
        Assert.All(replies, r => Assert.False(r.IsCompleted));

        gate.SetResult();
        Assert.All(await Task.WhenAll(replies), r => Assert.Equal(SkuOutcome.Done, r.Outcome));
        // The write after o1's ends with o2, the snapshot's decision (row 3); o3 and o4 follow in their own write.
        await AwaitAssertAsync(async () => Assert.Equal(["o1", "o2"], OpenOrders(await LatestSnapshot("pen"))),
            TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(50));
        var stats = await sku.AskBounded<JournalStats>(new GetJournalStats("pen"));
        Assert.Equal((3L, 4L), (stats.LastSnapshotAt, stats.BatchesWritten));

        Watch(sku);
        Sys.Stop(sku);
        ExpectTerminated(sku);
        var recovered = Sys.ActorOf(SkuActor.Props("pen", Settings with { SnapshotEvery = 3 }));
        Assert.Equal(new StockLevels(6, 4, 0, 0, 0, 0), (await recovered.AskBounded<SkuReply>(new GetStock("pen"))).Levels);
        Assert.Equal(2L, (await recovered.AskBounded<JournalStats>(new GetJournalStats("pen"))).EventsReplayed);
    }
}
