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

public enum LineClosure
{
    Released = 1,
    Shipped = 2,
    Refunded = 3,
}

/// <summary>What is remembered of a finished order line: enough to answer a late retry with the first outcome.</summary>
public sealed record ClosedLine(long Ordered, LineClosure Closure);

/// <summary>
/// A refund line this SKU knows: applied (units left the order line) and/or restocked. An ERP restock can
/// arrive before the refund itself: then it is restocked but not yet applied.
/// </summary>
public sealed record RefundRecord(string OrderId, long Quantity, bool Applied, RestockTrigger? RestockedBy, long SettingVersion)
{
    public bool Restocked => RestockedBy is not null;
}

/// <summary>
/// One SKU's decision state: counters, open order lines, and the ids needed to recognise repeats.
/// Finished lines and adjustments are kept in bounded windows (history lives in the journal);
/// refunds are kept for good, because a refund must never restock twice however late it repeats.
/// <paramref name="Owner"/> is the shop the SKU belongs to; null for a SKU never stocked, or stocked before
/// ownership existed (see <see cref="SkuOwnership"/>).
/// </summary>
public sealed record SkuState(
    bool IsKnown,
    StockLevels Levels,
    long Stocked,
    ImmutableDictionary<string, OrderLine> OpenLines,
    RecentWindow<ClosedLine> ClosedLines,
    RecentWindow<long> Adjustments,
    ImmutableDictionary<string, RefundRecord> Refunds,
    string? Owner = null)
{
    public const int DefaultRemembered = 10_000;

    public static SkuState Empty(int remembered = DefaultRemembered) => new(
        false,
        StockLevels.Zero,
        0,
        ImmutableDictionary<string, OrderLine>.Empty,
        RecentWindow<ClosedLine>.Empty(remembered),
        RecentWindow<long>.Empty(remembered),
        ImmutableDictionary<string, RefundRecord>.Empty);

    /// <summary>The earliest payment deadline among unpaid reservations, if any.</summary>
    public DateTimeOffset? NextPaymentDeadline()
    {
        DateTimeOffset? next = null;
        foreach (var line in OpenLines.Values)
        {
            if (line.Status == LineStatus.Reserved && (next is null || line.PaymentDeadline < next))
                next = line.PaymentDeadline;
        }
        return next;
    }
}

/// <summary>The most recent <see cref="Capacity"/> entries by insertion; the oldest leaves first.</summary>
public sealed record RecentWindow<T>(int Capacity, ImmutableDictionary<string, T> Items, ImmutableQueue<string> Order)
{
    public static RecentWindow<T> Empty(int capacity) =>
        new(capacity, ImmutableDictionary<string, T>.Empty, ImmutableQueue<string>.Empty);

    public bool TryGet(string key, out T value) => Items.TryGetValue(key, out value!);

    public RecentWindow<T> Add(string key, T value)
    {
        if (Items.ContainsKey(key))
            return this with { Items = Items.SetItem(key, value) };
        var items = Items.Add(key, value);
        var order = Order.Enqueue(key);
        while (items.Count > Capacity)
        {
            order = order.Dequeue(out var oldest);
            items = items.Remove(oldest);
        }
        return this with { Items = items, Order = order };
    }
}
