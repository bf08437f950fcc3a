using Akka.Actor;
using Restock.Actors.Domain.Inventory;
using Restock.Actors.Engine.Hosting;
using Restock.Actors.Engine.Inventory;
using Restock.Actors.Tests.Support;
using Xunit.Abstractions;

namespace Restock.Actors.Tests.Inventory;

/// <summary>A SKU stopped by sharding (handoff, passivation) or abruptly, while a group commit is under way.</summary>
public sealed class SkuStopTests(ITestOutputHelper output) : EngineTestKit(output, "restock.inventory.max-batch-size = 10")
{
    private const int Buyers = 60;

    private static DateTimeOffset InAnHour => DateTimeOffset.UtcNow.AddHours(1);

    private async Task<IActorRef> StockedSku(string sku)
    {
        var actor = Sys.ActorOf(SkuActor.Props(sku, InventorySettings.From(Sys.Settings.Config)));
        Assert.Equal(SkuOutcome.Done, (await actor.AskBounded<SkuReply>(new SkuRequest(sku, new SetStock("a1", 1000, "delivery", "shop-a")))).Outcome);
        return actor;
    }

    private static Task<SkuReply>[] Reserve(IActorRef actor, string sku) =>
        Enumerable.Range(0, Buyers)
            .Select(i => actor.AskBounded<SkuReply>(new SkuRequest(sku, new Reserve($"o{i}", 1, InAnHour)), TimeSpan.FromSeconds(20)))
            .ToArray();

    [Fact]
    public async Task A_sku_told_to_stop_mid_batch_writes_and_answers_every_decision_first()
    {
        var actor = await StockedSku("handoff-mug");
        var replies = Reserve(actor, "handoff-mug");
        // Behind the 60 reservations: the first write is under way and the rest are queued when this arrives.
        Watch(actor);
        actor.Tell(StopEntity.Instance);
        ExpectTerminated(actor, TimeSpan.FromSeconds(20));

        Assert.All(await Task.WhenAll(replies), r => Assert.Equal(SkuOutcome.Done, r.Outcome));
        var restarted = Sys.ActorOf(SkuActor.Props("handoff-mug", InventorySettings.From(Sys.Settings.Config)));
        var stock = await restarted.AskBounded<SkuReply>(new GetStock("handoff-mug"));
        Assert.Equal((1000L - Buyers, (long)Buyers), (stock.Levels.Available, stock.Levels.Reserved));
    }

    [Fact]
    public async Task A_sku_stopped_abruptly_mid_batch_never_tells_a_caller_nothing_was_applied_when_it_was()
    {
        var actor = await StockedSku("crash-mug");
        var replies = Reserve(actor, "crash-mug");
        Watch(actor);
        Sys.Stop(actor);
        ExpectTerminated(actor, TimeSpan.FromSeconds(20));

        var outcomes = new List<(int Order, string Told)>();
        for (var i = 0; i < Buyers; i++)
        {
            try
            {
                outcomes.Add((i, (await replies[i]).Outcome.ToString()));
            }
            catch (StockNotSavedException)
            {
                outcomes.Add((i, "not applied"));
            }
            catch (Exception e) when (e is StockOutcomeUnknownException or AskTimeoutException)
            {
                // A command still in the mailbox dies with the actor, as in a crash: its caller times out, which the
                // service answers as "outcome unknown, retry with the same id".
                outcomes.Add((i, "unknown"));
            }
        }
        // How many decisions were written before the stop depends on the machine's speed; what every caller was told
        // must be true whichever it was. A write in flight at the stop may still land: wait until the journal stops
        // growing, or the next incarnation would recover without it and collide with it.
        long journalEnd = -1, previous;
        do
        {
            previous = journalEnd;
            await Task.Delay(500);
            journalEnd = Db.Count("SELECT COALESCE(MAX(sequence_number), 0) FROM journal WHERE persistence_id = 'sku-crash-mug'");
        }
        while (journalEnd != previous);

        // A retry with the same id shows what really happened: a change the caller was told was not applied must not be there.
        var restarted = Sys.ActorOf(SkuActor.Props("crash-mug", InventorySettings.From(Sys.Settings.Config)));
        foreach (var (order, told) in outcomes)
        {
            var retry = await restarted.AskBounded<SkuReply>(new SkuRequest("crash-mug", new Reserve($"o{order}", 1, InAnHour)), TimeSpan.FromSeconds(20));
            var wasApplied = retry.Outcome == SkuOutcome.AlreadyDone;
            if (told == "not applied") Assert.False(wasApplied, $"o{order} was told 'not applied' but is stored");
            if (told == nameof(SkuOutcome.Done)) Assert.True(wasApplied, $"o{order} was acknowledged but is lost");
        }
    }
}
