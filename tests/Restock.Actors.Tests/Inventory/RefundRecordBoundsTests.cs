using Restock.Actors.Domain.Inventory;
using Restock.Actors.Engine.Inventory;

namespace Restock.Actors.Tests.Inventory;

/// <summary>
/// What a SKU keeps of its refunds (the pure core): refunds not restocked leave once their manual-restock window has
/// closed, an ERP restock never holds a line back for a refund refused for good, and no refund restocks twice.
/// </summary>
public sealed class RefundRecordBoundsTests
{
    private static readonly DateTimeOffset Start = SkuStockPropertyTests.Start;
    private static readonly TimeSpan Horizon = TimeSpan.FromHours(1);
    private static readonly TimeSpan Window = TimeSpan.FromDays(2);

    private static SkuCommand At(SkuCommand command, TimeSpan after) => command with { ReceivedAt = Start + after };

    private static SkuState Run(SkuState state, params SkuCommand[] commands) =>
        commands.Aggregate(state, (s, c) => SkuStock.Decide(s, c) switch
        {
            Accepted a => SkuStock.ApplyAll(s, a.Events),
            Rejected r => throw new InvalidOperationException($"{c} was rejected: {r}"),
            _ => s,
        });

    private static string Answer(Decision decision) => decision switch
    {
        Accepted { Events.Count: > 0 } => "done",
        Accepted => "alreadyDone",
        Rejected r => r.Code.ToString(),
        _ => "?",
    };

    private static RefundLine Refund(string refundId, string orderId, long quantity, bool restock = false) =>
        new(refundId, orderId, "shop", quantity, restock, 1, Start);

    private static RestockRefund Manual(string refundId) => new(refundId, null, null, RestockTrigger.Manual, "shop", "merchant", Start);

    private static RestockRefund Erp(string refundId, string orderId, long quantity) => new(refundId, orderId, quantity, RestockTrigger.Erp, "shop", "erp", Start);

    /// <summary>A SKU with <paramref name="count"/> paid orders of one unit, each refunded in full with the switch off.</summary>
    private static SkuState RefundedWithoutRestock(int count)
    {
        var state = Run(SkuState.Empty(Horizon, Window), At(new SetStock("delivery", count, "count", "shop"), TimeSpan.Zero));
        for (var i = 0; i < count; i++)
            state = Run(state,
                At(new Reserve($"o{i}", 1, Start.AddMinutes(15)), TimeSpan.Zero),
                At(new ConfirmPayment($"o{i}"), TimeSpan.Zero),
                At(Refund($"r{i}", $"o{i}", 1), TimeSpan.Zero));
        return state;
    }

    [Fact]
    public void Refunds_not_restocked_leave_the_state_and_the_snapshot_once_their_manual_restock_window_has_closed()
    {
        var small = RefundedWithoutRestock(10);
        var large = RefundedWithoutRestock(5_000);
        Assert.Equal(5_000, large.Refunds.Count);

        // Inside the window they stay, restockable by hand; past it they go at the SKU's next change.
        large = Run(large, At(new AdjustStock("a-day-later", 1, "count", "shop"), TimeSpan.FromDays(1)));
        Assert.Equal(5_000, large.Refunds.Count);
        small = Run(small, At(new AdjustStock("after-the-window", 1, "count", "shop"), Window + TimeSpan.FromHours(2)));
        large = Run(large, At(new AdjustStock("after-the-window", 1, "count", "shop"), Window + TimeSpan.FromHours(2)));

        Assert.Empty(large.Refunds);
        Assert.True(large.Remembered.Queue.Count() <= 2, $"{large.Remembered.Queue.Count()} entries queued");
        var (smallSnapshot, largeSnapshot) = (SkuSnapshot.From(small), SkuSnapshot.From(large));
        Assert.Empty(largeSnapshot.Refunds);
        Assert.Equal(smallSnapshot.Finished!.Queued, largeSnapshot.Finished!.Queued);
        Assert.Equal(5_000 + 2, large.Levels.Refunded + large.Levels.Available);
        SkuStockPropertyTests.AssertInvariants(large);
    }

    [Fact]
    public void A_restock_on_request_after_the_window_closed_is_refused_with_RestockWindowClosed_and_never_restocks_later()
    {
        var t = TimeSpan.Zero;
        var state = Run(SkuState.Empty(Horizon, Window),
            At(new SetStock("delivery", 10, "count", "shop"), t),
            At(new Reserve("o1", 3, Start.AddMinutes(15)), t),
            At(new ConfirmPayment("o1"), t),
            At(Refund("in-time", "o1", 1), t),
            At(Refund("too-late", "o1", 1), t));

        var inside = Window - TimeSpan.FromMinutes(1);
        state = Run(state, At(Manual("in-time"), inside));
        Assert.Equal("alreadyDone", Answer(SkuStock.Decide(state, At(Manual("in-time"), Window * 3))));

        // The line is still open, so the record stays; the window still decides.
        var after = Window + TimeSpan.FromMinutes(1);
        var closed = SkuStock.Decide(state, At(Manual("too-late"), after));
        Assert.Equal("RestockWindowClosed", Answer(closed));
        Assert.Contains("window (2 days from the refund) has closed; put the units back with a stock adjustment", ((Rejected)closed).Message);
        Assert.Equal("RestockWindowClosed", Answer(SkuStock.Decide(state, At(Erp("too-late", "o1", 1), after))));

        // Once the line has shipped and the horizon has passed, the SKU forgets both; nothing can restock them again.
        var levels = Run(state, At(new Ship("o1"), after)).Levels;
        state = Run(state, At(new Ship("o1"), after), At(new AdjustStock("later", 1, "count", "shop"), after + Horizon * 3));
        Assert.Empty(state.Refunds);
        foreach (var late in new SkuCommand[] { Manual("too-late"), Manual("in-time"), Erp("too-late", "o1", 1), Refund("too-late", "o1", 1) })
            Assert.IsType<Rejected>(SkuStock.Decide(state, At(late, after + Horizon * 3)));
        Assert.Equal(levels with { Available = levels.Available + 1 }, state.Levels);
    }

    [Fact]
    public void A_refund_record_whose_erp_restock_named_another_order_stays_while_that_order_is_open()
    {
        var t = TimeSpan.Zero;
        var state = Run(SkuState.Empty(Horizon, Window),
            At(new SetStock("delivery", 10, "count", "shop"), t),
            At(new Reserve("o1", 3, Start.AddMinutes(15)), t),
            At(new ConfirmPayment("o1"), t),
            At(new Reserve("o2", 2, Start.AddMinutes(15)), t),
            At(new ConfirmPayment("o2"), t),
            At(Erp("r1", "o1", 2), t),
            At(Refund("r1", "o2", 2), t),
            At(new AdjustStock("later", 1, "count", "shop"), Horizon * 3));
        var restocked = state.Levels.Restocked;

        // o2 closed with the refund, but the ERP's report names o1, still open: its repeat must still be recognised.
        Assert.Equal("alreadyDone", Answer(SkuStock.Decide(state, At(Erp("r1", "o1", 2), Horizon * 3))));

        state = Run(state, At(new Ship("o1"), Horizon * 3), At(new AdjustStock("much-later", 1, "count", "shop"), Horizon * 6));
        Assert.Empty(state.Refunds);
        Assert.IsType<Rejected>(SkuStock.Decide(state, At(Erp("r1", "o1", 2), Horizon * 6)));
        Assert.Equal(restocked, state.Levels.Restocked);
    }

    public static TheoryData<string, string> FinalRefusals => new()
    {
        { "the order the refund names has shipped", "AlreadyShipped" },
        { "the order the refund names was refunded in full", "RefundExceedsRemaining" },
        { "the order the refund names was cancelled", "AlreadyReleased" },
        { "the refund asks more than the named order holds", "RefundExceedsRemaining" },
        { "the refund asks more than the erp's own order holds", "RefundExceedsRemaining" },
    };

    [Theory]
    [MemberData(nameof(FinalRefusals))]
    public void A_refund_refused_for_good_frees_the_line_its_erp_restock_held_back(string @case, string code)
    {
        var t = TimeSpan.Zero;
        var state = Run(SkuState.Empty(Horizon, Window),
            At(new SetStock("delivery", 10, "count", "shop"), t),
            At(new Reserve("o1", 3, Start.AddMinutes(15)), t),
            At(new ConfirmPayment("o1"), t),
            At(new Reserve("o2", 2, Start.AddMinutes(15)), t));
        state = @case switch
        {
            "the order the refund names has shipped" => Run(state, At(new ConfirmPayment("o2"), t), At(new Ship("o2"), t)),
            "the order the refund names was refunded in full" => Run(state, At(new ConfirmPayment("o2"), t), At(Refund("other", "o2", 2), t)),
            "the order the refund names was cancelled" => Run(state, At(new Release("o2"), t)),
            _ => Run(state, At(new ConfirmPayment("o2"), t)),
        };
        state = Run(state, At(Erp("r1", "o1", 2), t));
        var refund = @case switch
        {
            "the refund asks more than the named order holds" => Refund("r1", "o2", 3, restock: true),
            "the refund asks more than the erp's own order holds" => Refund("r1", "o1", 4, restock: true),
            _ => Refund("r1", "o2", 2, restock: true),
        };
        var levels = state.Levels;
        Assert.Equal("RefundPending", Answer(SkuStock.Decide(state, At(new Ship("o1"), t))));

        var refused = Assert.IsType<Rejected>(SkuStock.Decide(state, At(refund, t)));
        Assert.Equal(code, refused.Code.ToString());
        state = SkuStock.ApplyAll(state, refused.Settles ?? []);

        // The units the ERP put back stay on sale, counted once; o1 is free to ship all it holds.
        Assert.Equal(levels, state.Levels);
        Assert.Equal(0, state.OpenLines["o1"].RestockedAhead);
        SkuStockPropertyTests.AssertInvariants(state);
        Assert.Equal("alreadyDone", Answer(SkuStock.Decide(state, At(Erp("r1", "o1", 2), t))));
        Assert.Equal("alreadyDone", Answer(SkuStock.Decide(state, At(Manual("r1"), t))));
        var again = Assert.IsType<Rejected>(SkuStock.Decide(state, At(refund, t)));
        Assert.Null(again.Settles);
        state = Run(state, At(new Ship("o1"), t));
        Assert.Equal(levels with { Committed = levels.Committed - 3, Shipped = levels.Shipped + 3 }, state.Levels);
        SkuStockPropertyTests.AssertInvariants(state);
    }

    [Fact]
    public void A_refund_refused_for_now_keeps_its_erp_restock_holding_the_line()
    {
        var t = TimeSpan.Zero;
        var state = Run(SkuState.Empty(Horizon, Window),
            At(new SetStock("delivery", 10, "count", "shop"), t),
            At(new Reserve("o1", 3, Start.AddMinutes(15)), t),
            At(new ConfirmPayment("o1"), t),
            At(new Reserve("o2", 2, Start.AddMinutes(15)), t),
            At(Erp("r1", "o1", 2), t));

        foreach (var early in new[] { Refund("r1", "o2", 2), Refund("r1", "o3", 2) })
        {
            var refused = Assert.IsType<Rejected>(SkuStock.Decide(state, At(early, t)));
            Assert.Null(refused.Settles);
        }
        Assert.Equal("RefundPending", Answer(SkuStock.Decide(state, At(new Ship("o1"), t))));
    }
}
