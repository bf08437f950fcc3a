namespace Restock.Actors.Domain.Inventory;

/// <summary>
/// The counters a merchant sees. Units are conserved: Available + Reserved + Committed + Shipped + Refunded = stocked + Restocked.
/// A value (stored inline in the SKU's state and in its replies): every event changes it, and as an object each change was a
/// new one referenced from a long-lived SKU, which survived the next gen-0 collection.
/// </summary>
public readonly record struct StockLevels(long Available, long Reserved, long Committed, long Shipped, long Refunded, long Restocked)
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
/// What <see cref="OpenLines"/> answers: the SKU keeps its fields in a slot and its id as bytes, not this value.
/// </summary>
public readonly record struct OrderLine(
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
/// <see cref="Owner"/> is the shop the SKU belongs to; null for a SKU never stocked, or stocked before
/// ownership existed (see <see cref="SkuOwnership"/>).
/// <para>
/// The state is owned by its one writer and changed in place: <see cref="SkuStock.Apply"/> <b>consumes</b> the state it
/// is given and returns it changed, so a hot SKU allocates nothing per open line beyond the line's id. A state must not
/// be used as "the state before" once applied to: keep what you need of it first (<see cref="Levels"/> is an immutable
/// value; a snapshot is a copy). <see cref="SkuStock.Decide"/> only reads it, through the read-only views below.
/// </para>
/// </summary>
public sealed class SkuState
{
    public static readonly TimeSpan DefaultHorizon = TimeSpan.FromHours(24);

    public static readonly TimeSpan DefaultManualRestockWindow = TimeSpan.FromDays(30);

    // Shared by every state without refunds (never written): most SKUs have none, and an empty dictionary each would add
    // to every active SKU's memory (states without open lines share OpenLines.None likewise).
    private static readonly Dictionary<string, RefundRecord> NoRefunds = new(0);

    private OpenLines? _openLines;
    private Dictionary<string, RefundRecord>? _refunds;

    private SkuState(TimeSpan horizon, TimeSpan manualRestockWindow)
    {
        Remembered = RememberedIds.Empty(horizon);
        ManualRestockWindow = manualRestockWindow;
    }

    public bool IsKnown { get; internal set; }

    public StockLevels Levels { get; internal set; } = StockLevels.Zero;

    public long Stocked { get; internal set; }

    public string? Owner { get; internal set; }

    /// <summary>Open order lines by order id (read only: reading never makes one, <see cref="SkuStock.Decide"/> must not change the state).</summary>
    public OpenLines OpenLines => _openLines ?? OpenLines.None;

    /// <summary>The payment deadlines of the unpaid lines, earliest first.</summary>
    public PaymentDeadlines PaymentDeadlines => OpenLines.Deadlines;

    public RememberedIds Remembered { get; internal set; }

    /// <summary>Refund records by refund id.</summary>
    public IReadOnlyDictionary<string, RefundRecord> Refunds => _refunds ?? NoRefunds;

    /// <summary>
    /// How long after it completed a refund applied without restock may still be restocked on request; then its
    /// record is compacted like the others. Never shorter than the horizon.
    /// </summary>
    public TimeSpan ManualRestockWindow { get; }

    /// <summary>The open lines to change, made on a SKU's first reservation: most SKUs active on a node hold no open line.</summary>
    internal OpenLines Lines => _openLines ??= new OpenLines(0);

    /// <summary>The refund records to change, made on first use.</summary>
    internal Dictionary<string, RefundRecord> RefundRecords => _refunds ??= new Dictionary<string, RefundRecord>(StringComparer.Ordinal);

    public static SkuState Empty(TimeSpan? horizon = null, TimeSpan? manualRestockWindow = null) =>
        new(horizon ?? DefaultHorizon, manualRestockWindow ?? DefaultManualRestockWindow);

    /// <summary>A state as stored (a snapshot): its payment deadlines are rebuilt from its unpaid lines.</summary>
    public static SkuState Restore(
        bool isKnown, StockLevels levels, long stocked, string? owner, IReadOnlyCollection<OrderLine> openLines,
        IReadOnlyCollection<KeyValuePair<string, RefundRecord>> refunds, RememberedIds remembered, TimeSpan manualRestockWindow)
    {
        var state = new SkuState(remembered.Horizon, manualRestockWindow)
        {
            IsKnown = isKnown, Levels = levels, Stocked = stocked, Owner = owner, Remembered = remembered,
        };
        // A snapshot's lines read back are a copy already (values and id bytes); lines made as values become one first.
        if (openLines.Count > 0) state._openLines = OpenLines.Restore(OpenLinesCopy.Of(openLines));
        if (refunds.Count > 0) state._refunds = new Dictionary<string, RefundRecord>(refunds.Count, StringComparer.Ordinal);
        foreach (var (refundId, record) in refunds) state._refunds!.Add(refundId, record);
        return state;
    }

    /// <summary>The open lines as of now (a snapshot's part; shared with the state until it writes them), in no particular order.</summary>
    public OpenLinesCopy CopyOpenLines() => OpenLines.Copy();

    /// <summary>Whether the manual-restock window of <paramref name="refund"/> has closed at <paramref name="now"/>.</summary>
    public bool RestockWindowClosed(RefundRecord refund, long nowTicks) =>
        refund.WindowFromTicks != 0 && nowTicks - refund.WindowFromTicks >= Math.Max(ManualRestockWindow.Ticks, Remembered.Horizon.Ticks);

    /// <summary>The earliest payment deadline among unpaid reservations, if any.</summary>
    public DateTimeOffset? NextPaymentDeadline() => _openLines?.Deadlines.Next;
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
