using Restock.Actors.Domain.Refunds;

namespace Restock.Actors.Domain.Inventory;

/// <summary>The rules of one SKU's stock: pure functions, no clock, no I/O.</summary>
public static class SkuStock
{
    /// <summary>No single command may move more units than this: anything larger is a typo or an attack.</summary>
    public const long MaxQuantity = 1_000_000_000;

    /// <summary>
    /// Decides <paramref name="command"/> against <paramref name="state"/> (read only). The SKU's time for it is the
    /// command's <see cref="SkuCommand.ReceivedAt"/>, else <paramref name="receivedAt"/> (when its actor received it: no
    /// copy of the command), else the latest time the SKU has seen.
    /// </summary>
    public static Decision Decide(SkuState state, SkuCommand command, DateTimeOffset? receivedAt = null) =>
        Decide(state, command, command.ReceivedAt ?? receivedAt ?? state.Remembered.Clock);

    private static Decision Decide(SkuState state, SkuCommand command, DateTimeOffset now) => command switch
    {
        SetStock c => SkuOwnership.RefuseStock(state, c.ShopId, c.ByOperator) ?? SkuOwnership.ClaimOnFirstStock(state, c.ShopId, DecideSet(state, c, now)),
        AdjustStock c => SkuOwnership.RefuseStock(state, c.ShopId, c.ByOperator) ?? SkuOwnership.ClaimOnFirstStock(state, c.ShopId, DecideAdjust(state, c, now)),
        Reserve c => DecideReserve(state, c, now),
        Release c => DecideRelease(state, c, now),
        ExpireReservations c => DecideExpire(state, c, now),
        ConfirmPayment c => DecideConfirm(state, c, now),
        Ship c => DecideShip(state, c, now),
        RefundLine c => SkuOwnership.RefuseRefund(state, c.ShopId) ?? DecideRefund(state, c, now),
        RestockRefund c => SkuOwnership.RefuseRestock(state, c.ShopId) ?? DecideRestock(state, c, now),
        _ => throw new ArgumentOutOfRangeException(nameof(command), command.GetType().Name, "unknown SKU command"),
    };

    /// <summary>
    /// Applies <paramref name="event"/> to <paramref name="state"/> in place and returns it: the state given is consumed
    /// (see <see cref="SkuState"/>), never to be used as the state before the event.
    /// </summary>
    public static SkuState Apply(SkuState state, SkuEvent @event)
    {
        state.Remembered = state.Remembered.Tick(TimeOf(@event));
        ApplyEvent(state, @event);
        Forget(state);
        return state;
    }

    /// <summary>Applies each event in order, in place (see <see cref="Apply"/>).</summary>
    public static SkuState ApplyAll(SkuState state, IEnumerable<SkuEvent> events)
    {
        foreach (var e in events) Apply(state, e);
        return state;
    }

    private static DateTimeOffset? TimeOf(SkuEvent @event) => @event switch
    {
        StockAdjusted e => e.At,
        StockReserved e => e.At,
        ReservationReleased e => e.At,
        PaymentConfirmed e => e.At,
        LineShipped e => e.At,
        LineRefunded e => e.Recorded,
        RefundRestocked e => e.Recorded,
        ErpRestockReleased e => e.At,
        _ => null,
    };

    private static void ApplyEvent(SkuState state, SkuEvent @event)
    {
        var l = state.Levels;
        switch (@event)
        {
            case SkuOwnerRecorded e:
                state.Owner = e.ShopId;
                return;
            case StockAdjusted e:
                state.IsKnown = true;
                state.Levels = l with { Available = l.Available + e.Delta };
                state.Stocked += e.Delta;
                state.Remembered = e.SetTo is { } setTo ? state.Remembered.Adjustment(e.AdjustmentId, Finish.StockSet, setTo)
                    : state.Remembered.Adjustment(e.AdjustmentId, e.At is null ? Finish.StockChanged : Finish.StockAdjusted, e.Delta);
                return;
            case StockReserved e:
                state.Levels = l with { Available = l.Available - e.Quantity, Reserved = l.Reserved + e.Quantity };
                state.Lines.Add(new OrderLine(e.OrderId, e.Quantity, e.Quantity, LineStatus.Reserved, e.PaymentDeadline));
                return;
            case ReservationReleased e:
                Close(state, e.OrderId, Finish.LineReleased);
                state.Levels = l with { Available = l.Available + e.Quantity, Reserved = l.Reserved - e.Quantity };
                return;
            case PaymentConfirmed e:
            {
                var lines = state.Lines;
                lines.Set(e.OrderId, lines[e.OrderId] with { Status = LineStatus.Committed });
                state.Levels = l with { Reserved = l.Reserved - e.Quantity, Committed = l.Committed + e.Quantity };
                return;
            }
            case LineShipped e:
                Close(state, e.OrderId, Finish.LineShipped);
                state.Levels = l with { Committed = l.Committed - e.Quantity, Shipped = l.Shipped + e.Quantity };
                return;
            case LineRefunded e:
            {
                var (lines, refunds) = (state.Lines, state.RefundRecords);
                var line = lines[e.OrderId];
                var restocked = e.Restock == RefundRestock.Restocked ? e.Quantity : 0;
                var ahead = refunds.TryGetValue(e.RefundId, out var early) ? early : null;
                if (line.Held == e.Quantity)
                    Close(state, e.OrderId, Finish.LineRefunded);
                else
                    lines.Set(e.OrderId, line with
                    {
                        Held = line.Held - e.Quantity,
                        // The ERP's early restock no longer holds the line back, whatever quantity the refund names.
                        RestockedAhead = line.RestockedAhead - AheadOn(ahead, e.OrderId),
                    });
                // An ERP that named another order for this refund held that order's line back: the refund decides
                // which line it is, so that line is freed (it stays open while held back, see DecideShip).
                if (ahead is { HoldsAhead: > 0 } && ahead.OrderId != e.OrderId && lines.TryGetValue(ahead.OrderId, out var named))
                    lines.Set(ahead.OrderId, named with { RestockedAhead = named.RestockedAhead - ahead.HoldsAhead });
                state.Levels = l with
                {
                    Committed = l.Committed - e.Quantity,
                    Refunded = l.Refunded + e.Quantity,
                    Available = l.Available + restocked,
                    Restocked = l.Restocked + restocked,
                };
                var clock = state.Remembered.Clock.UtcTicks;
                refunds[e.RefundId] = new RefundRecord(e.OrderId, e.Quantity, Applied: true,
                    ahead?.RestockedBy ?? (restocked > 0 ? RestockTrigger.Auto : null), e.SettingVersion,
                    ahead is not null && ahead.Quantity != e.Quantity ? ahead.Quantity : null, clock,
                    Math.Min(e.At.UtcTicks, clock),
                    ahead is not null && ahead.OrderId != e.OrderId ? ahead.OrderId : null);
                state.Remembered = state.Remembered.Refund(e.RefundId);
                return;
            }
            case RefundRestocked e:
            {
                var (lines, refunds) = (state.Lines, state.RefundRecords);
                var now = state.Remembered.Clock.UtcTicks;
                state.Levels = l with { Available = l.Available + e.Quantity, Restocked = l.Restocked + e.Quantity };
                if (refunds.TryGetValue(e.RefundId, out var record))
                    refunds[e.RefundId] = record with { RestockedBy = e.Trigger, ChangedAtTicks = now };
                else
                {
                    // The ERP restocked ahead of the refund: the line is held back for it.
                    var line = lines[e.OrderId];
                    lines.Set(e.OrderId, line with { RestockedAhead = line.RestockedAhead + e.Quantity });
                    refunds[e.RefundId] = new RefundRecord(e.OrderId, e.Quantity, Applied: false, e.Trigger, e.SettingVersion, ChangedAtTicks: now);
                }
                state.Remembered = state.Remembered.Refund(e.RefundId);
                return;
            }
            case ErpRestockReleased e:
            {
                var (lines, refunds) = (state.Lines, state.RefundRecords);
                var line = lines[e.OrderId];
                lines.Set(e.OrderId, line with { RestockedAhead = line.RestockedAhead - e.Quantity });
                refunds[e.RefundId] = refunds[e.RefundId] with { Refused = true, ChangedAtTicks = state.Remembered.Clock.UtcTicks };
                state.Remembered = state.Remembered.Refund(e.RefundId);
                return;
            }
            default:
                throw new ArgumentOutOfRangeException(nameof(@event), @event.GetType().Name, "unknown SKU event");
        }
    }

    private static void Close(SkuState state, string orderId, Finish finish)
    {
        state.Lines.Remove(orderId, out var line);
        state.Remembered = state.Remembered.Line(orderId, finish, line.Ordered);
    }

    /// <summary>
    /// Forgets what is older than the horizon. A refund record goes only once nothing can restock it again, which
    /// needs its order lines closed (refunds and ERP restocks need an open, paid line, a manual restock the record):
    /// restocked (or refused after the ERP's restock), or applied without restock and past its manual-restock window.
    /// An ERP restock still waiting for its refund stays (its line is held back for it). Ids stored before times were
    /// recorded start their horizon at the first time seen.
    /// </summary>
    private static void Forget(SkuState state)
    {
        var r = state.Remembered;
        var cutoff = r.Clock.UtcTicks - r.Horizon.Ticks;
        if (r.OldestAtTicks is not { } oldest || oldest >= cutoff) return;
        // A static function with the state passed along: a lambda capturing it cost a closure on every event applied.
        state.Remembered = r.Forget(cutoff, r.Clock.UtcTicks, state, static (state, refundId) => KeepRefund(state, refundId));
    }

    /// <summary>Whether a refund record queued before the horizon stays (queued again from now), or goes.</summary>
    private static bool KeepRefund(SkuState state, string refundId)
    {
        var now = state.Remembered.Clock.UtcTicks;
        var cutoff = now - state.Remembered.Horizon.Ticks;
        var refunds = state.RefundRecords;
        // A record changed since this entry was queued has a later entry of its own.
        if (!refunds.TryGetValue(refundId, out var refund) || refund.ChangedAtTicks >= cutoff) return false;
        if (refund.ChangedAtTicks != 0 && Compactable(state, refund, now))
        {
            refunds.Remove(refundId);
            return false;
        }
        refunds[refundId] = refund with
        {
            ChangedAtTicks = now,
            // The window of a record from before it existed starts when it is first looked at, once.
            RefundedAtTicks = refund.WindowFromTicks != 0 ? refund.WindowFromTicks : now,
        };
        return true;
    }

    private static bool Compactable(SkuState state, RefundRecord refund, long now) =>
        !state.OpenLines.ContainsKey(refund.OrderId)
        && (refund.ErpOrderId is null || !state.OpenLines.ContainsKey(refund.ErpOrderId))
        && (refund.Applied ? refund.Restocked || state.RestockWindowClosed(refund, now) : refund.Refused);

    private static Decision DecideSet(SkuState state, SetStock c, DateTimeOffset now)
    {
        if (InvalidId(c.AdjustmentId, "adjustment id") is { } bad) return bad;
        if (c.Quantity < 0 || c.Quantity > MaxQuantity)
            return Reject(RejectionCode.InvalidQuantity, $"quantity must be between 0 and {MaxQuantity}");
        if (state.Remembered.Adjustments.TryGetValue(c.AdjustmentId, out var first))
            return first.Finish == Finish.StockChanged || (first.Finish == Finish.StockSet && first.Amount == c.Quantity)
                ? Accepted.AlreadyDone
                : ConflictingAdjustment(c.AdjustmentId, first);
        var delta = c.Quantity - state.Levels.Available;
        return One(new StockAdjusted(c.AdjustmentId, delta, c.Reason, now, SetTo: c.Quantity));
    }

    private static Decision DecideAdjust(SkuState state, AdjustStock c, DateTimeOffset now)
    {
        if (InvalidId(c.AdjustmentId, "adjustment id") is { } bad) return bad;
        if (c.Delta == 0 || Math.Abs(c.Delta) > MaxQuantity)
            return Reject(RejectionCode.InvalidQuantity, $"delta must be non-zero and at most {MaxQuantity} either way");
        if (state.Remembered.Adjustments.TryGetValue(c.AdjustmentId, out var first))
            return first.Finish is Finish.StockAdjusted or Finish.StockChanged && first.Amount == c.Delta
                ? Accepted.AlreadyDone
                : ConflictingAdjustment(c.AdjustmentId, first);
        var after = state.Levels.Available + c.Delta;
        if (after < 0)
            return Reject(RejectionCode.NegativeStock, $"only {state.Levels.Available} available; cannot remove {-c.Delta}");
        if (after > MaxQuantity)
            return Reject(RejectionCode.InvalidQuantity, $"available stock would exceed {MaxQuantity}");
        return One(new StockAdjusted(c.AdjustmentId, c.Delta, c.Reason, now));
    }

    private static Rejected ConflictingAdjustment(string adjustmentId, Fingerprint first) => Reject(RejectionCode.ConflictingRepeat,
        first.Finish == Finish.StockSet
            ? $"adjustment {adjustmentId} already set the stock to {first.Amount}"
            : $"adjustment {adjustmentId} already moved the stock by {first.Amount}");

    private static Decision DecideReserve(SkuState state, Reserve c, DateTimeOffset now)
    {
        if (InvalidId(c.OrderId, "order id") is { } bad) return bad;
        if (InvalidQuantity(c.Quantity) is { } badQty) return badQty;
        if (state.OpenLines.TryGetValue(c.OrderId, out var open))
            return open.Ordered == c.Quantity ? Accepted.AlreadyDone
                : Reject(RejectionCode.ConflictingRepeat, $"order {c.OrderId} already reserved {open.Ordered} units");
        if (state.Remembered.Lines.TryGetValue(c.OrderId, out var closed))
            return closed.Amount != c.Quantity
                ? Reject(RejectionCode.ConflictingRepeat, $"order {c.OrderId} already reserved {closed.Amount} units")
                : closed.Finish switch
                {
                    Finish.LineReleased => Reject(RejectionCode.ReservationReleased,
                        $"order {c.OrderId} was reserved, then released (cancelled or not paid in time): its units are on sale again"),
                    Finish.LineShipped => new Accepted([], $"order {c.OrderId} was reserved and has since shipped"),
                    _ => new Accepted([], $"order {c.OrderId} was reserved and has since been refunded"),
                };
        if (!state.IsKnown) return Reject(RejectionCode.UnknownSku, "this SKU has never been stocked");
        if (c.Quantity > state.Levels.Available)
            return Reject(RejectionCode.OutOfStock, $"{state.Levels.Available} available, {c.Quantity} requested");
        return One(new StockReserved(c.OrderId, c.Quantity, c.PaymentDeadline, now));
    }

    private static Decision DecideRelease(SkuState state, Release c, DateTimeOffset now)
    {
        if (InvalidId(c.OrderId, "order id") is { } bad) return bad;
        if (state.OpenLines.TryGetValue(c.OrderId, out var line))
            return line.Status == LineStatus.Reserved
                ? One(new ReservationReleased(c.OrderId, line.Held, ReleaseReason.Cancelled, now))
                : Reject(RejectionCode.AlreadyPaid, $"order {c.OrderId} is paid: refund it instead");
        return Closed(state, c.OrderId, Finish.LineReleased);
    }

    private static Decision DecideExpire(SkuState state, ExpireReservations c, DateTimeOffset now)
    {
        if (c.Limit < 1) return Reject(RejectionCode.InvalidQuantity, "the expiry limit must be at least 1");
        var due = new List<SkuEvent>();
        foreach (var deadline in state.PaymentDeadlines.Due(c.Now, c.Limit))
            due.Add(new ReservationReleased(deadline.OrderId, state.OpenLines[deadline.OrderId].Held, ReleaseReason.PaymentDeadlinePassed, now));
        return due.Count == 0 ? Accepted.AlreadyDone : new Accepted(due);
    }

    private static Decision DecideConfirm(SkuState state, ConfirmPayment c, DateTimeOffset now)
    {
        if (InvalidId(c.OrderId, "order id") is { } bad) return bad;
        if (state.OpenLines.TryGetValue(c.OrderId, out var line))
            return line.Status == LineStatus.Reserved ? One(new PaymentConfirmed(c.OrderId, line.Held, now)) : Accepted.AlreadyDone;
        if (state.Remembered.Lines.TryGetValue(c.OrderId, out var closed) && closed.Finish != Finish.LineReleased)
            return Accepted.AlreadyDone;
        return Closed(state, c.OrderId, expected: null);
    }

    private static Decision DecideShip(SkuState state, Ship c, DateTimeOffset now)
    {
        if (InvalidId(c.OrderId, "order id") is { } bad) return bad;
        if (state.OpenLines.TryGetValue(c.OrderId, out var line))
            return line.Status != LineStatus.Committed ? Reject(RejectionCode.NotPaid, $"order {c.OrderId} is not paid yet")
                : line.RestockedAhead > 0 ? Reject(RejectionCode.RefundPending,
                    $"the ERP restocked {line.RestockedAhead} units of order {c.OrderId} for a refund not received yet")
                : One(new LineShipped(c.OrderId, line.Held, now));
        return Closed(state, c.OrderId, Finish.LineShipped);
    }

    private static Decision DecideRefund(SkuState state, RefundLine c, DateTimeOffset now)
    {
        if ((InvalidId(c.RefundId, "refund id") ?? InvalidId(c.OrderId, "order id") ?? InvalidId(c.ShopId, "shop id")) is { } bad) return bad;
        if (InvalidQuantity(c.Quantity) is { } badQty) return badQty;
        var decision = DecideValidRefund(state, c, now);
        // Refused for good: the refund never applies here, so an ERP restock reported ahead of it must stop holding its
        // line back (it could never ship otherwise). The units it put back stay on sale, counted once.
        if (decision is Rejected { Settles: null } refused && !RefundRules.Temporary.Contains(refused.Code)
            && state.Refunds.TryGetValue(c.RefundId, out var ahead) && ahead.HoldsAhead > 0 && state.OpenLines.ContainsKey(ahead.OrderId))
            return refused with
            {
                Message = $"{refused.Message}; the ERP's restock of refund {c.RefundId} no longer holds order {ahead.OrderId} back",
                Settles = [new ErpRestockReleased(c.RefundId, ahead.OrderId, ahead.HoldsAhead, refused.Code, now)],
            };
        return decision;
    }

    private static Decision DecideValidRefund(SkuState state, RefundLine c, DateTimeOffset now)
    {
        RefundRecord? ahead = null;
        if (state.Refunds.TryGetValue(c.RefundId, out var known))
        {
            // Once applied, the refund's order and quantity are fixed. Before that only the ERP's restock is known,
            // and the order and quantity it reported may be wrong: the refund decides (see README).
            if (known.Applied && (known.OrderId != c.OrderId || known.Quantity != c.Quantity))
                return Reject(RejectionCode.ConflictingRepeat,
                    $"refund {c.RefundId} is known for order {known.OrderId} with {known.Quantity} units");
            if (known.Applied) return Accepted.AlreadyDone;
            ahead = known;
        }
        if (state.OpenLines.TryGetValue(c.OrderId, out var line))
        {
            if (line.Status != LineStatus.Committed)
                return Reject(RejectionCode.NotPaid, $"order {c.OrderId} is not paid: cancel it instead");
            // Units the ERP restocked ahead for other refunds stay held for those refunds.
            var refundable = line.Held - (line.RestockedAhead - AheadOn(ahead, c.OrderId));
            if (c.Quantity > refundable)
                return Reject(RejectionCode.RefundExceedsRemaining,
                    $"order {c.OrderId} has {refundable} units left to refund, {c.Quantity} requested");
            var restock = ahead is not null ? RefundRestock.RestockedEarlier : c.Restock ? RefundRestock.Restocked : RefundRestock.NotRestocked;
            var availableAfter = state.Levels.Available + (restock == RefundRestock.Restocked ? c.Quantity : 0);
            return One(new LineRefunded(c.RefundId, c.OrderId, c.ShopId, c.Quantity, restock, c.SettingVersion, availableAfter, c.At, now));
        }
        if (state.Remembered.Lines.TryGetValue(c.OrderId, out var closed) && closed.Finish == Finish.LineRefunded)
            return Reject(RejectionCode.RefundExceedsRemaining, $"order {c.OrderId} has no units left to refund");
        return Closed(state, c.OrderId, expected: null);
    }

    private static Decision DecideRestock(SkuState state, RestockRefund c, DateTimeOffset now)
    {
        if ((InvalidId(c.RefundId, "refund id") ?? InvalidId(c.ShopId, "shop id") ?? InvalidActor(c.Actor)) is { } bad) return bad;
        if (c.Trigger is not (RestockTrigger.Manual or RestockTrigger.Erp))
            return Reject(RejectionCode.InvalidId, "a restock on request is manual or by the ERP");
        if (state.Refunds.TryGetValue(c.RefundId, out var known))
        {
            // A repeat of the ERP's own report names the units it restocked, which may differ from the refund's, and
            // the order it reported, which the refund that followed may have corrected.
            var sameQuantity = c.Quantity is not { } q || q == known.Quantity || (known.Restocked && q == known.UnitsBack);
            var erpRepeat = known is { Applied: true, RestockedBy: RestockTrigger.Erp } && c.Trigger == RestockTrigger.Erp && c.Quantity == known.UnitsBack;
            if (!erpRepeat && ((c.OrderId is not null && c.OrderId != known.OrderId) || !sameQuantity))
                return Reject(RejectionCode.ConflictingRepeat,
                    $"refund {c.RefundId} is for order {known.OrderId} with {known.Quantity} units");
            if (known.RestockedBy is { } by)
                return new Accepted([], $"refund {c.RefundId} was already restocked ({by.ToString().ToLowerInvariant()}) " +
                    $"and applies to order {known.OrderId}; nothing changed");
            if (state.RestockWindowClosed(known, now.UtcTicks))
                return Reject(RejectionCode.RestockWindowClosed,
                    $"refund {c.RefundId} can no longer be restocked on request: its manual-restock window " +
                    $"({Describe(state.ManualRestockWindow)} from the refund) has closed; put the units back with a stock adjustment");
            return One(new RefundRestocked(c.RefundId, known.OrderId, c.ShopId, known.Quantity, c.Trigger, c.Actor,
                known.SettingVersion, state.Levels.Available + known.Quantity, c.At, now));
        }
        if (c.Trigger == RestockTrigger.Manual)
            return Reject(RejectionCode.UnknownRefund, $"refund {c.RefundId} has not been applied to this SKU");

        // The ERP restocked before the refund reached the engine: accept it once, against the paid line.
        if (InvalidId(c.OrderId, "order id") is { } badOrder) return badOrder;
        if (InvalidQuantity(c.Quantity ?? 0) is { } badQty) return badQty;
        var quantity = c.Quantity!.Value;
        if (state.OpenLines.TryGetValue(c.OrderId!, out var line))
        {
            if (line.Status != LineStatus.Committed)
                return Reject(RejectionCode.NotPaid, $"order {c.OrderId} is not paid");
            if (quantity > line.Held - line.RestockedAhead)
                return Reject(RejectionCode.RefundExceedsRemaining,
                    $"order {c.OrderId} has {line.Held - line.RestockedAhead} units left to refund, {quantity} requested");
            return One(new RefundRestocked(c.RefundId, c.OrderId!, c.ShopId, quantity, c.Trigger, c.Actor, 0,
                state.Levels.Available + quantity, c.At, now));
        }
        return Closed(state, c.OrderId!, expected: null);
    }

    private static string Describe(TimeSpan window) =>
        window.Ticks % TimeSpan.TicksPerDay == 0 ? $"{window.Days} days" : window.ToString("c", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>The units an ERP restock reported ahead of its refund holds back on the line of <paramref name="orderId"/>.</summary>
    private static long AheadOn(RefundRecord? ahead, string orderId) => ahead is not null && ahead.OrderId == orderId ? ahead.HoldsAhead : 0;

    /// <summary>Answers a command about an order line that is no longer open: a repeat if it closed the expected way, else why not.</summary>
    private static Decision Closed(SkuState state, string orderId, Finish? expected)
    {
        if (!state.Remembered.Lines.TryGetValue(orderId, out var closed))
            return Reject(RejectionCode.UnknownOrderLine, $"no order line {orderId} on this SKU");
        if (closed.Finish == expected) return Accepted.AlreadyDone;
        return closed.Finish switch
        {
            Finish.LineReleased => Reject(RejectionCode.AlreadyReleased, $"order {orderId} was released"),
            Finish.LineShipped => Reject(RejectionCode.AlreadyShipped, $"order {orderId} was shipped"),
            _ => Reject(RejectionCode.AlreadyRefunded, $"order {orderId} was refunded"),
        };
    }

    private static Rejected? InvalidId(string? id, string what) =>
        Ids.IsValid(id) ? null : Reject(RejectionCode.InvalidId, $"{what} must be {Ids.Rule}");

    /// <summary>Who asked, free text such as "merchant:alice@shop.example" (not an id).</summary>
    private static Rejected? InvalidActor(string? actor) =>
        string.IsNullOrWhiteSpace(actor) || actor.Length > 200
            ? Reject(RejectionCode.InvalidId, "actor must be 1 to 200 characters")
            : null;

    private static Rejected? InvalidQuantity(long quantity) =>
        quantity <= 0 || quantity > MaxQuantity
            ? Reject(RejectionCode.InvalidQuantity, $"quantity must be between 1 and {MaxQuantity}")
            : null;

    private static Rejected Reject(RejectionCode code, string message) => new(code, message);

    private static Accepted One(SkuEvent e) => new([e]);
}
