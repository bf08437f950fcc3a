using System.Runtime.CompilerServices;
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
    [Fact]
    public async Task A_refund_whose_progress_write_was_rejected_still_finishes_and_restocks_once()
    {
        var (engine, rejected) = await SoldAndPaidWithOneRejectedWriteOf(nameof(LineSettled));

        var refund = new RefundRequest("r1", "o1", "shop", [new RefundedLine("s1", 2)], DateTimeOffset.UtcNow);
        Assert.Equal(RefundOutcome.Accepted, (await engine.Refunds.Submit(refund)).Outcome);

        await FinishedAndRestockedOnce(engine, rejected);
    }

    /// <summary>
    /// A new refund is written with its shop's answer in one write: when the journal rejects that write nothing is stored
    /// (the test journal stores a write's events one by one, so it is rejected at its first event, the refund itself), and
    /// the submitter is not told "accepted", as for any refund whose first write fails; submitted again, it is.
    /// </summary>
    [Fact]
    public async Task A_refund_whose_first_write_was_rejected_is_not_acknowledged_and_finishes_once_submitted_again()
    {
        var (engine, rejected) = await SoldAndPaidWithOneRejectedWriteOf(nameof(RefundReceived));

        var refund = new RefundRequest("r1", "o1", "shop", [new RefundedLine("s1", 2)], DateTimeOffset.UtcNow);
        using (var wait = new CancellationTokenSource(TimeSpan.FromSeconds(3)))
            await Assert.ThrowsAnyAsync<Exception>(() => engine.Refunds.Submit(refund, wait.Token));
        Assert.Equal(1, Volatile.Read(ref rejected.Value));
        await AwaitAssertAsync(async () => Assert.Equal(RefundOutcome.Accepted, (await engine.Refunds.Submit(refund)).Outcome),
            TimeSpan.FromSeconds(20), TimeSpan.FromMilliseconds(200));

        await FinishedAndRestockedOnce(engine, rejected);
    }

    /// <summary>An engine with order o1 (2 units of s1) reserved and paid; the first journal write holding an event of the type named is rejected.</summary>
    private async Task<(RestockEngine Engine, StrongBox<int> Rejected)> SoldAndPaidWithOneRejectedWriteOf(string rejectedEvent)
    {
        var engine = await RestockEngine.StartOnAsync(Sys).Within("the engine to start");
        await engine.Shops.Execute("shop", new SetAutoRestock(true, SettingOrigin.Merchant, "merchant:test", "test", false, DateTimeOffset.UtcNow));
        await engine.Inventory.Execute("s1", new SetStock("a", 10, "test", "shop"));
        await engine.Inventory.Execute("s1", new Reserve("o1", 2, DateTimeOffset.UtcNow.AddHours(1)));
        await engine.Inventory.Execute("s1", new ConfirmPayment("o1"));

        var rejected = new StrongBox<int>();
        var journal = TestJournal.FromRef(Persistence.Instance.Apply(Sys).JournalFor(null));
        await journal.OnWrite.RejectIf(write =>
            (write.Payload is Tagged t ? t.Payload : write.Payload).GetType().Name == rejectedEvent && Interlocked.Exchange(ref rejected.Value, 1) == 0);
        return (engine, rejected);
    }

    private async Task FinishedAndRestockedOnce(RestockEngine engine, StrongBox<int> rejected)
    {
        await AwaitAssertAsync(async () =>
        {
            Assert.Equal(1, Volatile.Read(ref rejected.Value));
            Assert.True((await engine.Refunds.Get("o1", "r1")).Status!.Finished);
        }, TimeSpan.FromSeconds(20), TimeSpan.FromMilliseconds(200));
        var status = (await engine.Refunds.Get("o1", "r1")).Status!;
        Assert.Equal(LineOutcome.Applied, status.Lines.Single().Outcome);
        Assert.Equal(new StockLevels(10, 0, 0, 0, 2, 2), (await engine.Inventory.GetStock("s1")).Levels);
    }
}
