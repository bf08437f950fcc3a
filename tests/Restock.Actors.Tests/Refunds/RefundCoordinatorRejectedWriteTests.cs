using Akka.Persistence;
using Akka.Persistence.Journal;
using Akka.Persistence.TestKit;
using Restock.Actors.Domain.Inventory;
using Restock.Actors.Domain.Refunds;
using Restock.Actors.Domain.Shops;
using Restock.Actors.Engine.Hosting;
using Restock.Actors.Engine.Refunds;
using Restock.Actors.Tests.Simulation;
using Restock.Actors.Tests.Support;
using Xunit.Abstractions;

namespace Restock.Actors.Tests.Refunds;

/// <summary>
/// A journal that rejects one of the coordinator's progress writes (as the SQL journal does for an event it cannot
/// serialize) stores nothing: the refund must still finish, restocked once. Found by the simulation (seed 66): the
/// coordinator kept the rejected step marked as under way and the refund never finished.
/// </summary>
public sealed class RefundCoordinatorRejectedWriteTests(ITestOutputHelper output)
    : EngineTestKit(output, [.. SimConfig.TestKitJournal, "akka.cluster.sharding.entity-restart-backoff = 200ms"])
{
    [Theory]
    [InlineData(nameof(RestockDecided))]
    [InlineData(nameof(LineSettled))]
    public async Task A_refund_whose_progress_write_was_rejected_still_finishes_and_restocks_once(string rejectedEvent)
    {
        var engine = await RestockEngine.StartOnAsync(Sys).Within("the engine to start");
        await engine.Shops.Execute("shop", new SetAutoRestock(true, SettingOrigin.Merchant, "merchant:test", "test", false, DateTimeOffset.UtcNow));
        await engine.Inventory.Execute("s1", new SetStock("a", 10, "test", "shop"));
        await engine.Inventory.Execute("s1", new Reserve("o1", 2, DateTimeOffset.UtcNow.AddHours(1)));
        await engine.Inventory.Execute("s1", new ConfirmPayment("o1"));

        var rejected = 0;
        var journal = TestJournal.FromRef(Persistence.Instance.Apply(Sys).JournalFor(null));
        await journal.OnWrite.RejectIf(write =>
            (write.Payload is Tagged t ? t.Payload : write.Payload).GetType().Name == rejectedEvent && Interlocked.Exchange(ref rejected, 1) == 0);

        var refund = new RefundRequest("r1", "o1", "shop", [new RefundedLine("s1", 2)], DateTimeOffset.UtcNow);
        Assert.Equal(RefundOutcome.Accepted, (await engine.Refunds.Submit(refund)).Outcome);

        await AwaitAssertAsync(async () =>
        {
            Assert.Equal(1, Volatile.Read(ref rejected));
            Assert.True((await engine.Refunds.Get("o1", "r1")).Status!.Finished);
        }, TimeSpan.FromSeconds(20), TimeSpan.FromMilliseconds(200));
        var status = (await engine.Refunds.Get("o1", "r1")).Status!;
        Assert.Equal(LineOutcome.Applied, status.Lines.Single().Outcome);
        Assert.Equal(new StockLevels(10, 0, 0, 0, 2, 2), (await engine.Inventory.GetStock("s1")).Levels);
    }
}
