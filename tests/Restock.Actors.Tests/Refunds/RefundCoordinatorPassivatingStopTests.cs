using Akka.Actor;
using Akka.Cluster.Sharding;
using Akka.Persistence;
using Akka.Persistence.Journal;
using Akka.Persistence.TestKit;
using Restock.Actors.Domain.Refunds;
using Restock.Actors.Engine.Hosting;
using Restock.Actors.Engine.Refunds;
using Restock.Actors.Engine.Shops;
using Restock.Actors.Tests.Simulation;
using Restock.Actors.Tests.Support;
using Xunit.Abstractions;

namespace Restock.Actors.Tests.Refunds;

/// <summary>
/// A coordinator that asked to be passivated is forgotten by its shard (remember-entities) when it stops, whatever
/// stops it, unless a message for it waits in the shard. Refunds the shard delivered before it took the passivation in
/// may have started work again; if a write then fails or is rejected, the coordinator stops before the shard's stop
/// message reaches it, and an accepted refund would wait for the order's next message. It must ask to be started again.
/// </summary>
public sealed class RefundCoordinatorPassivatingStopTests(ITestOutputHelper output) : EngineTestKit(output, SimConfig.TestKitJournal)
{
    /// <summary>Stands in for the entity's shard: creates it, hands the test its passivation request and whatever it sends the shard.</summary>
    private sealed class ShardSeeingEntity : ReceiveActor
    {
        public ShardSeeingEntity(Props entity, IActorRef test)
        {
            var child = Context.ActorOf(entity, "entity");
            ReceiveAny(m =>
            {
                if (m is Passivate || Sender.Equals(child)) test.Tell(m);
                else child.Forward(m);
            });
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_passivating_coordinator_stopped_by_a_failed_write_with_an_accepted_refund_asks_to_be_started_again(bool rejected)
    {
        var journal = TestJournal.FromRef(Persistence.Instance.Apply(Sys).JournalFor(null));
        var settings = RefundSettings.From(Sys.Settings.Config) with { IdleBeforePassivation = TimeSpan.FromHours(1) };
        var shops = CreateTestProbe();
        var coordinator = Sys.ActorOf(Props.Create(() =>
            new ShardSeeingEntity(RefundCoordinator.Props("o1", shops.Ref, CreateTestProbe().Ref, settings), TestActor)));
        coordinator.Tell(new GetRefund("o1", "r0"));
        ExpectMsg<RefundReply>(TimeSpan.FromSeconds(10));
        coordinator.Tell(PassivateIfIdle.Instance);
        ExpectMsg<Passivate>(TimeSpan.FromSeconds(10));

        // Delivered by the shard before it took the passivation in: r1 is accepted, r2's write fails.
        bool IsR2(object payload) => (payload is Tagged t ? t.Payload : payload) is RefundReceived { Refund.RefundId: "r2" };
        if (rejected) await journal.OnWrite.RejectIf(w => IsR2(w.Payload));
        else await journal.OnWrite.FailIf(w => IsR2(w.Payload));
        coordinator.Tell(new RefundSucceeded(new RefundRequest("r1", "o1", "shop", [new RefundedLine("s1", 2)], DateTimeOffset.UtcNow)));
        coordinator.Tell(new RefundSucceeded(new RefundRequest("r2", "o1", "shop", [new RefundedLine("s2", 1)], DateTimeOffset.UtcNow)));

        Assert.Equal(RefundOutcome.Accepted, ExpectMsg<RefundReply>(TimeSpan.FromSeconds(10)).Outcome);
        shops.ExpectMsg<GetRestockPolicy>(TimeSpan.FromSeconds(10));
        // It stops on the failed write; the shard, which forgets a passivating entity that stops, must get a resume for it.
        Assert.Equal("o1", ExpectMsg<ResumeRefunds>(TimeSpan.FromSeconds(10)).OrderId);
    }
}
