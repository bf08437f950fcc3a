using System.Diagnostics;
using Akka.Actor;
using Akka.Cluster.Sharding;
using Akka.TestKit;
using Restock.Actors.Domain.Inventory;
using Restock.Actors.Domain.Refunds;
using Restock.Actors.Engine.Hosting;
using Restock.Actors.Engine.Inventory;
using Restock.Actors.Domain.Shops;
using Restock.Actors.Engine.Refunds;
using Restock.Actors.Engine.Shops;
using Restock.Actors.Tests.Support;
using Xunit.Abstractions;

namespace Restock.Actors.Tests.Hosting;

/// <summary>
/// Shop and refund entities ask their shard to passivate them once idle for the configured period (they are watched by
/// <c>IdleWatch</c>, not Akka's receive timeout), and not while messages keep arriving.
/// </summary>
public sealed class IdlePassivationTests(ITestOutputHelper output) : EngineTestKit(output)
{
    private static readonly TimeSpan Idle = TimeSpan.FromSeconds(1);

    /// <summary>Stands in for the entity's shard: creates it and hands its passivation request to the test.</summary>
    private sealed class Shard : ReceiveActor
    {
        public Shard(Props entity, IActorRef test)
        {
            var child = Context.ActorOf(entity, "entity");
            Receive<Passivate>(p => test.Tell(p));
            ReceiveAny(m => child.Forward(m));
        }
    }

    /// <summary>
    /// Stands in for the entity's shard: creates it, passes the test's messages to it as their sender, and hands
    /// <paramref name="test"/> whatever the entity sends, answers and passivation requests alike, in the order the entity sent
    /// them (an answer sent straight to the test could overtake a request to passivate made before that message arrived).
    /// </summary>
    private sealed class ShardSeeingEntity : ReceiveActor
    {
        public ShardSeeingEntity(Props entity, IActorRef test)
        {
            var child = Context.ActorOf(entity, "entity");
            ReceiveAny(m =>
            {
                if (Sender.Equals(child)) test.Tell(m);
                else child.Tell(m);
            });
        }
    }

    private IActorRef Host(Props entity) => Sys.ActorOf(Akka.Actor.Props.Create(() => new Shard(entity, TestActor)));

    /// <summary>A refund of one line (s1) of <paramref name="orderId"/>: the shop answers "restock", it is accepted, the SKU is asked.</summary>
    private void RefundOneLineUntilItsSkuIsAsked(IActorRef coordinator, string orderId, TestProbe shops, TestProbe skus)
    {
        coordinator.Tell(new RefundSucceeded(new RefundRequest("r1", orderId, "shop", [new RefundedLine("s1", 2)], DateTimeOffset.UtcNow)));
        shops.ExpectMsg<GetRestockPolicy>();
        shops.Reply(new RestockPolicyReply("shop", true, 1));
        Assert.Equal(RefundOutcome.Accepted, ExpectMsg<RefundReply>().Outcome);
        skus.ExpectMsg<SkuRequest>();
    }

    /// <summary>
    /// Keeps a new entity busy for one and a half idle periods (a message every 100 ms, each answered) and true if it did
    /// not ask to be passivated meanwhile. On a loaded machine the test may stall for a whole idle period between two
    /// messages (or the process may pause, the entity's check then due as the next message is sent): the entity is then
    /// rightly idle, and false says this attempt proved nothing. A request to passivate that comes after an answer, sooner
    /// than an idle period after that answer's message was sent, fails the test: the entity had seen that message since
    /// (its answers and requests come in the order it sent them, see <see cref="ShardSeeingEntity"/>).
    /// </summary>
    private bool StaysWhileBusy(TestProbe attempt, IActorRef entity, object message, Action<object> checkAnswer)
    {
        var clock = Stopwatch.StartNew();
        var lastAnsweredSentAt = TimeSpan.Zero;
        for (var i = 0; i < 15; i++)
        {
            var sentAt = clock.Elapsed;
            entity.Tell(message);
            var received = attempt.ReceiveOne(TimeSpan.FromSeconds(10));
            if (received is not Passivate)
            {
                Assert.NotNull(received);
                checkAnswer(received);
                lastAnsweredSentAt = sentAt;
                received = attempt.ReceiveOne(TimeSpan.FromMilliseconds(100));
                if (received is null) continue;
            }
            Assert.IsType<Passivate>(received);
            // The idle watch counts whole milliseconds of another clock: a few of them short is not a busy entity.
            var idleFor = clock.Elapsed - lastAnsweredSentAt;
            Assert.True(idleFor >= Idle - TimeSpan.FromMilliseconds(20), $"asked to passivate {idleFor.TotalMilliseconds:N0} ms after a message was sent to it");
            Output?.WriteLine($"message {i}: idle for {idleFor.TotalMilliseconds:N0} ms (a stall), asked to passivate; trying again");
            return false;
        }
        return true;
    }

    /// <summary>
    /// A new entity from <paramref name="props"/> stays while busy; then, once idle, asks to be passivated. Each attempt has
    /// an entity and a probe of its own: what an abandoned attempt's entity still answers is not taken for the next one's.
    /// </summary>
    private void StaysWhileBusyThenPassivates(Func<int, Props> props, Func<int, object> message, Action<object> checkAnswer)
    {
        for (var attempt = 0; ; attempt++)
        {
            var (entity, probe) = (props(attempt), CreateTestProbe());
            var host = Sys.ActorOf(Akka.Actor.Props.Create(() => new ShardSeeingEntity(entity, probe.Ref)));
            if (StaysWhileBusy(probe, host, message(attempt), checkAnswer))
            {
                probe.ExpectMsg<Passivate>(TimeSpan.FromSeconds(10));
                return;
            }
            Sys.Stop(host);
            Assert.True(attempt < 4, "every attempt to keep the entity busy stalled for a whole idle period");
        }
    }

    [Fact]
    public void An_idle_shop_asks_to_be_passivated_and_a_busy_one_does_not() =>
        StaysWhileBusyThenPassivates(
            attempt => ShopSettingsActor.Props($"shop-{attempt}", Idle),
            attempt => new GetShopSettings($"shop-{attempt}"),
            answer => Assert.IsType<ShopReply>(answer));

    [Fact]
    public void An_idle_refund_coordinator_with_nothing_in_progress_asks_to_be_passivated()
    {
        var settings = RefundSettings.From(Sys.Settings.Config) with { IdleBeforePassivation = Idle };
        StaysWhileBusyThenPassivates(
            attempt => RefundCoordinator.Props($"o{attempt}", CreateTestProbe().Ref, CreateTestProbe().Ref, settings),
            attempt => new GetRefund($"o{attempt}", "r1"),
            answer => Assert.Equal(RefundOutcome.NotFound, Assert.IsType<RefundReply>(answer).Outcome));
    }

    [Fact]
    public void A_refund_coordinator_asks_to_be_passivated_as_soon_as_its_refund_is_finished()
    {
        var settings = RefundSettings.From(Sys.Settings.Config) with { IdleBeforePassivation = TimeSpan.FromHours(1) };
        var (shops, skus) = (CreateTestProbe(), CreateTestProbe());
        var coordinator = Host(RefundCoordinator.Props("o1", shops.Ref, skus.Ref, settings));
        RefundOneLineUntilItsSkuIsAsked(coordinator, "o1", shops, skus);
        // Not while its line is still being asked.
        ExpectNoMsg(TimeSpan.FromMilliseconds(300));
        skus.Reply(new SkuReply("s1", SkuOutcome.Done, null, null, StockLevels.Zero));
        ExpectMsg<Passivate>(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public void A_refund_coordinator_started_again_with_nothing_to_do_and_no_message_asks_to_be_passivated_once_idle()
    {
        var settings = RefundSettings.From(Sys.Settings.Config) with { IdleBeforePassivation = Idle };
        var (shops, skus) = (CreateTestProbe(), CreateTestProbe());
        var first = Host(RefundCoordinator.Props("o7", shops.Ref, skus.Ref, settings));
        RefundOneLineUntilItsSkuIsAsked(first, "o7", shops, skus);
        skus.Reply(new SkuReply("s1", SkuOutcome.Done, null, null, StockLevels.Zero));
        ExpectMsg<Passivate>(TimeSpan.FromSeconds(10));
        Watch(first);
        Sys.Stop(first);
        ExpectTerminated(first);

        // As remember-entities starts one stopped between its last write and its passivation: no message for it.
        Host(RefundCoordinator.Props("o7", shops.Ref, skus.Ref, settings));
        ExpectMsg<Passivate>(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public void A_refund_coordinator_that_takes_a_new_refund_while_its_passivation_is_under_way_asks_its_shard_to_start_it_again()
    {
        var settings = RefundSettings.From(Sys.Settings.Config) with { IdleBeforePassivation = TimeSpan.FromHours(1) };
        var (shops, skus) = (CreateTestProbe(), CreateTestProbe());
        var coordinator = Sys.ActorOf(Akka.Actor.Props.Create(() => new ShardSeeingEntity(RefundCoordinator.Props("o1", shops.Ref, skus.Ref, settings), TestActor)));
        RefundOneLineUntilItsSkuIsAsked(coordinator, "o1", shops, skus);
        skus.Reply(new SkuReply("s1", SkuOutcome.Done, null, null, StockLevels.Zero));
        ExpectMsg<Passivate>(TimeSpan.FromSeconds(10));

        // The shard delivered a second refund of the order before it took the passivation in; then it stops the entity.
        coordinator.Tell(new RefundSucceeded(new RefundRequest("r2", "o1", "shop", [new RefundedLine("s2", 1)], DateTimeOffset.UtcNow)));
        coordinator.Tell(StopEntity.Instance);
        // The new refund is written with its shop's answer (unanswered, it would wait shop-answer-before-first-write first).
        shops.ExpectMsg<GetRestockPolicy>(TimeSpan.FromSeconds(10));
        shops.Reply(new RestockPolicyReply("shop", true, 1));
        Assert.Equal(RefundOutcome.Accepted, ExpectMsg<RefundReply>(TimeSpan.FromSeconds(10)).Outcome);

        // Acknowledged, not finished: the shard is asked to start the coordinator again, which then resumes it.
        Assert.Equal("o1", ExpectMsg<IOrderRefundsMessage>(TimeSpan.FromSeconds(10)).OrderId);
    }

    [Fact]
    public void A_sku_that_takes_a_reservation_while_its_passivation_is_under_way_asks_its_shard_to_start_it_again()
    {
        var settings = InventorySettings.From(Sys.Settings.Config) with { IdleBeforePassivation = Idle };
        var sku = Sys.ActorOf(Akka.Actor.Props.Create(() => new ShardSeeingEntity(SkuActor.Props("mug", settings), TestActor)));
        sku.Tell(new SkuRequest("mug", new SetStock("a1", 5, "delivery", "shop")));
        Assert.Equal(SkuOutcome.Done, ExpectMsg<SkuReply>(TimeSpan.FromSeconds(10)).Outcome);
        ExpectMsg<Passivate>(TimeSpan.FromSeconds(10));

        // The shard delivered a reservation before it took the passivation in; then it stops the entity.
        sku.Tell(new SkuRequest("mug", new Reserve("o1", 2, DateTimeOffset.UtcNow.AddMinutes(15))));
        sku.Tell(StopEntity.Instance);

        // Its deadline must be watched: besides the answer, the shard is asked to start the SKU again, which arms it as it
        // recovers (the ask comes as the stop is taken in, the answer once the reservation is written).
        var got = ReceiveN(2, TimeSpan.FromSeconds(10));
        Assert.Contains(got, m => m is SkuReply { Outcome: SkuOutcome.Done });
        Assert.Contains(got, m => m is ResumeSku { SkuId: "mug" });
    }

    [Fact]
    public void A_sku_passivated_with_no_deadline_to_watch_is_not_started_again()
    {
        var settings = InventorySettings.From(Sys.Settings.Config) with { IdleBeforePassivation = Idle };
        var sku = Sys.ActorOf(Akka.Actor.Props.Create(() => new ShardSeeingEntity(SkuActor.Props("cup", settings), TestActor)));
        sku.Tell(new SkuRequest("cup", new SetStock("a1", 5, "delivery", "shop")));
        Assert.Equal(SkuOutcome.Done, ExpectMsg<SkuReply>(TimeSpan.FromSeconds(10)).Outcome);
        ExpectMsg<Passivate>(TimeSpan.FromSeconds(10));

        sku.Tell(StopEntity.Instance);
        ExpectNoMsg(TimeSpan.FromSeconds(1));
    }

    [Fact]
    public void Asked_to_passivate_if_idle_a_shop_a_finished_refund_coordinator_and_a_sku_with_no_deadline_do_at_once()
    {
        var hour = TimeSpan.FromHours(1);
        var shop = Host(ShopSettingsActor.Props("shop-1", hour));
        shop.Tell(new GetShopSettings("shop-1"));
        ExpectMsg<ShopReply>(TimeSpan.FromSeconds(10));
        shop.Tell(PassivateIfIdle.Instance);
        ExpectMsg<Passivate>(TimeSpan.FromSeconds(10));

        var settings = RefundSettings.From(Sys.Settings.Config) with { IdleBeforePassivation = hour };
        var coordinator = Host(RefundCoordinator.Props("o1", CreateTestProbe().Ref, CreateTestProbe().Ref, settings));
        coordinator.Tell(new GetRefund("o1", "r1"));
        ExpectMsg<RefundReply>(TimeSpan.FromSeconds(10));
        coordinator.Tell(PassivateIfIdle.Instance);
        ExpectMsg<Passivate>(TimeSpan.FromSeconds(10));

        var sku = Host(SkuActor.Props("cup", InventorySettings.From(Sys.Settings.Config) with { IdleBeforePassivation = hour }));
        sku.Tell(new SkuRequest("cup", new SetStock("a1", 5, "delivery", "shop")));
        Assert.Equal(SkuOutcome.Done, ExpectMsg<SkuReply>(TimeSpan.FromSeconds(10)).Outcome);
        sku.Tell(PassivateIfIdle.Instance);
        ExpectMsg<Passivate>(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public void Asked_to_passivate_if_idle_a_refund_coordinator_with_a_line_under_way_and_a_sku_watching_a_deadline_do_not()
    {
        var hour = TimeSpan.FromHours(1);
        var settings = RefundSettings.From(Sys.Settings.Config) with { IdleBeforePassivation = hour };
        var (shops, skus) = (CreateTestProbe(), CreateTestProbe());
        var coordinator = Host(RefundCoordinator.Props("o1", shops.Ref, skus.Ref, settings));
        RefundOneLineUntilItsSkuIsAsked(coordinator, "o1", shops, skus);
        coordinator.Tell(PassivateIfIdle.Instance);

        var sku = Host(SkuActor.Props("mug", InventorySettings.From(Sys.Settings.Config) with { IdleBeforePassivation = hour }));
        sku.Tell(new SkuRequest("mug", new SetStock("a1", 5, "delivery", "shop")));
        Assert.Equal(SkuOutcome.Done, ExpectMsg<SkuReply>(TimeSpan.FromSeconds(10)).Outcome);
        sku.Tell(new SkuRequest("mug", new Reserve("o1", 2, DateTimeOffset.UtcNow.AddMinutes(15))));
        Assert.Equal(SkuOutcome.Done, ExpectMsg<SkuReply>(TimeSpan.FromSeconds(10)).Outcome);
        sku.Tell(PassivateIfIdle.Instance);
        ExpectNoMsg(TimeSpan.FromSeconds(1));
    }
}
