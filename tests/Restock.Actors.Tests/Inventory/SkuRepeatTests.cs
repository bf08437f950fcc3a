using CsCheck;
using Restock.Actors.Domain.Inventory;

namespace Restock.Actors.Tests.Inventory;

/// <summary>Repeats within and beyond the horizon, truthful answers, and what a SKU forgets (the pure core).</summary>
public sealed class SkuRepeatTests
{
    private static readonly DateTimeOffset Start = SkuStockPropertyTests.Start;

    private static SkuCommand At(SkuCommand command, TimeSpan after) => command with { ReceivedAt = Start + after };

    private static SkuState Run(SkuState state, params SkuCommand[] commands) =>
        commands.Aggregate(state, (s, c) => SkuStock.Decide(s, c) switch
        {
            Accepted a => SkuStock.ApplyAll(s, a.Events),
            Rejected r => throw new InvalidOperationException($"{c} was rejected: {r}"),
            _ => s,
        });

    /// <summary>Finishes <paramref name="count"/> lines of other orders, spread evenly over <paramref name="over"/>.</summary>
    private static SkuState FinishOtherLines(SkuState state, int count, TimeSpan from, TimeSpan over, string prefix = "other")
    {
        for (var i = 0; i < count; i++)
        {
            var at = Start + from + over * i / count;
            state = SkuStock.ApplyAll(state, [
                new StockReserved($"{prefix}-{i}", 1, at.AddMinutes(15), at),
                new ReservationReleased($"{prefix}-{i}", 1, ReleaseReason.Cancelled, at),
            ]);
        }
        return state;
    }

    private static string Answer(Decision decision) => decision switch
    {
        Accepted { Events.Count: > 0 } => "done",
        Accepted => "alreadyDone",
        Rejected r => r.Code.ToString(),
        _ => "?",
    };

    [Fact]
    public void A_repeat_within_the_horizon_is_recognised_however_many_lines_finished_in_between()
    {
        var state = Run(SkuState.Empty(TimeSpan.FromHours(24)),
            At(new SetStock("delivery", 10, "count", "shop"), TimeSpan.Zero),
            At(new AdjustStock("found", 2, "count", "shop"), TimeSpan.Zero),
            At(new Reserve("o1", 2, Start.AddMinutes(15)), TimeSpan.Zero),
            At(new ConfirmPayment("o1"), TimeSpan.Zero),
            At(new Ship("o1"), TimeSpan.Zero),
            At(new Reserve("o2", 1, Start.AddMinutes(15)), TimeSpan.Zero),
            At(new Release("o2"), TimeSpan.Zero));

        // 100,000 lines finish within the next 23 hours: far more than the old window of 10,000.
        state = FinishOtherLines(state, 100_000, TimeSpan.FromMinutes(1), TimeSpan.FromHours(23));
        var late = TimeSpan.FromHours(23.5);

        Assert.Equal("alreadyDone", Answer(SkuStock.Decide(state, At(new SetStock("delivery", 10, "count", "shop"), late))));
        Assert.Equal("alreadyDone", Answer(SkuStock.Decide(state, At(new AdjustStock("found", 2, "count", "shop"), late))));
        Assert.Equal("alreadyDone", Answer(SkuStock.Decide(state, At(new Reserve("o1", 2, Start.AddDays(1)), late))));
        Assert.Equal("alreadyDone", Answer(SkuStock.Decide(state, At(new Ship("o1"), late))));
        Assert.Equal("ReservationReleased", Answer(SkuStock.Decide(state, At(new Reserve("o2", 1, Start.AddDays(1)), late))));
        Assert.Equal("ReservationReleased", Answer(SkuStock.Decide(state, At(new Reserve("other-0", 1, Start.AddDays(1)), late))));
        Assert.Equal(12, state.Levels.Available + state.Levels.Shipped);
    }

    [Fact]
    public void An_id_older_than_the_horizon_is_forgotten_at_the_next_change_and_then_decided_anew()
    {
        var state = Run(SkuState.Empty(TimeSpan.FromHours(1)),
            At(new SetStock("delivery", 10, "count", "shop"), TimeSpan.Zero),
            At(new Reserve("o1", 2, Start.AddMinutes(15)), TimeSpan.Zero),
            At(new Release("o1"), TimeSpan.Zero));

        // Nothing happened since: the SKU still remembers, whatever the time of the retry.
        Assert.Equal("ReservationReleased", Answer(SkuStock.Decide(state, At(new Reserve("o1", 2, Start.AddHours(3)), TimeSpan.FromHours(2)))));

        state = Run(state, At(new AdjustStock("later", 1, "count", "shop"), TimeSpan.FromHours(2)));
        Assert.Equal(["later"], state.Remembered.Adjustments.Keys);
        Assert.Empty(state.Remembered.Lines);
        Assert.Equal("done", Answer(SkuStock.Decide(state, At(new Reserve("o1", 2, Start.AddHours(3)), TimeSpan.FromHours(2)))));
        Assert.Equal("done", Answer(SkuStock.Decide(state, At(new SetStock("delivery", 10, "count", "shop"), TimeSpan.FromHours(2)))));
    }

    /// <summary>The README's table of answers to repeats, case by case.</summary>
    [Theory]
    [InlineData("set again, same quantity", "alreadyDone")]
    [InlineData("set again, other quantity", "ConflictingRepeat")]
    [InlineData("adjust again, same delta", "alreadyDone")]
    [InlineData("adjust again, other delta", "ConflictingRepeat")]
    [InlineData("adjust with a set's id", "ConflictingRepeat")]
    [InlineData("set with an adjustment's id", "ConflictingRepeat")]
    [InlineData("reserve again, open line", "alreadyDone")]
    [InlineData("reserve again, other quantity", "ConflictingRepeat")]
    [InlineData("reserve again after cancel", "ReservationReleased")]
    [InlineData("reserve again after the deadline passed", "ReservationReleased")]
    [InlineData("reserve again after cancel, other quantity", "ConflictingRepeat")]
    [InlineData("reserve again after shipment", "alreadyDone")]
    [InlineData("reserve again after a full refund", "alreadyDone")]
    [InlineData("cancel again", "alreadyDone")]
    [InlineData("pay again", "alreadyDone")]
    [InlineData("pay after cancel", "AlreadyReleased")]
    [InlineData("ship again", "alreadyDone")]
    [InlineData("refund again", "alreadyDone")]
    [InlineData("refund again, other quantity", "ConflictingRepeat")]
    [InlineData("restock again", "alreadyDone")]
    public void A_repeat_answers_the_truth(string @case, string expected)
    {
        var t = TimeSpan.Zero;
        var state = Run(SkuState.Empty(),
            At(new SetStock("set-1", 20, "count", "shop"), t),
            At(new AdjustStock("adjust-1", 5, "count", "shop"), t),
            At(new Reserve("open", 2, Start.AddMinutes(15)), t),
            At(new Reserve("cancelled", 2, Start.AddMinutes(15)), t),
            At(new Release("cancelled"), t),
            At(new Reserve("expired", 1, Start.AddMinutes(1)), t),
            At(new ExpireReservations(Start.AddMinutes(2)), TimeSpan.FromMinutes(2)),
            At(new Reserve("paid", 3, Start.AddMinutes(15)), t),
            At(new ConfirmPayment("paid"), t),
            At(new Ship("paid"), t),
            At(new Reserve("refunded", 2, Start.AddMinutes(15)), t),
            At(new ConfirmPayment("refunded"), t),
            At(new RefundLine("refund-1", "refunded", "shop", 2, Restock: false, 1, Start), t),
            At(new RestockRefund("refund-1", null, null, RestockTrigger.Manual, "shop", "merchant", Start), t));

        SkuCommand repeat = @case switch
        {
            "set again, same quantity" => new SetStock("set-1", 20, "count", "shop"),
            "set again, other quantity" => new SetStock("set-1", 21, "count", "shop"),
            "adjust again, same delta" => new AdjustStock("adjust-1", 5, "count", "shop"),
            "adjust again, other delta" => new AdjustStock("adjust-1", 6, "count", "shop"),
            "adjust with a set's id" => new AdjustStock("set-1", 20, "count", "shop"),
            "set with an adjustment's id" => new SetStock("adjust-1", 5, "count", "shop"),
            "reserve again, open line" => new Reserve("open", 2, Start.AddMinutes(30)),
            "reserve again, other quantity" => new Reserve("open", 3, Start.AddMinutes(15)),
            "reserve again after cancel" => new Reserve("cancelled", 2, Start.AddMinutes(15)),
            "reserve again after the deadline passed" => new Reserve("expired", 1, Start.AddMinutes(1)),
            "reserve again after cancel, other quantity" => new Reserve("cancelled", 1, Start.AddMinutes(15)),
            "reserve again after shipment" => new Reserve("paid", 3, Start.AddMinutes(15)),
            "reserve again after a full refund" => new Reserve("refunded", 2, Start.AddMinutes(15)),
            "cancel again" => new Release("cancelled"),
            "pay again" => new ConfirmPayment("paid"),
            "pay after cancel" => new ConfirmPayment("cancelled"),
            "ship again" => new Ship("paid"),
            "refund again" => new RefundLine("refund-1", "refunded", "shop", 2, Restock: true, 2, Start),
            "refund again, other quantity" => new RefundLine("refund-1", "refunded", "shop", 1, Restock: false, 1, Start),
            "restock again" => new RestockRefund("refund-1", null, null, RestockTrigger.Manual, "shop", "merchant", Start),
            _ => throw new ArgumentOutOfRangeException(nameof(@case)),
        };
        Assert.Equal(expected, Answer(SkuStock.Decide(state, At(repeat, TimeSpan.FromMinutes(5)))));
    }

    /// <summary>
    /// Rejected commands are not remembered. Retrying them (some now succeed) leaves the answer to a repeat of every
    /// command accepted earlier unchanged, unless the retry is about the same order, refund or adjustment.
    /// </summary>
    [Fact]
    public void Retrying_rejected_commands_never_changes_the_first_outcome_of_another_id()
    {
        Gen.Select(SkuStockPropertyTests.Schedule, Gen.Int[0, 1000].Array[80]).Sample((schedule, picks) =>
        {
            var state = SkuState.Empty();
            var accepted = new List<SkuCommand>();
            var rejected = new List<SkuCommand>();
            foreach (var command in schedule)
            {
                switch (SkuStock.Decide(state, command))
                {
                    case Accepted a:
                        state = SkuStock.ApplyAll(state, a.Events);
                        if (a.Events.Count > 0 && command is not ExpireReservations) accepted.Add(command);
                        break;
                    case Rejected r:
                        state = SkuStock.ApplyAll(state, SkuStockPropertyTests.Stored(r));
                        rejected.Add(command);
                        break;
                }
            }
            var before = accepted.Select(c => Answer(SkuStock.Decide(state, c))).ToList();

            var retried = state;
            var touched = new HashSet<string>();
            foreach (var retry in rejected.Select((c, i) => rejected[picks[i % picks.Length] % rejected.Count]))
            {
                retried = SkuStock.ApplyAll(retried, SkuStockPropertyTests.Stored(SkuStock.Decide(retried, retry)));
                touched.UnionWith(Ids(retry));
            }

            for (var i = 0; i < accepted.Count; i++)
            {
                var after = Answer(SkuStock.Decide(retried, accepted[i]));
                Assert.NotEqual("done", after);
                if (!Ids(accepted[i]).Overlaps(touched))
                    Assert.True(before[i] == after, $"{accepted[i]}: {before[i]} before the retries, {after} after");
            }
        }, iter: 2000);
    }

    [Theory]
    [InlineData(2, 3)]
    [InlineData(3, 2)]
    [InlineData(3, 3)]
    public void A_refund_following_an_erp_restock_of_another_quantity_is_applied_and_frees_the_line(long erpUnits, long refundUnits)
    {
        var t = TimeSpan.Zero;
        var state = Run(SkuState.Empty(),
            At(new SetStock("delivery", 10, "count", "shop"), t),
            At(new Reserve("o1", 5, Start.AddMinutes(15)), t),
            At(new ConfirmPayment("o1"), t),
            At(new RestockRefund("r1", "o1", erpUnits, RestockTrigger.Erp, "shop", "erp", Start), t));
        Assert.Equal("RefundPending", Answer(SkuStock.Decide(state, At(new Ship("o1"), t))));

        state = Run(state, At(new RefundLine("r1", "o1", "shop", refundUnits, Restock: true, 1, Start), t));

        // The refund decides what left the order line; the ERP's report, what went back on sale (once).
        Assert.Equal((5 + erpUnits, refundUnits, 5 - refundUnits, erpUnits),
            (state.Levels.Available, state.Levels.Refunded, state.Levels.Committed, state.Levels.Restocked));
        SkuStockPropertyTests.AssertInvariants(state);
        Assert.Equal("alreadyDone", Answer(SkuStock.Decide(state, At(new RefundLine("r1", "o1", "shop", refundUnits, true, 1, Start), t))));
        Assert.Equal("alreadyDone", Answer(SkuStock.Decide(state, At(new RestockRefund("r1", "o1", erpUnits, RestockTrigger.Erp, "shop", "erp", Start), t))));
        Assert.Equal("alreadyDone", Answer(SkuStock.Decide(state, At(new RestockRefund("r1", null, null, RestockTrigger.Manual, "shop", "merchant", Start), t))));
        // The rest of the line is neither stuck nor refundable twice.
        Assert.Equal("done", Answer(SkuStock.Decide(state, At(new Ship("o1"), t))));
        Assert.Equal("RefundExceedsRemaining",
            Answer(SkuStock.Decide(state, At(new RefundLine("r2", "o1", "shop", 5 - refundUnits + 1, true, 1, Start), t))));
    }

    [Fact]
    public void An_erp_restock_reported_against_the_wrong_order_frees_that_line_when_the_refund_names_its_own()
    {
        var t = TimeSpan.Zero;
        var state = Run(SkuState.Empty(),
            At(new SetStock("delivery", 10, "count", "shop"), t),
            At(new Reserve("o1", 3, Start.AddMinutes(15)), t),
            At(new ConfirmPayment("o1"), t),
            At(new Reserve("o2", 4, Start.AddMinutes(15)), t),
            At(new ConfirmPayment("o2"), t),
            At(new RestockRefund("r1", "o1", 2, RestockTrigger.Erp, "shop", "erp", Start), t));
        Assert.Equal("RefundPending", Answer(SkuStock.Decide(state, At(new Ship("o1"), t))));

        // The refund is authoritative for its line: applied to o2, with the units the ERP put back counted once.
        state = Run(state, At(new RefundLine("r1", "o2", "shop", 2, Restock: true, 1, Start), t));
        Assert.Equal((5, 2, 5, 2), (state.Levels.Available, state.Levels.Refunded, state.Levels.Committed, state.Levels.Restocked));
        Assert.Equal((3L, 0L), (state.OpenLines["o1"].Held, state.OpenLines["o1"].RestockedAhead));
        Assert.Equal((2L, 0L), (state.OpenLines["o2"].Held, state.OpenLines["o2"].RestockedAhead));
        SkuStockPropertyTests.AssertInvariants(state);

        Assert.Equal("alreadyDone", Answer(SkuStock.Decide(state, At(new RefundLine("r1", "o2", "shop", 2, true, 1, Start), t))));
        Assert.Equal("ConflictingRepeat", Answer(SkuStock.Decide(state, At(new RefundLine("r1", "o1", "shop", 2, true, 1, Start), t))));
        Assert.Equal("alreadyDone", Answer(SkuStock.Decide(state, At(new RestockRefund("r1", null, null, RestockTrigger.Manual, "shop", "merchant", Start), t))));
        // The ERP retrying its report, with the order it named, restocks nothing again.
        Assert.Equal("alreadyDone", Answer(SkuStock.Decide(state, At(new RestockRefund("r1", "o1", 2, RestockTrigger.Erp, "shop", "erp", Start), t))));
        // Neither line is stuck: o1 can ship in full, o2 can be refunded for the rest.
        Assert.Equal("done", Answer(SkuStock.Decide(state, At(new Ship("o1"), t))));
        Assert.Equal("done", Answer(SkuStock.Decide(state, At(new RefundLine("r2", "o2", "shop", 2, true, 1, Start), t))));
        Assert.Equal("RefundExceedsRemaining", Answer(SkuStock.Decide(state, At(new RefundLine("r2", "o2", "shop", 3, true, 1, Start), t))));
    }

    [Fact]
    public void Expiry_releases_at_most_its_limit_oldest_deadline_first()
    {
        var t = TimeSpan.Zero;
        var state = Run(SkuState.Empty(),
            At(new SetStock("delivery", 10, "count", "shop"), t),
            At(new Reserve("late", 1, Start.AddMinutes(10)), t),
            At(new Reserve("early", 1, Start.AddMinutes(5)), t),
            At(new Reserve("paid", 1, Start.AddMinutes(1)), t),
            At(new ConfirmPayment("paid"), t),
            At(new Reserve("middle", 1, Start.AddMinutes(7)), t));

        var first = (Accepted)SkuStock.Decide(state, At(new ExpireReservations(Start.AddMinutes(20), Limit: 2), t));
        Assert.Equal(["early", "middle"], first.Events.Cast<ReservationReleased>().Select(e => e.OrderId));
        state = SkuStock.ApplyAll(state, first.Events);
        var second = (Accepted)SkuStock.Decide(state, At(new ExpireReservations(Start.AddMinutes(20), Limit: 2), t));
        Assert.Equal(["late"], second.Events.Cast<ReservationReleased>().Select(e => e.OrderId));
        Assert.Equal(Start.AddMinutes(10), state.NextPaymentDeadline());
    }

    [Fact]
    public void A_refund_is_forgotten_once_restocked_its_line_closed_and_past_the_horizon_and_never_restocks_again()
    {
        var t = TimeSpan.Zero;
        var state = Run(SkuState.Empty(TimeSpan.FromHours(1)),
            At(new SetStock("delivery", 10, "count", "shop"), t),
            At(new Reserve("o1", 2, Start.AddMinutes(15)), t),
            At(new ConfirmPayment("o1"), t),
            At(new Reserve("o2", 2, Start.AddMinutes(15)), t),
            At(new ConfirmPayment("o2"), t),
            At(new Reserve("o3", 2, Start.AddMinutes(15)), t),
            At(new ConfirmPayment("o3"), t),
            At(new RefundLine("restocked", "o1", "shop", 2, Restock: true, 1, Start), t),
            At(new RefundLine("not-restocked", "o2", "shop", 2, Restock: false, 1, Start), t),
            At(new RefundLine("line-open", "o3", "shop", 1, Restock: true, 1, Start), t));

        state = Run(state, At(new AdjustStock("hours-later", 1, "count", "shop"), TimeSpan.FromHours(2)));
        // Kept: a merchant may still restock the one not restocked; the open line may still be refunded further.
        Assert.Equal(["line-open", "not-restocked"], state.Refunds.Keys.Order());
        Assert.Equal(["hours-later"], state.Remembered.Adjustments.Keys);
        Assert.Empty(state.Remembered.Lines);

        var levels = state.Levels;
        foreach (var late in new SkuCommand[]
                 {
                     new RefundLine("restocked", "o1", "shop", 2, Restock: true, 1, Start),
                     new RestockRefund("restocked", null, null, RestockTrigger.Manual, "shop", "merchant", Start),
                     new RestockRefund("restocked", "o1", 2, RestockTrigger.Erp, "shop", "erp", Start),
                 })
            Assert.IsType<Rejected>(SkuStock.Decide(state, At(late, TimeSpan.FromHours(2))));
        Assert.Equal("done", Answer(SkuStock.Decide(state,
            At(new RestockRefund("not-restocked", null, null, RestockTrigger.Manual, "shop", "merchant", Start), TimeSpan.FromHours(2)))));

        state = Run(state,
            At(new RestockRefund("not-restocked", null, null, RestockTrigger.Manual, "shop", "merchant", Start), TimeSpan.FromHours(2)),
            At(new Ship("o3"), TimeSpan.FromHours(2)),
            At(new AdjustStock("days-later", 1, "count", "shop"), TimeSpan.FromHours(5)));
        Assert.Empty(state.Refunds);
        Assert.Equal(levels with { Available = levels.Available + 3, Restocked = levels.Restocked + 2, Committed = 0, Shipped = 1 }, state.Levels);
    }

    /// <summary>
    /// Random schedules, then 20,000 other lines finish, then every command of the schedule is sent again among
    /// new ones: each answer matches a model that remembers everything (within the horizon nothing is forgotten).
    /// </summary>
    [Fact]
    public void Repeats_after_twenty_thousand_other_lines_and_after_their_line_closed_are_recognised_or_refused_truthfully()
    {
        Gen.Select(SkuStockPropertyTests.Schedule, SkuStockPropertyTests.Schedule, Gen.Int[0, 1000].Array[160]).Sample((first, later, picks) =>
        {
            var state = SkuState.Empty();
            var model = new SkuStockPropertyTests.Model();
            var minute = 0;
            void Step(SkuCommand command)
            {
                command = At(command, TimeSpan.FromMinutes(minute++));
                var decision = SkuStock.Decide(state, command);
                Assert.Equal(model.Run(command), decision is Accepted ? "ok" : ((Rejected)decision).Code.ToString());
                state = SkuStock.ApplyAll(state, SkuStockPropertyTests.Stored(decision));
                Assert.Equal(model.Levels, state.Levels);
                SkuStockPropertyTests.AssertInvariants(state);
            }

            foreach (var command in first) Step(command);
            state = FinishOtherLines(state, 20_000, TimeSpan.FromMinutes(minute), TimeSpan.FromHours(1));
            minute += 61;
            var retries = first.Concat(later).Select((c, i) => (c, picks[i % picks.Length])).OrderBy(p => p.Item2).Select(p => p.c);
            foreach (var command in retries) Step(command);
            Assert.True(state.Remembered.Lines.Count >= 20_000);
        }, iter: 25);
    }

    private static HashSet<string> Ids(SkuCommand command) => command switch
    {
        SetStock c => ["adj:" + c.AdjustmentId],
        AdjustStock c => ["adj:" + c.AdjustmentId],
        Reserve c => ["order:" + c.OrderId],
        Release c => ["order:" + c.OrderId],
        ConfirmPayment c => ["order:" + c.OrderId],
        Ship c => ["order:" + c.OrderId],
        RefundLine c => ["order:" + c.OrderId, "refund:" + c.RefundId],
        RestockRefund c => c.OrderId is null ? ["refund:" + c.RefundId] : ["order:" + c.OrderId, "refund:" + c.RefundId],
        _ => [],
    };
}
