using Akka.Actor;
using Restock.Actors.Domain.Inventory;
using Restock.Actors.Engine.Hosting;
using Restock.Actors.Engine.Inventory;
using Restock.Actors.Tests.Support;
using Xunit.Abstractions;

namespace Restock.Actors.Tests.Inventory;

/// <summary>
/// A SKU told to stop (handoff, passivation, a graceful restart) with many events since its last snapshot snapshots
/// before it stops, so it starts again without replaying them. Snapshots here are due every 10 events, and then only
/// after as many events as the previous snapshot held entries, so a growing SKU is always some way past its snapshot.
/// </summary>
public sealed class SkuSnapshotOnStopTests(ITestOutputHelper output)
    : EngineTestKit(output, "restock.inventory.max-batch-size = 10", "restock.inventory.snapshot-every = 10")
{
    private InventorySettings Settings => InventorySettings.From(Sys.Settings.Config);

    [Fact]
    public async Task A_sku_told_to_stop_snapshots_first_and_starts_again_replaying_nothing()
    {
        var sku = Sys.ActorOf(SkuActor.Props("stop-mug", Settings));
        Assert.Equal(SkuOutcome.Done, (await sku.AskBounded<SkuReply>(new SkuRequest("stop-mug", new SetStock("a1", 1000, "delivery", "shop-a")))).Outcome);
        for (var i = 0; i < 120; i++)
            sku.Tell(new SkuRequest("stop-mug", new Reserve($"o{i}", 1, DateTimeOffset.UtcNow.AddHours(1))), TestActor);
        Assert.All(ReceiveN(120, TimeSpan.FromSeconds(30)).Cast<SkuReply>(), r => Assert.Equal(SkuOutcome.Done, r.Outcome));

        Watch(sku);
        sku.Tell(StopEntity.Instance);
        ExpectTerminated(sku, TimeSpan.FromSeconds(20));

        var restarted = Sys.ActorOf(SkuActor.Props("stop-mug", Settings));
        var stock = await restarted.AskBounded<SkuReply>(new GetStock("stop-mug"));
        Assert.Equal((880L, 120L), (stock.Levels.Available, stock.Levels.Reserved));
        Assert.Equal(0, (await restarted.AskBounded<JournalStats>(new GetJournalStats("stop-mug"))).EventsReplayed);
        Assert.Equal(SkuOutcome.AlreadyDone, (await restarted.AskBounded<SkuReply>(new SkuRequest("stop-mug", new Reserve("o7", 1, DateTimeOffset.UtcNow.AddHours(1))))).Outcome);
    }
}
