using Restock.Actors.Domain.Inventory;
using Restock.Actors.Domain.Refunds;

namespace Restock.Actors.Tests.Refunds;

public sealed class RefundRulesTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 26, 12, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan RetryFor = TimeSpan.FromHours(1);

    private static OrderRefunds Received() =>
        new[]
        {
            (RefundEvent)new RefundReceived(new RefundRequest("r1", "o1", "shop", [new RefundedLine("mug", 2)], T0)),
            new RestockDecided("r1", true, 3),
        }.Aggregate(OrderRefunds.Empty, RefundRules.Apply);

    [Theory]
    [InlineData(RejectionCode.AlreadyShipped)]
    [InlineData(RejectionCode.RefundExceedsRemaining)]
    [InlineData(RejectionCode.AlreadyReleased)]
    [InlineData(RejectionCode.AlreadyRefunded)]
    [InlineData(RejectionCode.ConflictingRepeat)]
    [InlineData(RejectionCode.InvalidQuantity)]
    [InlineData(RejectionCode.NotOwner)]
    public void Refusals_that_cannot_change_settle_the_line_at_once(RejectionCode code)
    {
        var settled = Assert.IsType<LineSettled>(Assert.Single(RefundRules.Answer(Received(), "r1", "mug", code, "no", T0, RetryFor)));
        Assert.Equal((LineOutcome.Rejected, code.ToString()), (settled.Outcome, settled.Code));
    }

    [Theory]
    [InlineData(RejectionCode.NotPaid)]
    [InlineData(RejectionCode.UnknownOrderLine)]
    [InlineData(RejectionCode.UnknownSku)]
    public void Refusals_that_can_change_are_retried_for_the_retry_time_then_parked_and_a_resubmission_rearms_them(RejectionCode code)
    {
        var state = Received();
        var deferred = Assert.IsType<LineDeferred>(Assert.Single(RefundRules.Answer(state, "r1", "mug", code, "not yet", T0, RetryFor)));
        state = RefundRules.Apply(state, deferred);
        Assert.Empty(RefundRules.Answer(state, "r1", "mug", code, "not yet", T0.AddMinutes(59), RetryFor));
        Assert.True(state.Refunds["r1"].InProgress);

        var parked = Assert.IsType<LineParked>(Assert.Single(RefundRules.Answer(state, "r1", "mug", code, "not yet", T0.AddHours(1), RetryFor)));
        Assert.Equal((T0, 2L, "shop"), (parked.Since, parked.Quantity, parked.ShopId));
        state = RefundRules.Apply(state, parked);
        var progress = state.Refunds["r1"];
        Assert.True(progress.NeedsAttention);
        Assert.False(progress.Finished);
        Assert.False(progress.InProgress);
        Assert.Empty(RefundRules.Answer(state, "r1", "mug", null, null, T0.AddHours(2), RetryFor));

        var again = Assert.IsType<RefundAccepted>(RefundRules.Receive(state, progress.Refund with { CompletedAt = T0.AddHours(3) }, T0.AddHours(3)));
        state = RefundRules.Apply(state, Assert.IsType<LinesRearmed>(Assert.Single(again.Events)));
        Assert.True(state.Refunds["r1"].InProgress);
        var applied = Assert.IsType<LineSettled>(Assert.Single(RefundRules.Answer(state, "r1", "mug", null, null, T0.AddHours(3), RetryFor)));
        state = RefundRules.Apply(state, applied);
        Assert.True(state.Refunds["r1"].Finished);
        Assert.False(state.Refunds["r1"].NeedsAttention);
        Assert.Empty(Assert.IsType<RefundAccepted>(RefundRules.Receive(state, progress.Refund, T0.AddHours(4))).Events);
    }
}
