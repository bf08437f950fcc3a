using Akka.Actor;
using Akka.Event;
using Restock.Actors.Domain.Inventory;
using Restock.Actors.Engine.Hosting;
using Restock.Actors.Engine.Refunds;
using Restock.Actors.Tests.Support;
using Xunit.Abstractions;

namespace Restock.Actors.Tests.Refunds;

/// <summary>
/// A coordinator stopped before it read the messages it sent itself logs no dead letter for them: during a sale's
/// handoffs and passivations those lines would be one per coordinator.
/// </summary>
public sealed class RefundCoordinatorStopTests(ITestOutputHelper output) : EngineTestKit(output)
{
    [Fact]
    public void A_coordinator_stopped_while_it_recovers_logs_no_dead_letter()
    {
        var deadLetters = CreateTestProbe();
        Sys.EventStream.Subscribe(deadLetters.Ref, typeof(DeadLetter));
        var settings = RefundSettings.From(Sys.Settings.Config);
        var coordinator = Sys.ActorOf(RefundCoordinator.Props("o1", CreateTestProbe().Ref, CreateTestProbe().Ref, settings));
        Watch(coordinator);

        // A handoff or passivation that reaches it while it recovers waits for the recovery's end, then stops it.
        // (Its first recovery on a fresh journal file may take seconds on a loaded machine.)
        coordinator.Tell(StopEntity.Instance);
        ExpectTerminated(coordinator, TimeSpan.FromSeconds(15));

        var lines = deadLetters.ReceiveWhile(TimeSpan.FromSeconds(1), m => (DeadLetter)m);
        Assert.DoesNotContain(lines, d => d.Recipient.Equals(coordinator));
    }
}
