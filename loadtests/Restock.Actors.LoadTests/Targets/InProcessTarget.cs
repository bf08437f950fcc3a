using Akka.Actor;
using Restock.Actors.Domain.Inventory;
using Restock.Actors.Domain.Refunds;
using Restock.Actors.Domain.Shops;
using Restock.Actors.Engine.Hosting;
using Restock.Actors.Engine.Inventory;
using LedgerSearch = Restock.Actors.Engine.Ledger.LedgerQuery;
using Restock.Actors.Engine.Refunds;
using Restock.Actors.Engine.Shops;

namespace Restock.Actors.LoadTests.Targets;

/// <summary>The engine started inside the runner, on a fresh SQLite file of its own.</summary>
public sealed class InProcessTarget : ITarget
{
    private readonly RestockEngine _engine;
    private readonly string _file;
    private readonly bool _keepFile;

    private InProcessTarget(RestockEngine engine, string file, bool keepFile, string describe)
    {
        _engine = engine;
        _file = file;
        _keepFile = keepFile;
        Describe = describe;
    }

    public string Describe { get; }

    public ActorSystem System => _engine.System;

    public static Task<InProcessTarget> StartAsync(string folder, params string[] overrides)
    {
        Directory.CreateDirectory(folder);
        return StartOnFileAsync(Path.Combine(folder, $"engine-{Guid.NewGuid():N}.db"), keepFile: false, overrides);
    }

    /// <summary>The engine on a given SQLite file; <paramref name="keepFile"/> leaves it in place for a restart on it.</summary>
    public static async Task<InProcessTarget> StartOnFileAsync(string file, bool keepFile, params string[] overrides)
    {
        var config = EngineFiles.Config(file, ["akka.loglevel = WARNING", .. overrides]);
        var engine = await RestockEngine.StartAsync(config);
        var batch = config.GetInt("restock.inventory.max-batch-size");
        return new InProcessTarget(engine, file, keepFile, $"in-process, SQLite WAL (synchronous FULL), max-batch-size {batch}");
    }

    public Task<OpResult> SetStock(string shop, string sku, string adjustmentId, long quantity) =>
        Sku(sku, new SetStock(adjustmentId, quantity, "load test", shop));

    public Task<OpResult> Reserve(string sku, string order, long quantity, TimeSpan paymentWindow) =>
        Sku(sku, new Reserve(order, quantity, DateTimeOffset.UtcNow + paymentWindow));

    public Task<OpResult> Pay(string sku, string order) => Sku(sku, new ConfirmPayment(order));

    public Task<OpResult> Cancel(string sku, string order) => Sku(sku, new Release(order));

    public Task<OpResult> Ship(string sku, string order) => Sku(sku, new Ship(order));

    public Task<OpResult> SetAutoRestock(string shop, bool on) => Call(async () =>
    {
        var reply = await _engine.Shops.Execute(shop, new SetAutoRestock(on, SettingOrigin.Operator, "load-runner", "load test", true, DateTimeOffset.UtcNow));
        return reply.Outcome == ShopOutcome.Rejected ? OpResult.Rejected(reply.Rejection.ToString()!) : OpResult.Done;
    });

    public Task<OpResult> Refund(string refundId, string order, string shop, string sku, long quantity) => Call(async () =>
    {
        var reply = await _engine.Refunds.Submit(new RefundRequest(refundId, order, shop, [new RefundedLine(sku, quantity)], DateTimeOffset.UtcNow));
        return reply.Outcome switch
        {
            RefundOutcome.Accepted => OpResult.Done,
            RefundOutcome.AlreadyReceived => OpResult.Repeat,
            _ => OpResult.Rejected(reply.Code ?? "Rejected"),
        };
    });

    public async Task<bool> RefundFinished(string order, string refundId) =>
        (await _engine.Refunds.Get(order, refundId)).Status?.Finished ?? false;

    public Task<OpResult> ErpRestock(string shop, string refundId, string order, string sku, long quantity) =>
        Sku(sku, new RestockRefund(refundId, order, quantity, RestockTrigger.Erp, shop, "erp", DateTimeOffset.UtcNow));

    public Task<OpResult> ManualRestock(string shop, string refundId, string sku) =>
        Sku(sku, new RestockRefund(refundId, null, null, RestockTrigger.Manual, shop, "merchant", DateTimeOffset.UtcNow));

    public Task<OpResult> LedgerQuery(string? orderId, string? skuId) => Call(async () =>
    {
        await _engine.Ledger.SearchAsync(new LedgerSearch(OrderId: orderId, SkuId: skuId, Limit: 50));
        return OpResult.Done;
    });

    public async Task<StockView?> Stock(string sku)
    {
        var reply = await _engine.Inventory.GetStock(sku);
        var l = reply.Levels;
        return reply.Succeeded ? new StockView(l.Available, l.Reserved, l.Committed, l.Shipped, l.Refunded, l.Restocked) : null;
    }

    public async Task<IReadOnlyList<LedgerRow>> Ledger(string sku)
    {
        var rows = new List<LedgerRow>();
        for (long? cursor = null; ;)
        {
            var page = await _engine.Ledger.SearchAsync(new LedgerSearch(SkuId: sku, Cursor: cursor, Limit: LedgerSearch.MaxLimit));
            rows.AddRange(page.Entries.Select(e => new LedgerRow(e.RefundId, e.SkuId, e.Quantity)));
            if ((cursor = page.NextCursor) is null) return rows;
        }
    }

    public Task<long> JournalBatches(string sku) => _engine.Inventory.GetJournalStats(sku).ContinueWith(t => t.Result.BatchesWritten);

    /// <summary>One command to a SKU: one state machine per request, no closure (the hot path of every scenario).</summary>
    private async Task<OpResult> Sku(string sku, SkuCommand command)
    {
        try
        {
            var reply = await _engine.Inventory.Execute(sku, command);
            return reply.Outcome switch
            {
                SkuOutcome.Done => OpResult.Done,
                SkuOutcome.AlreadyDone => OpResult.Repeat,
                _ => OpResult.Rejected(reply.Rejection.ToString()!),
            };
        }
        catch (Exception e)
        {
            return OpResult.Failed(e.GetType().Name);
        }
    }

    private static async Task<OpResult> Call(Func<Task<OpResult>> call)
    {
        try
        {
            return await call();
        }
        catch (Exception e)
        {
            return OpResult.Failed(e.GetType().Name);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _engine.DisposeAsync();
        if (_keepFile) Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        else EngineFiles.Delete(_file);
    }
}
