using System.Collections.Immutable;

namespace Restock.Actors.Domain.Inventory;

/// <summary>The counters a merchant sees. Units are conserved: Available + Reserved + Committed + Shipped + Refunded = stocked + Restocked.</summary>
public sealed record StockLevels(long Available, long Reserved, long Committed, long Shipped, long Refunded, long Restocked)
{
    public static readonly StockLevels Zero = new(0, 0, 0, 0, 0, 0);
}

public enum LineStatus
{
    Reserved = 1,
    Committed = 2,
}

/// <summary>
/// An order line still holding units: <paramref name="Held"/> is what is left after partial refunds, of which
/// <paramref name="RestockedAhead"/> units were already put back by the ERP for refunds that have not arrived yet.
/// </summary>
public sealed record OrderLine(
    string OrderId, long Ordered, long Held, LineStatus Status, DateTimeOffset PaymentDeadline, long RestockedAhead = 0);

/// <summary>
/// A refund line this SKU knows: applied (units left the order line) and/or restocked. An ERP restock can
/// arrive before the refund itself: then it is restocked but not yet applied. <paramref name="RestockedUnits"/>
/// is what went back on sale when it differs from <paramref name="Quantity"/> (an ERP that reported another
/// quantity than the refund that followed); null means the refund's quantity. <paramref name="ChangedAtTicks"/>
/// is the SKU's clock at its last change, from which the horizon counts. <paramref name="RefundedAtTicks"/> is when
/// the refund completed (at most when the SKU applied it), from which the manual-restock window counts (0: recorded
/// before the window existed). <paramref name="ErpOrderId"/> is the order an ERP restock named when the refund then
/// applied to another one. <paramref name="Refused"/>: the refund was refused for good after the ERP restocked it
/// ahead, so it no longer holds the order line the ERP named.
/// </summary>
public sealed record RefundRecord(
    string OrderId, long Quantity, bool Applied, RestockTrigger? RestockedBy, long SettingVersion,
    long? RestockedUnits = null, long ChangedAtTicks = 0, long RefundedAtTicks = 0, string? ErpOrderId = null, bool Refused = false)
{
    public bool Restocked => RestockedBy is not null;

    public long UnitsBack => RestockedBy is null ? 0 : RestockedUnits ?? Quantity;

    /// <summary>Units of its order line an ERP restock reported ahead of this refund still holds back.</summary>
    public long HoldsAhead => Applied || Refused ? 0 : Quantity;

    /// <summary>Ticks from which the manual-restock window counts: for a record from before the window, its last change (0: not yet known).</summary>
    public long WindowFromTicks => RefundedAtTicks != 0 ? RefundedAtTicks : ChangedAtTicks;
}

/// <summary>
/// One SKU's decision state: counters, open order lines (with their payment deadlines indexed), the finished
/// ids remembered to recognise repeats, and the refunds still needed to keep a refund from restocking twice.
/// <paramref name="Owner"/> is the shop the SKU belongs to; null for a SKU never stocked, or stocked before
/// ownership existed (see <see cref="SkuOwnership"/>).
/// </summary>
public sealed record SkuState(
    bool IsKnown,
    StockLevels Levels,
    long Stocked,
    ImmutableDictionary<string, OrderLine> OpenLines,
    ImmutableSortedSet<PaymentDue> PaymentDeadlines,
    RememberedIds Remembered,
    ImmutableDictionary<string, RefundRecord> Refunds,
    string? Owner = null)
{
    public static readonly TimeSpan DefaultHorizon = TimeSpan.FromHours(24);

    public static readonly TimeSpan DefaultManualRestockWindow = TimeSpan.FromDays(30);

    /// <summary>
    /// How long after it completed a refund applied without restock may still be restocked on request; then its
    /// record is compacted like the others. Never shorter than the horizon.
    /// </summary>
    public TimeSpan ManualRestockWindow { get; init; } = DefaultManualRestockWindow;

    public static SkuState Empty(TimeSpan? horizon = null, TimeSpan? manualRestockWindow = null) => new(
        false,
        StockLevels.Zero,
        0,
        ImmutableDictionary<string, OrderLine>.Empty,
        ImmutableSortedSet.Create(PaymentDue.Order),
        RememberedIds.Empty(horizon ?? DefaultHorizon),
        ImmutableDictionary<string, RefundRecord>.Empty)
    {
        ManualRestockWindow = manualRestockWindow ?? DefaultManualRestockWindow,
    };

    /// <summary>Whether the manual-restock window of <paramref name="refund"/> has closed at <paramref name="now"/>.</summary>
    public bool RestockWindowClosed(RefundRecord refund, long nowTicks) =>
        refund.WindowFromTicks != 0 && nowTicks - refund.WindowFromTicks >= Math.Max(ManualRestockWindow.Ticks, Remembered.Horizon.Ticks);

    /// <summary>The earliest payment deadline among unpaid reservations, if any.</summary>
    public DateTimeOffset? NextPaymentDeadline() => PaymentDeadlines.Count == 0 ? null : PaymentDeadlines.Min.Deadline;
}

/// <summary>An unpaid reservation's deadline, ordered by deadline then order id so expiry is deterministic.</summary>
public readonly record struct PaymentDue(DateTimeOffset Deadline, string OrderId)
{
    public static readonly IComparer<PaymentDue> Order = Comparer<PaymentDue>.Create((a, b) =>
    {
        var byDeadline = a.Deadline.CompareTo(b.Deadline);
        return byDeadline != 0 ? byDeadline : string.CompareOrdinal(a.OrderId, b.OrderId);
    });
}
