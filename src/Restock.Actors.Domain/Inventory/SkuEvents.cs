namespace Restock.Actors.Domain.Inventory;

/// <summary>What happened to one SKU's stock. Stored forever: fields are only ever added, never renamed.</summary>
public abstract record SkuEvent : IRestockMessage;

public sealed record StockAdjusted(string AdjustmentId, long Delta, string Reason) : SkuEvent;

public sealed record StockReserved(string OrderId, long Quantity, DateTimeOffset PaymentDeadline) : SkuEvent;

public sealed record ReservationReleased(string OrderId, long Quantity, ReleaseReason Reason) : SkuEvent;

public sealed record PaymentConfirmed(string OrderId, long Quantity) : SkuEvent;

public sealed record LineShipped(string OrderId, long Quantity) : SkuEvent;

public sealed record LineRefunded(string RefundId, string OrderId, long Quantity, bool Restocked) : SkuEvent;

public enum ReleaseReason
{
    Cancelled = 1,
    PaymentDeadlinePassed = 2,
}
