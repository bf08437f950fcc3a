namespace Restock.Actors.Domain.Inventory;

/// <summary>What happened to one SKU's stock. Stored forever: fields are only ever added, never renamed.</summary>
public abstract record SkuEvent : IRestockMessage;

// `At` is when the SKU decided (its actor's clock); events stored before it existed have none.

/// <summary>
/// Available stock moved by <paramref name="Delta"/>. <paramref name="SetTo"/> is the quantity a set-stock asked
/// for (null for an adjustment by delta); an event without <paramref name="At"/> predates both and could be either.
/// </summary>
public sealed record StockAdjusted(string AdjustmentId, long Delta, string Reason, DateTimeOffset? At = null, long? SetTo = null) : SkuEvent;

/// <summary>The SKU belongs to <paramref name="ShopId"/> from now on: written once, with the SKU's first stock command.</summary>
public sealed record SkuOwnerRecorded(string ShopId) : SkuEvent;

public sealed record StockReserved(string OrderId, long Quantity, DateTimeOffset PaymentDeadline, DateTimeOffset? At = null) : SkuEvent;

public sealed record ReservationReleased(string OrderId, long Quantity, ReleaseReason Reason, DateTimeOffset? At = null) : SkuEvent;

public sealed record PaymentConfirmed(string OrderId, long Quantity, DateTimeOffset? At = null) : SkuEvent;

public sealed record LineShipped(string OrderId, long Quantity, DateTimeOffset? At = null) : SkuEvent;

/// <summary>
/// Paid units left an order line before shipment. The restock ledger is built from this and <see cref="RefundRestocked"/>.
/// <paramref name="At"/> is when the refund completed (the caller's time); <paramref name="Recorded"/> the SKU's clock.
/// </summary>
public sealed record LineRefunded(
    string RefundId, string OrderId, string ShopId, long Quantity, RefundRestock Restock, long SettingVersion,
    long AvailableAfter, DateTimeOffset At, DateTimeOffset? Recorded = null) : SkuEvent, ILedgerEvent;

/// <summary>A refunded line went back on sale on request (merchant or ERP), not by the automatic switch.</summary>
public sealed record RefundRestocked(
    string RefundId, string OrderId, string ShopId, long Quantity, RestockTrigger Trigger, string Actor, long SettingVersion,
    long AvailableAfter, DateTimeOffset At, DateTimeOffset? Recorded = null) : SkuEvent, ILedgerEvent;

/// <summary>
/// Refund <paramref name="RefundId"/> was refused for good on this SKU (<paramref name="Refusal"/>) after the ERP had
/// restocked it ahead against order <paramref name="OrderId"/>: that line is no longer held back for it. The
/// <paramref name="Quantity"/> units the ERP put back stay on sale, counted once.
/// </summary>
public sealed record ErpRestockReleased(string RefundId, string OrderId, long Quantity, RejectionCode Refusal, DateTimeOffset? At = null) : SkuEvent;

/// <summary>An event the restock ledger reads; the engine tags these when it stores them.</summary>
public interface ILedgerEvent
{
    public const string Tag = "restock";
}

public enum RefundRestock
{
    /// <summary>The switch was off: the refund shows as "not restocked" until someone restocks it by hand.</summary>
    NotRestocked = 0,

    Restocked = 1,

    /// <summary>The switch was on but the line had already been restocked (by the ERP): not again.</summary>
    RestockedEarlier = 2,
}

public enum ReleaseReason
{
    Cancelled = 1,
    PaymentDeadlinePassed = 2,
}
