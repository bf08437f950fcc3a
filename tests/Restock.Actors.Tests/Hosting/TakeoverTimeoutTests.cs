using Akka.Actor;
using Akka.Remote;
using Restock.Actors.Engine.Hosting;

namespace Restock.Actors.Tests.Hosting;

/// <summary>How long a caller waits once shards may be moving to another node.</summary>
public sealed class TakeoverTimeoutTests
{
    [Fact]
    public async Task A_request_that_has_waited_longer_than_the_takeover_timeout_ends_as_soon_as_a_takeover_is_seen()
    {
        // A takeover timeout long enough that "at once" and "one takeover timeout later" cannot be confused on a busy machine.
        var system = ActorSystem.Create("restock", RestockConfig.Load(_ => null, "restock.cluster.takeover-ask-timeout = 4s"));
        try
        {
            var timeouts = AskTimeouts.Start(system, TimeSpan.FromMinutes(5));
            var silent = system.ActorOf(Props.Create(() => new Silent()));
            var waiting = timeouts.Ask<object>(silent, "stock?", CancellationToken.None);
            await Task.Delay(timeouts.DuringTakeover + TimeSpan.FromMilliseconds(500));
            Assert.False(waiting.IsCompleted, "no takeover yet: the request waits on the normal timeout");

            // A lost connection to another member: its shards may be on their way here.
            var self = ((ExtendedActorSystem)system).Provider.DefaultAddress;
            system.EventStream.Publish(new DisassociatedEvent(self, new Address("akka.tcp", "restock", "127.0.0.1", 1), inbound: false));

            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting.WaitAsync(timeouts.DuringTakeover / 2));
        }
        finally
        {
            await system.Terminate();
        }
    }

    private sealed class Silent : ReceiveActor
    {
        public Silent() => ReceiveAny(_ => { });
    }
}
