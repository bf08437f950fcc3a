using CsCheck;
using Restock.Actors.Domain.Inventory;

namespace Restock.Actors.Tests.Inventory;

/// <summary>
/// Random schedules of every command, drawn from small id pools so repeats are frequent, checked step by
/// step against a plain reference model and the conservation invariants.
/// </summary>
public sealed class SkuStockPropertyTests
{
    internal static readonly DateTimeOffset Start = new(2026, 11, 26, 12, 0, 0, TimeSpan.Zero);

    internal static readonly Gen<SkuCommand> Command = Gen.OneOf<SkuCommand>(
        Gen.Select(Gen.Int[0, 4], Gen.Long[0, 12], (a, q) => new SetStock($"a{a}", q, "count", "shop")),
        Gen.Select(Gen.Int[0, 4], Gen.Long[-6, 6], (a, d) => new AdjustStock($"a{a}", d, "fix", "shop")),
        Gen.Select(Gen.Int[0, 7], Gen.Long[0, 5], Gen.Int[1, 30], (o, q, m) => new Reserve($"o{o}", q, Start.AddMinutes(m))),
        Gen.Select(Gen.Int[0, 7], o => new Release($"o{o}")),
        Gen.Select(Gen.Int[0, 40], m => new ExpireReservations(Start.AddMinutes(m))),
        Gen.Select(Gen.Int[0, 7], o => new ConfirmPayment($"o{o}")),
        Gen.Select(Gen.Int[0, 7], o => new Ship($"o{o}")),
        Gen.Select(Gen.Int[0, 5], Gen.Int[0, 7], Gen.Long[0, 4], Gen.Bool,
            (r, o, q, restock) => new RefundLine($"r{r}", $"o{o}", "shop", q, restock, 1, Start)),
        Gen.Select(Gen.Int[0, 5], r => new RestockRefund($"r{r}", null, null, RestockTrigger.Manual, "shop", "merchant", Start)),
        Gen.Select(Gen.Int[0, 5], Gen.Int[0, 7], Gen.Long[0, 4],
            (r, o, q) => new RestockRefund($"r{r}", $"o{o}", q, RestockTrigger.Erp, "shop", "erp", Start)));

    /// <summary>A schedule where some steps repeat an earlier command verbatim.</summary>
    internal static readonly Gen<SkuCommand[]> Schedule =
        Gen.Select(Command.Array[1, 80], Gen.Int[0, 1000].Array[80], (commands, picks) =>
            commands.Select((c, i) => i > 0 && picks[i] % 4 == 0 ? commands[picks[i] % i] : c).ToArray());

    [Fact]
    public void Every_schedule_matches_the_model_and_keeps_the_invariants()
    {
        Schedule.Sample(schedule =>
        {
            var state = SkuState.Empty();
            var model = new Model();
            foreach (var command in schedule)
            {
                var decision = SkuStock.Decide(state, command);
                var next = SkuStock.ApplyAll(state, Stored(decision));

                var expected = model.Run(command);
                Assert.Equal(expected, decision is Accepted ? "ok" : ((Rejected)decision).Code.ToString());
                Assert.Equal(model.Levels, next.Levels);
                AssertInvariants(next);

                if (decision is Accepted { Events.Count: > 0 })
                {
                    // A repeat right after changes nothing and does not fail.
                    var repeat = SkuStock.Decide(next, command);
                    Assert.True(repeat is Accepted { Events.Count: 0 } || command is ExpireReservations,
                        $"repeat of {command} gave {repeat}");
                }
                else if (decision is Rejected { Settles: not null } settling)
                {
                    // Its repeat is refused the same way and settles nothing more.
                    var repeat = Assert.IsType<Rejected>(SkuStock.Decide(next, command));
                    Assert.Equal((settling.Code, (IReadOnlyList<SkuEvent>?)null), (repeat.Code, repeat.Settles));
                }
                state = next;
            }
        }, iter: 3000);
    }

    [Fact]
    public void Rejected_commands_change_nothing()
    {
        Gen.Select(Schedule, Command).Sample((schedule, probe) =>
        {
            var state = schedule.Aggregate(SkuState.Empty(), (s, c) => SkuStock.ApplyAll(s, Stored(SkuStock.Decide(s, c))));
            if (SkuStock.Decide(state, probe) is Rejected rejected)
                Assert.Equal(state.Levels, SkuStock.ApplyAll(state, Stored(rejected)).Levels);
        }, iter: 1000);
    }

    /// <summary>What the SKU actor stores for a decision: the events of an accepted one, those a refusal settles.</summary>
    internal static IReadOnlyList<SkuEvent> Stored(Decision decision) => decision switch
    {
        Accepted a => a.Events,
        Rejected r => r.Settles ?? [],
        _ => [],
    };

    internal static void AssertInvariants(SkuState s)
    {
        var l = s.Levels;
        Assert.True(l.Available >= 0, $"available {l.Available}");
        Assert.True(l.Reserved >= 0 && l.Committed >= 0 && l.Shipped >= 0 && l.Refunded >= 0 && l.Restocked >= 0, l.ToString());
        // Units sold never exceed units stocked (plus what refunds put back): conservation, exactly.
        Assert.Equal(s.Stocked + l.Restocked, l.Available + l.Reserved + l.Committed + l.Shipped + l.Refunded);
        Assert.Equal(l.Reserved, s.OpenLines.Values.Where(o => o.Status == LineStatus.Reserved).Sum(o => o.Held));
        Assert.Equal(l.Committed, s.OpenLines.Values.Where(o => o.Status == LineStatus.Committed).Sum(o => o.Held));
        // At most one restock per refund line: what came back is exactly what the refunds record as restocked.
        Assert.Equal(l.Restocked, s.Refunds.Values.Sum(r => r.UnitsBack));
        Assert.All(s.OpenLines.Values, o => Assert.InRange(o.RestockedAhead, 0, o.Held));
        // The payment-deadline index (entries of paid or released lines are left behind in it) lists exactly the unpaid lines.
        var unpaid = s.OpenLines.Values.Where(o => o.Status == LineStatus.Reserved)
            .Select(o => new PaymentDue(o.PaymentDeadline, o.OrderId)).Order(PaymentDue.Order).ToList();
        Assert.Equal(unpaid, s.PaymentDeadlines.Due(DateTimeOffset.MaxValue, int.MaxValue));
        Assert.Equal(unpaid.Count == 0 ? null : unpaid[0].Deadline, s.NextPaymentDeadline());
    }

    /// <summary>
    /// The stock rules written a second, deliberately plain way, with mutable counters. It remembers every id;
    /// these schedules carry no time, so the SKU's horizon never passes and the two must agree exactly.
    /// </summary>
    internal sealed class Model
    {
        private readonly Dictionary<string, (long Ordered, long Held, bool Paid, DateTimeOffset Deadline, long Ahead)> _open = new();
        private readonly Dictionary<string, (long Ordered, string Closure)> _closed = new();
        private readonly Dictionary<string, (bool Set, long Amount)> _adjustments = new();
        private readonly Dictionary<string, (string Order, long Qty, bool Applied, bool Restocked, long Back, bool Refused)> _refunds = new();
        private readonly HashSet<string> _restockedByErp = new();
        private long _available, _reserved, _committed, _shipped, _refunded, _restocked;
        private bool _known;

        public StockLevels Levels => new(_available, _reserved, _committed, _shipped, _refunded, _restocked);

        public string Run(SkuCommand command)
        {
            switch (command)
            {
                case SetStock c:
                    if (_adjustments.TryGetValue(c.AdjustmentId, out var set)) return set == (true, c.Quantity) ? "ok" : "ConflictingRepeat";
                    _adjustments[c.AdjustmentId] = (true, c.Quantity);
                    _available = c.Quantity;
                    _known = true;
                    return "ok";
                case AdjustStock c:
                    if (c.Delta == 0) return "InvalidQuantity";
                    if (_adjustments.TryGetValue(c.AdjustmentId, out var first)) return first == (false, c.Delta) ? "ok" : "ConflictingRepeat";
                    if (_available + c.Delta < 0) return "NegativeStock";
                    _adjustments[c.AdjustmentId] = (false, c.Delta);
                    _available += c.Delta;
                    _known = true;
                    return "ok";
                case Reserve c:
                    if (c.Quantity <= 0) return "InvalidQuantity";
                    if (_open.TryGetValue(c.OrderId, out var o)) return o.Ordered == c.Quantity ? "ok" : "ConflictingRepeat";
                    if (_closed.TryGetValue(c.OrderId, out var done))
                        return done.Ordered != c.Quantity ? "ConflictingRepeat" : done.Closure == "Released" ? "ReservationReleased" : "ok";
                    if (!_known) return "UnknownSku";
                    if (c.Quantity > _available) return "OutOfStock";
                    _open[c.OrderId] = (c.Quantity, c.Quantity, false, c.PaymentDeadline, 0);
                    _available -= c.Quantity;
                    _reserved += c.Quantity;
                    return "ok";
                case Release c:
                    if (_open.TryGetValue(c.OrderId, out var r))
                    {
                        if (r.Paid) return "AlreadyPaid";
                        ReleaseLine(c.OrderId);
                        return "ok";
                    }
                    return ClosedAnswer(c.OrderId, "Released");
                case ExpireReservations c:
                    foreach (var id in _open.Where(p => !p.Value.Paid && p.Value.Deadline <= c.Now).Select(p => p.Key).ToList())
                        ReleaseLine(id);
                    return "ok";
                case ConfirmPayment c:
                    if (_open.TryGetValue(c.OrderId, out var p))
                    {
                        if (!p.Paid)
                        {
                            _open[c.OrderId] = p with { Paid = true };
                            _reserved -= p.Held;
                            _committed += p.Held;
                        }
                        return "ok";
                    }
                    if (_closed.TryGetValue(c.OrderId, out var closedPaid) && closedPaid.Closure != "Released") return "ok";
                    return ClosedAnswer(c.OrderId, null);
                case Ship c:
                    if (_open.TryGetValue(c.OrderId, out var s))
                    {
                        if (!s.Paid) return "NotPaid";
                        if (s.Ahead > 0) return "RefundPending";
                        _open.Remove(c.OrderId);
                        _closed[c.OrderId] = (s.Ordered, "Shipped");
                        _committed -= s.Held;
                        _shipped += s.Held;
                        return "ok";
                    }
                    return ClosedAnswer(c.OrderId, "Shipped");
                case RefundLine c:
                {
                    if (c.Quantity <= 0) return "InvalidQuantity";
                    var answer = Refund(c);
                    // Refused for good: an ERP restock reported ahead of this refund stops holding its line back.
                    if (answer is not ("ok" or "NotPaid" or "UnknownOrderLine") && _refunds.TryGetValue(c.RefundId, out var held)
                        && held is { Applied: false, Refused: false } && _open.TryGetValue(held.Order, out var heldLine))
                    {
                        _open[held.Order] = heldLine with { Ahead = heldLine.Ahead - held.Qty };
                        _refunds[c.RefundId] = held with { Refused = true };
                    }
                    return answer;
                }
                case RestockRefund c:
                {
                    if (_refunds.TryGetValue(c.RefundId, out var known))
                    {
                        var q = c.Quantity ?? known.Qty;
                        // The ERP repeating its report after the refund (which may name another order) changes nothing.
                        var erpRepeat = known.Applied && _restockedByErp.Contains(c.RefundId) && c.Trigger == RestockTrigger.Erp && q == known.Back;
                        if (!erpRepeat && ((c.OrderId ?? known.Order) != known.Order || (q != known.Qty && !(known.Restocked && q == known.Back))))
                            return "ConflictingRepeat";
                        if (known.Restocked) return "ok";
                        if (c.Trigger == RestockTrigger.Erp) _restockedByErp.Add(c.RefundId);
                        _refunds[c.RefundId] = known with { Restocked = true, Back = known.Qty };
                        _available += known.Qty;
                        _restocked += known.Qty;
                        return "ok";
                    }
                    if (c.Trigger == RestockTrigger.Manual) return "UnknownRefund";
                    if (c.Quantity is not > 0) return "InvalidQuantity";
                    if (_open.TryGetValue(c.OrderId!, out var line))
                    {
                        if (!line.Paid) return "NotPaid";
                        if (c.Quantity > line.Held - line.Ahead) return "RefundExceedsRemaining";
                        _open[c.OrderId!] = line with { Ahead = line.Ahead + c.Quantity.Value };
                        _refunds[c.RefundId] = (c.OrderId!, c.Quantity.Value, false, true, c.Quantity.Value, false);
                        _restockedByErp.Add(c.RefundId);
                        _available += c.Quantity.Value;
                        _restocked += c.Quantity.Value;
                        return "ok";
                    }
                    return ClosedAnswer(c.OrderId!, null);
                }
                default:
                    throw new InvalidOperationException(command.ToString());
            }
        }

        private string Refund(RefundLine c)
        {
            var ahead = false;
            if (_refunds.TryGetValue(c.RefundId, out var seen))
            {
                // Before it is applied only the ERP's report is known: the refund's own order and quantity decide.
                if (seen.Applied && (seen.Order != c.OrderId || seen.Qty != c.Quantity)) return "ConflictingRepeat";
                if (seen.Applied) return "ok";
                ahead = true;
            }
            var holds = ahead && !seen.Refused ? seen.Qty : 0;
            if (_open.TryGetValue(c.OrderId, out var f))
            {
                var aheadHere = seen.Order == c.OrderId ? holds : 0;
                if (!f.Paid) return "NotPaid";
                if (c.Quantity > f.Held - (f.Ahead - aheadHere)) return "RefundExceedsRemaining";
                var restock = c.Restock && !ahead;
                _refunds[c.RefundId] = (c.OrderId, c.Quantity, true, ahead || restock, ahead ? seen.Back : restock ? c.Quantity : 0, false);
                _committed -= c.Quantity;
                _refunded += c.Quantity;
                if (restock)
                {
                    _available += c.Quantity;
                    _restocked += c.Quantity;
                }
                if (f.Held == c.Quantity)
                {
                    _open.Remove(c.OrderId);
                    _closed[c.OrderId] = (f.Ordered, "Refunded");
                }
                else _open[c.OrderId] = f with { Held = f.Held - c.Quantity, Ahead = f.Ahead - aheadHere };
                // The line the ERP named instead is no longer held back for this refund.
                if (holds > 0 && seen.Order != c.OrderId) _open[seen.Order] = _open[seen.Order] with { Ahead = _open[seen.Order].Ahead - holds };
                return "ok";
            }
            if (_closed.TryGetValue(c.OrderId, out var fc) && fc.Closure == "Refunded") return "RefundExceedsRemaining";
            return ClosedAnswer(c.OrderId, null);
        }

        private void ReleaseLine(string orderId)
        {
            var line = _open[orderId];
            _open.Remove(orderId);
            _closed[orderId] = (line.Ordered, "Released");
            _reserved -= line.Held;
            _available += line.Held;
        }

        private string ClosedAnswer(string orderId, string? expected) =>
            !_closed.TryGetValue(orderId, out var c) ? "UnknownOrderLine"
            : c.Closure == expected ? "ok"
            : "Already" + c.Closure;
    }
}
