using System.Runtime.CompilerServices;
using Akka.Actor;
using Restock.Actors.Domain.Inventory;
using Restock.Actors.Engine.Inventory;
using Restock.Actors.Tests.Support;
using Xunit.Abstractions;

namespace Restock.Actors.Tests.Inventory;

/// <summary>
/// A SKU holds on to a caller only until it has answered it. Most SKUs of a large catalogue get their next message
/// seconds later, and whatever a SKU kept of its last caller until then would outlive the request.
/// </summary>
public sealed class SkuCallerTests(ITestOutputHelper output) : EngineTestKit(output, "restock.inventory.snapshot-every = 1000000")
{
    private static DateTimeOffset InAnHour => DateTimeOffset.UtcNow.AddHours(1);

    [Theory]
    [InlineData("a written change")]
    [InlineData("a refusal")]
    [InlineData("a read")]
    public async Task A_sku_keeps_nothing_of_a_caller_it_has_answered(string answer)
    {
        var sku = Sys.ActorOf(SkuActor.Props("mug", InventorySettings.From(Sys.Settings.Config)));
        sku.Tell(new SkuRequest("mug", new SetStock("a1", 10, "delivery", "shop-a")), TestActor);
        ExpectMsg<SkuReply>(TimeSpan.FromSeconds(30));
        object request = answer switch
        {
            "a written change" => new SkuRequest("mug", new Reserve("o1", 2, InAnHour)),
            "a refusal" => new SkuRequest("mug", new Reserve("o2", 99, InAnHour)),
            _ => new GetStock("mug"),
        };

        var caller = CallOnce(sku, request);
        var reply = ExpectMsg<SkuReply>(TimeSpan.FromSeconds(30));
        Assert.Equal(answer == "a refusal" ? SkuOutcome.Rejected : SkuOutcome.Done, reply.Outcome);

        // The caller has stopped; only a reference kept elsewhere keeps it. Collected more than once: a busy machine may
        // not have let the stopped actor's last turn end yet.
        for (var attempt = 0; attempt < 100 && caller.IsAlive; attempt++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
            GC.Collect();
            if (caller.IsAlive) await Task.Delay(20);
        }
        Assert.False(caller.IsAlive);
    }

    // Not inlined, so no local of the test's frame keeps the caller.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private WeakReference CallOnce(IActorRef sku, object request) =>
        new(Sys.ActorOf(Props.Create(() => new OneCall(sku, request, TestActor))));

    /// <summary>Sends one request, hands its answer on (without itself as the sender) and stops.</summary>
    private sealed class OneCall : ReceiveActor
    {
        public OneCall(IActorRef sku, object request, IActorRef report)
        {
            sku.Tell(request, Self);
            ReceiveAny(answer =>
            {
                report.Tell(answer, ActorRefs.NoSender);
                Context.Stop(Self);
            });
        }
    }
}
