using Akka.Actor;
using Akka.Cluster.Sharding;
using Akka.Event;
using Restock.Actors.Domain.Refunds;
using Restock.Actors.Engine.Refunds;
using Restock.Actors.Engine.Shops;
using Restock.Actors.Tests.Support;
using Xunit.Abstractions;

namespace Restock.Actors.Tests.Refunds;

/// <summary>
/// A coordinator that throws is restarted in place by its shard, at the same address: an ask its former incarnation made
/// can still fail into the new one. A failed ask for a refund the new one never wrote must leave nothing behind.
/// </summary>
public sealed class RefundCoordinatorStaleAnswerTests(ITestOutputHelper output) : EngineTestKit(output)
{
    private static readonly RefundRequest Refund = new("r1", "o1", "shop", [new RefundedLine("s1", 2)], DateTimeOffset.UtcNow);

    [Fact]
    public async Task A_failed_shop_ask_of_a_former_incarnation_for_a_refund_never_written_does_not_lengthen_that_refunds_later_retries()
    {
        var (shops, skus) = (CreateTestProbe(), CreateTestProbe());
        var settings = RefundSettings.From(Sys.Settings.Config) with { ShopAnswerBeforeFirstWrite = TimeSpan.FromSeconds(5) };
        var shard = Sys.ActorOf(Props.Create(() => new RestartingShard(RefundCoordinator.Props("o1", shops.Ref, skus.Ref, settings))));
        var coordinator = await shard.Ask<IActorRef>(RestartingShard.Entity, Generous);

        // The refund waits for its shop's answer before its first write when the coordinator throws and is restarted.
        coordinator.Tell(new RefundSucceeded(Refund));
        shops.ExpectMsg<GetRestockPolicy>(Generous);
        var formerAsk = shops.LastSender;
        coordinator.Tell(Kill.Instance);
        coordinator.Tell(new GetRefund("o1", "r1"));
        Assert.Equal(RefundOutcome.NotFound, ExpectMsg<RefundReply>(Generous).Outcome);
        // The former incarnation's ask fails now, into the new one, which asks no shop for a refund it does not have. (The
        // failure reaches the coordinator through a task's continuation: the wait lets it arrive before the refund below.)
        formerAsk.Tell(new Status.Failure(new InvalidOperationException("the shop's shard is moving")));
        shops.ExpectNoMsg(TimeSpan.FromSeconds(1));

        // The submitter sends the refund again. Its shop fails to answer before the first write and again after it: the
        // retry after that first failure waits the backoff's first step, as for any refund.
        coordinator.Tell(new RefundSucceeded(Refund));
        shops.ExpectMsg<GetRestockPolicy>(Generous);
        shops.Reply(new Status.Failure(new InvalidOperationException("no answer")));
        Assert.Equal(RefundOutcome.Accepted, ExpectMsg<RefundReply>(Generous).Outcome);
        shops.ExpectMsg<GetRestockPolicy>(Generous);
        var warnings = CreateTestProbe();
        Sys.EventStream.Subscribe(warnings.Ref, typeof(Warning));
        shops.Reply(new Status.Failure(new InvalidOperationException("no answer")));
        var retry = warnings.FishForMessage<Warning>(w => w.Message.ToString()!.Contains("did not answer"), Generous);
        Assert.EndsWith("retry in 00:00:00.4000000", retry.Message.ToString());
    }

    /// <summary>A shard's part here: it restarts its entity when it throws, and keeps it when it asks to be passivated.</summary>
    private sealed class RestartingShard : ReceiveActor
    {
        /// <summary>Asks for the entity's address.</summary>
        public const string Entity = "entity";

        public RestartingShard(Props entity)
        {
            var child = Context.ActorOf(entity, "o1");
            Receive<string>(m => m == Entity, _ => Sender.Tell(child));
            Receive<Passivate>(_ => { });
        }

        protected override SupervisorStrategy SupervisorStrategy() => new OneForOneStrategy(_ => Directive.Restart);
    }
}
