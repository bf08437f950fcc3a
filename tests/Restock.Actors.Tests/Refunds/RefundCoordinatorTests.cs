using Restock.Actors.Domain.Inventory;
using Restock.Actors.Domain.Refunds;
using Restock.Actors.Engine.Inventory;
using Restock.Actors.Engine.Ledger;
using Restock.Actors.Engine.Refunds;
using Restock.Actors.Tests.Support;

namespace Restock.Actors.Tests.Refunds;

public sealed class RefundCoordinatorTests : IAsyncLifetime
{
    private TestEngine _t = null!;

    public async Task InitializeAsync() => _t = await TestEngine.StartAsync();

    public async Task DisposeAsync() => await _t.DisposeAsync();

    [Fact]
    public async Task With_the_switch_on_full_and_partial_refunds_restock_exactly_the_refunded_units()
    {
        await _t.Switch("shop-on", true);
        await _t.Stock("shop-on", "mug", 10);
        await _t.Stock("shop-on", "cap", 10);
        await _t.PaidOrder("mug", "o1", 4);
        await _t.PaidOrder("cap", "o1", 3);

        var partial = await _t.Refund("shop-on", "o1", "r1", ("mug", 1));
        Assert.True(partial.Restock);
        var rest = await _t.Refund("shop-on", "o1", "r2", ("mug", 3), ("cap", 3));
        Assert.All(rest.Lines, l => Assert.Equal(LineOutcome.Applied, l.Outcome));

        Assert.Equal(new StockLevels(10, 0, 0, 0, 4, 4), await _t.Levels("mug"));
        Assert.Equal(new StockLevels(10, 0, 0, 0, 3, 3), await _t.Levels("cap"));
        var ledger = await _t.Ledger(new LedgerQuery(OrderId: "o1"), 3);
        Assert.Equal([("r2", "cap", 3L), ("r2", "mug", 3L), ("r1", "mug", 1L)],
            ledger.Select(e => (e.RefundId, e.SkuId, e.Quantity)).OrderByDescending(e => e.RefundId).ThenBy(e => e.SkuId));
        Assert.All(ledger, e => Assert.Equal(RestockTrigger.Auto, e.Trigger));
    }

    [Fact]
    public async Task With_the_switch_off_refunds_leave_stock_alone_and_show_as_not_restocked_until_restocked_by_hand_once()
    {
        await _t.Stock("shop-off", "tee", 5);
        await _t.PaidOrder("tee", "o2", 2);

        var status = await _t.Refund("shop-off", "o2", "r1", ("tee", 2));
        Assert.False(status.Restock);
        Assert.Equal(new StockLevels(3, 0, 0, 0, 2, 0), await _t.Levels("tee"));
        var open = await WaitFor(() => _t.Engine.Ledger.NotRestockedAsync(new LedgerQuery(ShopId: "shop-off")), p => p.Entries.Count == 1);
        Assert.Equal(("o2", "r1", "tee", 2L), (open.Entries[0].OrderId, open.Entries[0].RefundId, open.Entries[0].SkuId, open.Entries[0].Quantity));

        var manual = new RestockRefund("r1", null, null, RestockTrigger.Manual, "shop-off", "merchant:ann", DateTimeOffset.UtcNow);
        Assert.Equal(SkuOutcome.Done, (await _t.Engine.Inventory.Execute("tee", manual)).Outcome);
        var again = await _t.Engine.Inventory.Execute("tee", manual);
        Assert.Equal(SkuOutcome.AlreadyDone, again.Outcome);
        Assert.Contains("already restocked", again.Message);

        Assert.Equal(5, (await _t.Levels("tee")).Available);
        var ledger = await _t.Ledger(new LedgerQuery(SkuId: "tee"), 1);
        Assert.Equal(RestockTrigger.Manual, Assert.Single(ledger).Trigger);
        await WaitFor(() => _t.Engine.Ledger.NotRestockedAsync(new LedgerQuery(ShopId: "shop-off")), p => p.Entries.Count == 0);
    }

    [Fact]
    public async Task A_refund_completed_before_the_switch_went_on_is_not_restocked_even_if_processed_after()
    {
        await _t.Stock("shop-late", "pen", 5);
        await _t.PaidOrder("pen", "o3", 1);
        var completedBefore = DateTimeOffset.UtcNow;
        await Task.Delay(20);
        await _t.Switch("shop-late", true);

        await _t.Engine.Refunds.Submit(new RefundRequest("r1", "o3", "shop-late", [new RefundedLine("pen", 1)], completedBefore));
        var status = await _t.Finished("o3", "r1");

        Assert.False(status.Restock);
        Assert.Equal(0, status.SettingVersion);
        Assert.Equal(4, (await _t.Levels("pen")).Available);
    }

    [Fact]
    public async Task A_refund_of_a_shipped_line_is_rejected_and_recorded_while_the_other_lines_go_through()
    {
        await _t.Switch("shop-s", true);
        await _t.Stock("shop-s", "hat", 5);
        await _t.Stock("shop-s", "bag", 5);
        await _t.PaidOrder("hat", "o4", 1);
        await _t.PaidOrder("bag", "o4", 1);
        await _t.Engine.Inventory.Execute("hat", new Ship("o4"));

        var status = await _t.Refund("shop-s", "o4", "r1", ("hat", 1), ("bag", 1));

        var hat = status.Lines.Single(l => l.SkuId == "hat");
        Assert.Equal((LineOutcome.Rejected, nameof(RejectionCode.AlreadyShipped)), (hat.Outcome, hat.Code));
        Assert.Equal(LineOutcome.Applied, status.Lines.Single(l => l.SkuId == "bag").Outcome);
        Assert.Equal(new StockLevels(4, 0, 0, 1, 0, 0), await _t.Levels("hat"));
        Assert.Equal(5, (await _t.Levels("bag")).Available);
    }

    [Fact]
    public async Task The_same_refund_sent_five_times_at_once_restocks_once()
    {
        await _t.Switch("shop-d", true);
        await _t.Stock("shop-d", "cup", 10);
        await _t.PaidOrder("cup", "o5", 4);
        var refund = new RefundRequest("r1", "o5", "shop-d", [new RefundedLine("cup", 4)], DateTimeOffset.UtcNow);

        var replies = await Task.WhenAll(Enumerable.Range(0, 5).Select(_ => Task.Run(() => _t.Engine.Refunds.Submit(refund))));
        Assert.Single(replies, r => r.Outcome == RefundOutcome.Accepted);
        Assert.Equal(4, replies.Count(r => r.Outcome == RefundOutcome.AlreadyReceived));
        await _t.Finished("o5", "r1");

        Assert.Equal(new StockLevels(10, 0, 0, 0, 4, 4), await _t.Levels("cup"));
        Assert.Single(await _t.Ledger(new LedgerQuery(OrderId: "o5"), 1));
        var conflicting = await _t.Engine.Refunds.Submit(refund with { Lines = [new RefundedLine("cup", 1)] });
        Assert.Equal(RefundOutcome.Rejected, conflicting.Outcome);
    }

    [Fact]
    public async Task An_erp_restock_before_or_after_the_automatic_one_makes_one_restock_in_total()
    {
        await _t.Switch("shop-e", true);
        await _t.Stock("shop-e", "sock", 10);
        await _t.PaidOrder("sock", "before", 2);
        await _t.PaidOrder("sock", "after", 3);
        RestockRefund Erp(string refund, string order, long qty) =>
            new(refund, order, qty, RestockTrigger.Erp, "shop-e", "erp", DateTimeOffset.UtcNow);

        // The ERP reports its restock before the refund reaches the engine...
        Assert.Equal(SkuOutcome.Done, (await _t.Engine.Inventory.Execute("sock", Erp("rb", "before", 2))).Outcome);
        var status = await _t.Refund("shop-e", "before", "rb", ("sock", 2));
        Assert.Equal(LineOutcome.Applied, status.Lines[0].Outcome);
        // ...and after it.
        await _t.Refund("shop-e", "after", "ra", ("sock", 3));
        var late = await _t.Engine.Inventory.Execute("sock", Erp("ra", "after", 3));
        Assert.Equal(SkuOutcome.AlreadyDone, late.Outcome);

        Assert.Equal(new StockLevels(10, 0, 0, 0, 5, 5), await _t.Levels("sock"));
        var ledger = await _t.Ledger(new LedgerQuery(SkuId: "sock"), 2);
        Assert.Equal([("ra", RestockTrigger.Auto), ("rb", RestockTrigger.Erp)], ledger.Select(e => (e.RefundId, e.Trigger)).OrderBy(e => e.RefundId));
    }

    private static async Task<T> WaitFor<T>(Func<Task<T>> read, Func<T, bool> done)
    {
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (true)
        {
            var value = await read();
            if (done(value)) return value;
            Assert.True(DateTime.UtcNow < deadline, $"still {value}");
            await Task.Delay(100);
        }
    }
}
