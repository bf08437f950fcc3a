using System.Collections.Concurrent;
using Restock.Actors.LoadTests.Targets;

namespace Restock.Actors.Tests.LoadSimulations;

/// <summary>
/// An engine that acknowledges every request and never refuses a reservation (so it sells beyond its stock when asked
/// to); a reservation sent again is a repeat, unless it is the one it was told to forget.
/// </summary>
internal sealed class FakeEngine : ITarget
{
    private readonly ConcurrentDictionary<string, long> _reserved = new();
    private string? _forgotten;
    private int _repeats;

    public bool ForgetOne { get; init; }

    /// <summary>How many times each set-up step (a shop's switch, a SKU's initial stock) is applied but its answer lost.</summary>
    public int LostSetUpAnswers { get; init; }

    /// <summary>Set-up stock refused as if another shop owned the SKU.</summary>
    public bool RefuseStock { get; init; }

    /// <summary>Each set-up step's calls, by shop or SKU, with the adjustment ids a SKU's stock came with.</summary>
    public ConcurrentDictionary<string, ConcurrentBag<string>> SetUpCalls { get; } = new();

    public int Repeats => _repeats;

    public ConcurrentBag<string> Paid { get; } = [];

    public ConcurrentBag<string> Refunds { get; } = [];

    public ConcurrentBag<(string RefundId, string Order, string Shop, string Sku, long Quantity)> RefundsSent { get; } = [];

    public ConcurrentDictionary<string, string> ShopOf { get; } = new();

    public long ReservedQuantity(string order) => _reserved.TryGetValue(order, out var quantity) ? quantity : 0;

    public string Describe => "fake";

    public Task<OpResult> SetStock(string shop, string sku, string adjustmentId, long quantity)
    {
        if (RefuseStock) return Task.FromResult(OpResult.Rejected("NotOwner"));
        ShopOf[sku] = shop;
        return SetUpAnswer(sku, adjustmentId);
    }

    private Task<OpResult> SetUpAnswer(string key, string call)
    {
        var calls = SetUpCalls.GetOrAdd(key, _ => []);
        calls.Add(call);
        return Task.FromResult(calls.Count <= LostSetUpAnswers ? OpResult.Failed("AskTimeoutException") : OpResult.Done);
    }

    public Task<OpResult> Reserve(string sku, string order, long quantity, TimeSpan paymentWindow)
    {
        if (_reserved.TryAdd(order, quantity))
        {
            if (ForgetOne) Interlocked.CompareExchange(ref _forgotten, order, null);
            return Task.FromResult(OpResult.Done);
        }
        if (order == _forgotten) return Task.FromResult(OpResult.Done);
        Interlocked.Increment(ref _repeats);
        return Task.FromResult(OpResult.Repeat);
    }

    public Task<OpResult> Pay(string sku, string order) => Known(order, Paid);

    public Task<OpResult> Cancel(string sku, string order) => Known(order, null);

    public Task<OpResult> Ship(string sku, string order) => Known(order, null);

    private Task<OpResult> Known(string order, ConcurrentBag<string>? log)
    {
        log?.Add(order);
        return Task.FromResult(_reserved.ContainsKey(order) ? OpResult.Done : OpResult.Rejected("UnknownOrderLine"));
    }

    public Task<OpResult> SetAutoRestock(string shop, bool on) => SetUpAnswer(shop, on ? "on" : "off");

    public Task<OpResult> Refund(string refundId, string order, string shop, string sku, long quantity)
    {
        Refunds.Add(refundId);
        RefundsSent.Add((refundId, order, shop, sku, quantity));
        return Known(order, null);
    }

    public Task<bool> RefundFinished(string order, string refundId) => Task.FromResult(true);

    public Task<OpResult> ErpRestock(string shop, string refundId, string order, string sku, long quantity) => Task.FromResult(OpResult.Done);

    public Task<OpResult> ManualRestock(string shop, string refundId, string sku) => Task.FromResult(OpResult.Done);

    public Task<OpResult> LedgerQuery(string? orderId, string? skuId) => Task.FromResult(OpResult.Done);

    public Task<StockView?> Stock(string sku) => Task.FromResult<StockView?>(new StockView(1, 0, 0, 0, 0, 0));

    public Task<IReadOnlyList<LedgerRow>> Ledger(string sku) => Task.FromResult<IReadOnlyList<LedgerRow>>([]);

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
