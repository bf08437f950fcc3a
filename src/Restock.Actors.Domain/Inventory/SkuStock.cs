namespace Restock.Actors.Domain.Inventory;

/// <summary>The rules of one SKU's stock: pure functions, no clock, no I/O.</summary>
public static class SkuStock
{
    /// <summary>No single command may move more units than this: anything larger is a typo or an attack.</summary>
    public const long MaxQuantity = 1_000_000_000;

    public static Decision Decide(SkuState state, SkuCommand command) => command switch
    {
        SetStock c => SkuOwnership.RefuseStock(state, c.ShopId) ?? SkuOwnership.ClaimOnFirstStock(state, c.ShopId, DecideSet(state, c)),
        AdjustStock c => SkuOwnership.RefuseStock(state, c.ShopId) ?? SkuOwnership.ClaimOnFirstStock(state, c.ShopId, DecideAdjust(state, c)),
        Reserve c => DecideReserve(state, c),
        Release c => DecideRelease(state, c),
        ExpireReservations c => DecideExpire(state, c),
        ConfirmPayment c => DecideConfirm(state, c),
        Ship c => DecideShip(state, c),
        RefundLine c => SkuOwnership.RefuseRefund(state, c.ShopId) ?? DecideRefund(state, c),
        RestockRefund c => SkuOwnership.RefuseRestock(state, c.ShopId) ?? DecideRestock(state, c),
        _ => throw new ArgumentOutOfRangeException(nameof(command), command.GetType().Name, "unknown SKU command"),
    };

    public static SkuState Apply(SkuState state, SkuEvent @event)
    {
        var l = state.Levels;
        switch (@event)
        {
            case SkuOwnerRecorded e:
                return state with { Owner = e.ShopId };
            case StockAdjusted e:
                return state with
                {
                    IsKnown = true,
                    Levels = l with { Available = l.Available + e.Delta },
                    Stocked = state.Stocked + e.Delta,
                    Adjustments = state.Adjustments.Add(e.AdjustmentId, e.Delta),
                };
            case StockReserved e:
                return state with
                {
                    Levels = l with { Available = l.Available - e.Quantity, Reserved = l.Reserved + e.Quantity },
                    OpenLines = state.OpenLines.Add(e.OrderId,
                        new OrderLine(e.OrderId, e.Quantity, e.Quantity, LineStatus.Reserved, e.PaymentDeadline)),
                };
            case ReservationReleased e:
                return Close(state, e.OrderId, LineClosure.Released) with
                {
                    Levels = l with { Available = l.Available + e.Quantity, Reserved = l.Reserved - e.Quantity },
                };
            case PaymentConfirmed e:
                return state with
                {
                    Levels = l with { Reserved = l.Reserved - e.Quantity, Committed = l.Committed + e.Quantity },
                    OpenLines = state.OpenLines.SetItem(e.OrderId, state.OpenLines[e.OrderId] with { Status = LineStatus.Committed }),
                };
            case LineShipped e:
                return Close(state, e.OrderId, LineClosure.Shipped) with
                {
                    Levels = l with { Committed = l.Committed - e.Quantity, Shipped = l.Shipped + e.Quantity },
                };
            case LineRefunded e:
            {
                var line = state.OpenLines[e.OrderId];
                var restocked = e.Restock == RefundRestock.Restocked ? e.Quantity : 0;
                var ahead = state.Refunds.TryGetValue(e.RefundId, out var early) ? early : null;
                var after = line.Held == e.Quantity
                    ? Close(state, e.OrderId, LineClosure.Refunded)
                    : state with
                    {
                        OpenLines = state.OpenLines.SetItem(e.OrderId, line with
                        {
                            Held = line.Held - e.Quantity,
                            RestockedAhead = line.RestockedAhead - (ahead is null ? 0 : e.Quantity),
                        }),
                    };
                return after with
                {
                    Levels = l with
                    {
                        Committed = l.Committed - e.Quantity,
                        Refunded = l.Refunded + e.Quantity,
                        Available = l.Available + restocked,
                        Restocked = l.Restocked + restocked,
                    },
                    Refunds = state.Refunds.SetItem(e.RefundId, new RefundRecord(e.OrderId, e.Quantity, Applied: true,
                        ahead?.RestockedBy ?? (restocked > 0 ? RestockTrigger.Auto : null), e.SettingVersion)),
                };
            }
            case RefundRestocked e:
            {
                var known = state.Refunds.TryGetValue(e.RefundId, out var record);
                var ahead = !known;
                return state with
                {
                    Levels = l with { Available = l.Available + e.Quantity, Restocked = l.Restocked + e.Quantity },
                    OpenLines = ahead
                        ? state.OpenLines.SetItem(e.OrderId, state.OpenLines[e.OrderId] with
                        {
                            RestockedAhead = state.OpenLines[e.OrderId].RestockedAhead + e.Quantity,
                        })
                        : state.OpenLines,
                    Refunds = state.Refunds.SetItem(e.RefundId, ahead
                        ? new RefundRecord(e.OrderId, e.Quantity, Applied: false, e.Trigger, e.SettingVersion)
                        : record! with { RestockedBy = e.Trigger }),
                };
            }
            default:
                throw new ArgumentOutOfRangeException(nameof(@event), @event.GetType().Name, "unknown SKU event");
        }
    }

    public static SkuState ApplyAll(SkuState state, IEnumerable<SkuEvent> events) => events.Aggregate(state, Apply);

    private static SkuState Close(SkuState state, string orderId, LineClosure closure) => state with
    {
        OpenLines = state.OpenLines.Remove(orderId),
        ClosedLines = state.ClosedLines.Add(orderId, new ClosedLine(state.OpenLines[orderId].Ordered, closure)),
    };

    private static Decision DecideSet(SkuState state, SetStock c)
    {
        if (InvalidId(c.AdjustmentId, "adjustment id") is { } bad) return bad;
        if (c.Quantity < 0 || c.Quantity > MaxQuantity)
            return Reject(RejectionCode.InvalidQuantity, $"quantity must be between 0 and {MaxQuantity}");
        var delta = c.Quantity - state.Levels.Available;
        if (state.Adjustments.TryGet(c.AdjustmentId, out _)) return Accepted.AlreadyDone;
        return One(new StockAdjusted(c.AdjustmentId, delta, c.Reason));
    }

    private static Decision DecideAdjust(SkuState state, AdjustStock c)
    {
        if (InvalidId(c.AdjustmentId, "adjustment id") is { } bad) return bad;
        if (c.Delta == 0 || Math.Abs(c.Delta) > MaxQuantity)
            return Reject(RejectionCode.InvalidQuantity, $"delta must be non-zero and at most {MaxQuantity} either way");
        if (state.Adjustments.TryGet(c.AdjustmentId, out var first))
            return first == c.Delta ? Accepted.AlreadyDone
                : Reject(RejectionCode.ConflictingRepeat, $"adjustment {c.AdjustmentId} was already applied with delta {first}");
        var after = state.Levels.Available + c.Delta;
        if (after < 0)
            return Reject(RejectionCode.NegativeStock, $"only {state.Levels.Available} available; cannot remove {-c.Delta}");
        if (after > MaxQuantity)
            return Reject(RejectionCode.InvalidQuantity, $"available stock would exceed {MaxQuantity}");
        return One(new StockAdjusted(c.AdjustmentId, c.Delta, c.Reason));
    }

    private static Decision DecideReserve(SkuState state, Reserve c)
    {
        if (InvalidId(c.OrderId, "order id") is { } bad) return bad;
        if (InvalidQuantity(c.Quantity) is { } badQty) return badQty;
        var ordered = state.OpenLines.TryGetValue(c.OrderId, out var open) ? open.Ordered
            : state.ClosedLines.TryGet(c.OrderId, out var closed) ? closed.Ordered
            : (long?)null;
        if (ordered is { } q)
            return q == c.Quantity ? Accepted.AlreadyDone
                : Reject(RejectionCode.ConflictingRepeat, $"order {c.OrderId} already reserved {q} units");
        if (!state.IsKnown) return Reject(RejectionCode.UnknownSku, "this SKU has never been stocked");
        if (c.Quantity > state.Levels.Available)
            return Reject(RejectionCode.OutOfStock, $"{state.Levels.Available} available, {c.Quantity} requested");
        return One(new StockReserved(c.OrderId, c.Quantity, c.PaymentDeadline));
    }

    private static Decision DecideRelease(SkuState state, Release c)
    {
        if (InvalidId(c.OrderId, "order id") is { } bad) return bad;
        if (state.OpenLines.TryGetValue(c.OrderId, out var line))
            return line.Status == LineStatus.Reserved
                ? One(new ReservationReleased(c.OrderId, line.Held, ReleaseReason.Cancelled))
                : Reject(RejectionCode.AlreadyPaid, $"order {c.OrderId} is paid: refund it instead");
        return Closed(state, c.OrderId, LineClosure.Released);
    }

    private static Decision DecideExpire(SkuState state, ExpireReservations c)
    {
        var due = state.OpenLines.Values
            .Where(l => l.Status == LineStatus.Reserved && l.PaymentDeadline <= c.Now)
            .OrderBy(l => l.PaymentDeadline).ThenBy(l => l.OrderId, StringComparer.Ordinal)
            .Select(l => (SkuEvent)new ReservationReleased(l.OrderId, l.Held, ReleaseReason.PaymentDeadlinePassed))
            .ToArray();
        return due.Length == 0 ? Accepted.AlreadyDone : new Accepted(due);
    }

    private static Decision DecideConfirm(SkuState state, ConfirmPayment c)
    {
        if (InvalidId(c.OrderId, "order id") is { } bad) return bad;
        if (state.OpenLines.TryGetValue(c.OrderId, out var line))
            return line.Status == LineStatus.Reserved ? One(new PaymentConfirmed(c.OrderId, line.Held)) : Accepted.AlreadyDone;
        if (state.ClosedLines.TryGet(c.OrderId, out var closed) && closed.Closure != LineClosure.Released)
            return Accepted.AlreadyDone;
        return Closed(state, c.OrderId, expected: null);
    }

    private static Decision DecideShip(SkuState state, Ship c)
    {
        if (InvalidId(c.OrderId, "order id") is { } bad) return bad;
        if (state.OpenLines.TryGetValue(c.OrderId, out var line))
            return line.Status != LineStatus.Committed ? Reject(RejectionCode.NotPaid, $"order {c.OrderId} is not paid yet")
                : line.RestockedAhead > 0 ? Reject(RejectionCode.RefundPending,
                    $"the ERP restocked {line.RestockedAhead} units of order {c.OrderId} for a refund not received yet")
                : One(new LineShipped(c.OrderId, line.Held));
        return Closed(state, c.OrderId, LineClosure.Shipped);
    }

    private static Decision DecideRefund(SkuState state, RefundLine c)
    {
        if ((InvalidId(c.RefundId, "refund id") ?? InvalidId(c.OrderId, "order id") ?? InvalidId(c.ShopId, "shop id")) is { } bad) return bad;
        if (InvalidQuantity(c.Quantity) is { } badQty) return badQty;
        var ahead = false;
        if (state.Refunds.TryGetValue(c.RefundId, out var known))
        {
            if (known.OrderId != c.OrderId || known.Quantity != c.Quantity)
                return Reject(RejectionCode.ConflictingRepeat,
                    $"refund {c.RefundId} is known for order {known.OrderId} with {known.Quantity} units");
            if (known.Applied) return Accepted.AlreadyDone;
            ahead = true;
        }
        if (state.OpenLines.TryGetValue(c.OrderId, out var line))
        {
            if (line.Status != LineStatus.Committed)
                return Reject(RejectionCode.NotPaid, $"order {c.OrderId} is not paid: cancel it instead");
            var refundable = ahead ? line.Held : line.Held - line.RestockedAhead;
            if (c.Quantity > refundable)
                return Reject(RejectionCode.RefundExceedsRemaining,
                    $"order {c.OrderId} has {refundable} units left to refund, {c.Quantity} requested");
            var restock = ahead ? RefundRestock.RestockedEarlier : c.Restock ? RefundRestock.Restocked : RefundRestock.NotRestocked;
            var availableAfter = state.Levels.Available + (restock == RefundRestock.Restocked ? c.Quantity : 0);
            return One(new LineRefunded(c.RefundId, c.OrderId, c.ShopId, c.Quantity, restock, c.SettingVersion, availableAfter, c.At));
        }
        if (state.ClosedLines.TryGet(c.OrderId, out var closed) && closed.Closure == LineClosure.Refunded)
            return Reject(RejectionCode.RefundExceedsRemaining, $"order {c.OrderId} has no units left to refund");
        return Closed(state, c.OrderId, expected: null);
    }

    private static Decision DecideRestock(SkuState state, RestockRefund c)
    {
        if ((InvalidId(c.RefundId, "refund id") ?? InvalidId(c.ShopId, "shop id") ?? InvalidActor(c.Actor)) is { } bad) return bad;
        if (c.Trigger is not (RestockTrigger.Manual or RestockTrigger.Erp))
            return Reject(RejectionCode.InvalidId, "a restock on request is manual or by the ERP");
        if (state.Refunds.TryGetValue(c.RefundId, out var known))
        {
            if ((c.OrderId is not null && c.OrderId != known.OrderId) || (c.Quantity is not null && c.Quantity != known.Quantity))
                return Reject(RejectionCode.ConflictingRepeat,
                    $"refund {c.RefundId} is for order {known.OrderId} with {known.Quantity} units");
            if (known.RestockedBy is { } by)
                return new Accepted([], $"refund {c.RefundId} was already restocked ({by.ToString().ToLowerInvariant()}); nothing changed");
            return One(new RefundRestocked(c.RefundId, known.OrderId, c.ShopId, known.Quantity, c.Trigger, c.Actor,
                known.SettingVersion, state.Levels.Available + known.Quantity, c.At));
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
                state.Levels.Available + quantity, c.At));
        }
        return Closed(state, c.OrderId!, expected: null);
    }

    /// <summary>Answers a command about an order line that is no longer open: a repeat if it closed the expected way, else why not.</summary>
    private static Decision Closed(SkuState state, string orderId, LineClosure? expected)
    {
        if (!state.ClosedLines.TryGet(orderId, out var closed))
            return Reject(RejectionCode.UnknownOrderLine, $"no order line {orderId} on this SKU");
        if (closed.Closure == expected) return Accepted.AlreadyDone;
        return closed.Closure switch
        {
            LineClosure.Released => Reject(RejectionCode.AlreadyReleased, $"order {orderId} was released"),
            LineClosure.Shipped => Reject(RejectionCode.AlreadyShipped, $"order {orderId} was shipped"),
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
