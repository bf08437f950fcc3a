using Restock.Actors.Domain.Inventory;
using Restock.Actors.Domain.Refunds;
using Restock.Actors.Engine.Inventory;
using Restock.Actors.Engine.Ledger;
using Restock.Actors.Tests.Support;

namespace Restock.Actors.Tests.Refunds;

/// <summary>
/// The manual-restock window and ERP holds end to end (coordinator, SKU, ledger): what the merchant is offered, what a
/// late restock is told, and that a refund refused for good leaves no line stuck.
/// </summary>
public sealed class ManualRestockWindowTests
{
    private static RestockRefund Manual(string refundId) =>
        new(refundId, null, null, RestockTrigger.Manual, "shop", "merchant:ann", DateTimeOffset.UtcNow);

    private static async Task<T> Eventually<T>(Func<Task<T>> read, Func<T, bool> done)
    {
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (true)
        {
            var value = await read();
            if (done(value) || DateTime.UtcNow > deadline) return value;
            await Task.Delay(100);
        }
    }

    [Fact]
    public async Task A_refund_past_its_window_is_not_offered_and_its_restock_is_refused_before_and_after_the_sku_forgets_it()
    {
        // A window of seconds stands in for 30 days; the horizon (which the window may not undercut) is shorter still.
        await using var t = await TestEngine.StartAsync("restock.inventory.remember-ids-for = 1s", "restock.inventory.manual-restock-window = 3s");
        await t.Stock("shop", "kettle", 10);
        await t.PaidOrder("kettle", "o-old", 1);
        await t.PaidOrder("kettle", "o-new", 1);

        // Completed a minute ago (the refund overtook nothing; it was just reported late): its window has closed already.
        var old = new RefundRequest("r-old", "o-old", "shop", [new RefundedLine("kettle", 1)], DateTimeOffset.UtcNow.AddMinutes(-1));
        await t.Engine.Refunds.Submit(old);
        await t.Finished("o-old", "r-old");
        await t.Refund("shop", "o-new", "r-new", ("kettle", 1));
        var levels = await t.Levels("kettle");

        var offered = await Eventually(() => t.Engine.Ledger.NotRestockedAsync(new LedgerQuery(ShopId: "shop")), p => p.Entries.Count > 0);
        Assert.Equal(["r-new"], offered.Entries.Select(e => e.RefundId));
        Assert.True(await Eventually(() => t.Engine.Ledger.ListedAsNotRestockedAsync("r-old", "kettle"), listed => listed));
        var refused = await t.Engine.Inventory.Execute("kettle", Manual("r-old"));
        Assert.Equal(RejectionCode.RestockWindowClosed, refused.Rejection);
        Assert.Contains("stock adjustment", refused.Message);

        // Past both windows and the horizon, the SKU's next change compacts both records (their lines closed with the refund).
        await Task.Delay(TimeSpan.FromSeconds(3.5));
        Assert.Empty((await t.Engine.Ledger.NotRestockedAsync(new LedgerQuery(ShopId: "shop"))).Entries);
        await t.Engine.Inventory.Execute("kettle", new AdjustStock("found-one", 1, "count", "shop"));
        foreach (var refundId in new[] { "r-old", "r-new" })
        {
            // The SKU keeps nothing of them; the ledger still lists them as refunded, never restocked (the HTTP API
            // answers RestockWindowClosed from the two together).
            Assert.Equal(RejectionCode.UnknownRefund, (await t.Engine.Inventory.Execute("kettle", Manual(refundId))).Rejection);
            Assert.True(await t.Engine.Ledger.ListedAsNotRestockedAsync(refundId, "kettle"));
        }
        Assert.Equal(levels with { Available = levels.Available + 1 }, await t.Levels("kettle"));
    }

    [Fact]
    public async Task A_refund_refused_for_good_after_an_erp_restock_on_another_order_leaves_that_order_free_to_ship()
    {
        await using var t = await TestEngine.StartAsync();
        await t.Stock("shop", "lamp", 10);
        await t.PaidOrder("lamp", "o1", 3);
        await t.PaidOrder("lamp", "o2", 2);
        Assert.Equal(SkuOutcome.Done, (await t.Engine.Inventory.Execute("lamp", new Ship("o2"))).Outcome);
        // The ERP reports its restock of r1 against o1, but r1 is a refund of o2, which has shipped.
        Assert.Equal(SkuOutcome.Done, (await t.Engine.Inventory.Execute("lamp",
            new RestockRefund("r1", "o1", 2, RestockTrigger.Erp, "shop", "erp", DateTimeOffset.UtcNow))).Outcome);
        Assert.Equal(RejectionCode.RefundPending, (await t.Engine.Inventory.Execute("lamp", new Ship("o1"))).Rejection);

        var status = await t.Refund("shop", "o2", "r1", ("lamp", 2));
        var line = Assert.Single(status.Lines);
        Assert.Equal((LineOutcome.Rejected, nameof(RejectionCode.AlreadyShipped)), (line.Outcome, line.Code));

        Assert.Equal(SkuOutcome.Done, (await t.Engine.Inventory.Execute("lamp", new Ship("o1"))).Outcome);
        // The 2 units the ERP put back stay on sale, once; everything sold shipped.
        Assert.Equal(new StockLevels(Available: 7, Reserved: 0, Committed: 0, Shipped: 5, Refunded: 0, Restocked: 2), await t.Levels("lamp"));
        Assert.Equal(SkuOutcome.AlreadyDone, (await t.Engine.Inventory.Execute("lamp",
            new RestockRefund("r1", "o1", 2, RestockTrigger.Erp, "shop", "erp", DateTimeOffset.UtcNow))).Outcome);
    }
}
