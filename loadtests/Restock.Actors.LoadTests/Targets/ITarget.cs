namespace Restock.Actors.LoadTests.Targets;

/// <summary>What one request came to: ok (possibly a harmless repeat), refused for a business reason, or failed.</summary>
public readonly record struct OpResult(OpStatus Status, string? Reason = null)
{
    public static readonly OpResult Done = new(OpStatus.Ok);
    public static readonly OpResult Repeat = new(OpStatus.Repeat);

    public bool Ok => Status is OpStatus.Ok or OpStatus.Repeat;

    public static OpResult Rejected(string reason) => new(OpStatus.Rejected, reason);

    public static OpResult Failed(string reason) => new(OpStatus.Failed, reason);
}

public enum OpStatus
{
    Ok,
    Repeat,
    Rejected,
    Failed,
}

public sealed record StockView(long Available, long Reserved, long Committed, long Shipped, long Refunded, long Restocked);

public sealed record LedgerRow(string RefundId, string SkuId, long Quantity);

/// <summary>The engine as the load runner sees it: in this process, or a service over HTTP.</summary>
public interface ITarget : IAsyncDisposable
{
    string Describe { get; }

    /// <summary>Stocks a SKU as <paramref name="shop"/>, which becomes its owner on the first stock.</summary>
    Task<OpResult> SetStock(string shop, string sku, string adjustmentId, long quantity);

    Task<OpResult> Reserve(string sku, string order, long quantity, TimeSpan paymentWindow);

    Task<OpResult> Pay(string sku, string order);

    Task<OpResult> Cancel(string sku, string order);

    Task<OpResult> Ship(string sku, string order);

    Task<OpResult> SetAutoRestock(string shop, bool on);

    Task<OpResult> Refund(string refundId, string order, string shop, string sku, long quantity);

    Task<bool> RefundFinished(string order, string refundId);

    Task<OpResult> ErpRestock(string shop, string refundId, string order, string sku, long quantity);

    Task<OpResult> ManualRestock(string shop, string refundId, string sku);

    Task<OpResult> LedgerQuery(string? orderId, string? skuId);

    Task<StockView?> Stock(string sku);

    Task<IReadOnlyList<LedgerRow>> Ledger(string sku);
}
