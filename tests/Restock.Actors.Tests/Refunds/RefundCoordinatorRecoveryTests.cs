using Akka.Actor;
using Akka.Cluster.Sharding;
using Restock.Actors.Domain.Inventory;
using Restock.Actors.Domain.Refunds;
using Restock.Actors.Engine.Hosting;
using Restock.Actors.Engine.Inventory;
using Restock.Actors.Engine.Refunds;
using Restock.Actors.Domain.Shops;
using Restock.Actors.Engine.Shops;
using Restock.Actors.Tests.Support;
using Xunit.Abstractions;

namespace Restock.Actors.Tests.Refunds;

public sealed class RefundCoordinatorRecoveryTests(ITestOutputHelper output) : EngineTestKit(output)
{
    [Fact]
    public async Task A_coordinator_stopped_after_half_its_lines_resumes_the_rest_and_each_line_restocks_once()
    {
        var engine = await RestockEngine.StartOnAsync(Sys).Within("the engine to start");
        var skuRegion = ClusterSharding.Get(Sys).ShardRegion("sku");
        string[] skus = ["s1", "s2", "s3", "s4"];
        foreach (var sku in skus)
        {
            await engine.Inventory.Execute(sku, new SetStock("a", 10, "test", "shop"));
            await engine.Inventory.Execute(sku, new Reserve("o1", 2, DateTimeOffset.UtcNow.AddHours(1)));
            await engine.Inventory.Execute(sku, new ConfirmPayment("o1"));
        }
        var shops = CreateTestProbe();
        var routed = CreateTestProbe();
        var refund = new RefundRequest("r1", "o1", "shop", skus.Select(s => new RefundedLine(s, 2)).ToList(), DateTimeOffset.UtcNow);

        var settings = RefundSettings.From(Sys.Settings.Config);
        var first = Sys.ActorOf(RefundCoordinator.Props("o1", shops.Ref, routed.Ref, settings));
        first.Tell(new RefundSucceeded(refund));
        shops.ExpectMsg<GetRestockPolicy>();
        shops.Reply(new RestockPolicyReply("shop", true, 7));
        Assert.Equal(RefundOutcome.Accepted, ExpectMsg<RefundReply>().Outcome);

        // Four lines are routed; only the first two reach their SKUs before the coordinator goes down.
        var requests = Enumerable.Range(0, 4).Select(_ => (Request: routed.ExpectMsg<SkuRequest>(), Sender: routed.LastSender)).ToList();
        foreach (var (request, sender) in requests.Take(2))
            skuRegion.Tell(request, sender);
        await AwaitAssertAsync(async () =>
        {
            var status = (await first.AskBounded<RefundReply>(new GetRefund("o1", "r1"))).Status!;
            Assert.Equal(2, status.Lines.Count(l => l.Outcome == LineOutcome.Applied));
        }, TimeSpan.FromSeconds(10));
        Watch(first);
        Sys.Stop(first);
        ExpectTerminated(first);

        // The next incarnation recovers its progress: it does not ask the shop again and routes only the other two.
        var second = Sys.ActorOf(RefundCoordinator.Props("o1", shops.Ref, routed.Ref, settings));
        var resumed = new List<string>();
        for (var i = 0; i < 2; i++)
        {
            var request = routed.ExpectMsg<SkuRequest>();
            resumed.Add(request.SkuId);
            skuRegion.Tell(request, routed.LastSender);
        }
        Assert.Equal(requests.Skip(2).Select(r => r.Request.SkuId).Order(), resumed.Order());
        routed.ExpectNoMsg(TimeSpan.FromMilliseconds(300));
        await AwaitAssertAsync(async () =>
            Assert.True((await second.AskBounded<RefundReply>(new GetRefund("o1", "r1"))).Status!.Finished), TimeSpan.FromSeconds(10));
        shops.ExpectNoMsg(TimeSpan.FromMilliseconds(100));

        foreach (var sku in skus)
            Assert.Equal(new StockLevels(10, 0, 0, 0, 2, 2), (await engine.Inventory.GetStock(sku)).Levels);
        // Even a stray repeat of an answered line (the first incarnation's retry, say) changes nothing.
        var (stray, _) = requests[0];
        var repeat = await skuRegion.AskBounded<SkuReply>(stray);
        Assert.Equal((SkuOutcome.AlreadyDone, 10L), (repeat.Outcome, repeat.Levels.Available));
        Assert.All(requests, r => Assert.Equal(7, ((RefundLine)r.Request.Command).SettingVersion));
    }

    /// <summary>
    /// A handoff or node stop that reaches a coordinator while it recovers stops it once its recovery has ended (Akka.Persistence
    /// stashes it meanwhile), after it has sent its unfinished lines again; it stays remembered, so it starts again on its
    /// new home and sends them once more. Every line is restocked once, and the refund finishes.
    /// </summary>
    [Fact]
    public async Task A_coordinator_stopped_while_it_recovers_unfinished_lines_finishes_them_when_started_again_each_restocked_once()
    {
        var engine = await RestockEngine.StartOnAsync(Sys).Within("the engine to start");
        var skuRegion = ClusterSharding.Get(Sys).ShardRegion("sku");
        string[] skus = ["t1", "t2"];
        foreach (var sku in skus)
        {
            await engine.Inventory.Execute(sku, new SetStock("a", 10, "test", "shop"));
            await engine.Inventory.Execute(sku, new Reserve("o3", 2, DateTimeOffset.UtcNow.AddHours(1)));
            await engine.Inventory.Execute(sku, new ConfirmPayment("o3"));
        }
        var shops = CreateTestProbe();
        var routed = CreateTestProbe();
        var settings = RefundSettings.From(Sys.Settings.Config);
        Props Coordinator() => RefundCoordinator.Props("o3", shops.Ref, routed.Ref, settings);
        void Stop(IActorRef coordinator)
        {
            Watch(coordinator);
            coordinator.Tell(StopEntity.Instance);
            ExpectTerminated(coordinator, TimeSpan.FromSeconds(10));
        }

        // The first incarnation routes both lines; neither reaches its SKU before it stops.
        var first = Sys.ActorOf(Coordinator());
        first.Tell(new RefundSucceeded(new RefundRequest("r1", "o3", "shop", skus.Select(s => new RefundedLine(s, 2)).ToList(), DateTimeOffset.UtcNow)));
        shops.ExpectMsg<GetRestockPolicy>();
        shops.Reply(new RestockPolicyReply("shop", true, 3));
        Assert.Equal(RefundOutcome.Accepted, ExpectMsg<RefundReply>().Outcome);
        for (var i = 0; i < skus.Length; i++) routed.ExpectMsg<SkuRequest>();
        Stop(first);

        // The second is stopped as it starts: the stop waits for its recovery, which sends both lines again; these reach
        // the SKUs (which restock) only after it has stopped, so their answers are lost.
        var second = Sys.ActorOf(Coordinator());
        Stop(second);
        for (var i = 0; i < skus.Length; i++)
        {
            var request = routed.ExpectMsg<SkuRequest>();
            await skuRegion.AskBounded<SkuReply>(request);
        }

        // The third (remember-entities' restart) sends them once more: already done, nothing restocks twice.
        var third = Sys.ActorOf(Coordinator());
        for (var i = 0; i < skus.Length; i++)
        {
            var request = routed.ExpectMsg<SkuRequest>();
            skuRegion.Tell(request, routed.LastSender);
        }
        await AwaitAssertAsync(async () =>
            Assert.True((await third.AskBounded<RefundReply>(new GetRefund("o3", "r1"))).Status!.Finished), TimeSpan.FromSeconds(10));
        var status = (await third.AskBounded<RefundReply>(new GetRefund("o3", "r1"))).Status!;
        Assert.All(status.Lines, l => Assert.Equal(LineOutcome.Applied, l.Outcome));
        foreach (var sku in skus)
            Assert.Equal(new StockLevels(10, 0, 0, 0, 2, 2), (await engine.Inventory.GetStock(sku)).Levels);
        shops.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
    }

    [Fact]
    public async Task A_coordinator_restarted_while_retrying_a_refund_that_overtook_the_payment_keeps_its_progress_and_applies_it_once()
    {
        var engine = await RestockEngine.StartOnAsync(Sys).Within("the engine to start");
        var sharding = ClusterSharding.Get(Sys);
        await engine.Shops.Execute("shop", new SetAutoRestock(true, SettingOrigin.Merchant, "merchant:test", "test", false, DateTimeOffset.UtcNow));
        await engine.Inventory.Execute("s1", new SetStock("a", 10, "test", "shop"));
        await engine.Inventory.Execute("s1", new Reserve("o2", 2, DateTimeOffset.UtcNow.AddHours(1)));
        var settings = RefundSettings.From(Sys.Settings.Config) with { LongestRetryDelay = TimeSpan.FromMilliseconds(200) };
        var refund = new RefundRequest("r1", "o2", "shop", [new RefundedLine("s1", 2)], DateTimeOffset.UtcNow);
        Props Coordinator() => RefundCoordinator.Props("o2", sharding.ShardRegion("shop"), sharding.ShardRegion("sku"), settings);

        var first = Sys.ActorOf(Coordinator());
        first.Tell(new RefundSucceeded(refund));
        // Acknowledged after two round trips (the shop's region, the journal): more than TestKit's default under load.
        Assert.Equal(RefundOutcome.Accepted, ExpectMsg<RefundReply>(TimeSpan.FromSeconds(10)).Outcome);
        RefundLineStatus waiting = null!;
        await AwaitAssertAsync(async () =>
        {
            waiting = (await first.AskBounded<RefundReply>(new GetRefund("o2", "r1"))).Status!.Lines[0];
            Assert.Equal(nameof(RejectionCode.NotPaid), waiting.Code);
        }, TimeSpan.FromSeconds(10));
        Watch(first);
        Sys.Stop(first);
        ExpectTerminated(first);

        // The next incarnation knows the line is being retried, and since when (the retry time is not restarted).
        var second = Sys.ActorOf(Coordinator());
        var recovered = (await second.AskBounded<RefundReply>(new GetRefund("o2", "r1"))).Status!;
        Assert.Equal((nameof(RejectionCode.NotPaid), waiting.RetryingSince, true), (recovered.Lines[0].Code, recovered.Lines[0].RetryingSince, recovered.Restock));
        await engine.Inventory.Execute("s1", new ConfirmPayment("o2"));
        await AwaitAssertAsync(async () =>
            Assert.True((await second.AskBounded<RefundReply>(new GetRefund("o2", "r1"))).Status!.Finished), TimeSpan.FromSeconds(10));

        Assert.Equal(LineOutcome.Applied, (await second.AskBounded<RefundReply>(new GetRefund("o2", "r1"))).Status!.Lines[0].Outcome);
        Assert.Equal(new StockLevels(10, 0, 0, 0, 2, 2), (await engine.Inventory.GetStock("s1")).Levels);
    }
}
