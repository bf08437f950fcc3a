using Restock.Actors.Domain.Inventory;
using Restock.Actors.Domain.Refunds;
using Restock.Actors.Domain.Shops;
using Restock.Actors.Engine.Hosting;
using Restock.Actors.Engine.Inventory;
using Restock.Actors.Engine.Ledger;
using Restock.Actors.Engine.Refunds;
using Restock.Actors.Engine.Shops;

namespace Restock.Actors.Tests.Support;

/// <summary>A whole engine on a journal file of its own, with the steps tests keep repeating.</summary>
public sealed class TestEngine : IAsyncDisposable
{
    private readonly TestDatabase _db;

    private TestEngine(TestDatabase db, RestockEngine engine)
    {
        _db = db;
        Engine = engine;
    }

    public RestockEngine Engine { get; }

    public TestDatabase Database => _db;

    public static DateTimeOffset InAnHour => DateTimeOffset.UtcNow.AddHours(1);

    public static async Task<TestEngine> StartAsync(params string[] overrides)
    {
        var db = new TestDatabase();
        return new TestEngine(db, await RestockEngine.StartAsync(db.Config(overrides)).Within("the engine to start"));
    }

    /// <summary>Stocks <paramref name="sku"/> as <paramref name="shop"/>, which owns it from then on.</summary>
    public async Task Stock(string shop, string sku, long quantity) =>
        Assert.True((await Engine.Inventory.Execute(sku, new SetStock($"stock-{Guid.NewGuid():N}", quantity, "test", shop))).Succeeded);

    public async Task PaidOrder(string sku, string order, long quantity)
    {
        Assert.Equal(SkuOutcome.Done, (await Engine.Inventory.Execute(sku, new Reserve(order, quantity, InAnHour))).Outcome);
        Assert.Equal(SkuOutcome.Done, (await Engine.Inventory.Execute(sku, new ConfirmPayment(order))).Outcome);
    }

    public async Task Switch(string shop, bool on)
    {
        var reply = await Engine.Shops.Execute(shop, new SetAutoRestock(on, SettingOrigin.Merchant, "merchant:test", "test", false, DateTimeOffset.UtcNow));
        Assert.NotEqual(ShopOutcome.Rejected, reply.Outcome);
    }

    public async Task<StockLevels> Levels(string sku) => (await Engine.Inventory.GetStock(sku)).Levels;

    /// <summary>Submits a refund completed now and waits until every line has its answer.</summary>
    public async Task<RefundStatus> Refund(string shop, string order, string refundId, params (string Sku, long Quantity)[] lines)
    {
        var refund = new RefundRequest(refundId, order, shop, lines.Select(l => new RefundedLine(l.Sku, l.Quantity)).ToList(), DateTimeOffset.UtcNow);
        var reply = await Engine.Refunds.Submit(refund);
        Assert.True(reply.Outcome is RefundOutcome.Accepted or RefundOutcome.AlreadyReceived, reply.Message);
        return await Finished(order, refundId);
    }

    public Task<RefundStatus> Finished(string order, string refundId) => WaitForRefund(order, refundId, s => s.Finished);

    /// <summary>Waits until every line has an outcome: applied, refused for good, or parked as needing attention.</summary>
    public Task<RefundStatus> Answered(string order, string refundId) =>
        WaitForRefund(order, refundId, s => s.Restock is not null && s.Lines.All(l => l.Outcome is not null));

    private async Task<RefundStatus> WaitForRefund(string order, string refundId, Func<RefundStatus, bool> done)
    {
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (true)
        {
            var status = (await Engine.Refunds.Get(order, refundId)).Status!;
            if (done(status)) return status;
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"refund {refundId} did not finish: {status}");
            await Task.Delay(50);
        }
    }

    /// <summary>Waits until the ledger's projection has caught up with <paramref name="expected"/> restocks of the query.</summary>
    public async Task<IReadOnlyList<RestockEntry>> Ledger(LedgerQuery query, int expected)
    {
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (true)
        {
            var entries = await AllPages(query);
            if (entries.Count >= expected || DateTime.UtcNow > deadline) return entries;
            await Task.Delay(100);
        }
    }

    public async Task<IReadOnlyList<RestockEntry>> AllPages(LedgerQuery query)
    {
        var all = new List<RestockEntry>();
        for (long? cursor = null; ;)
        {
            var page = await Engine.Ledger.SearchAsync(query with { Cursor = cursor });
            all.AddRange(page.Entries);
            if (page.NextCursor is null) return all;
            cursor = page.NextCursor;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await Engine.DisposeAsync();
        _db.Dispose();
    }
}
