using Restock.Actors.Domain;
using Restock.Actors.Domain.Inventory;
using Restock.Actors.Domain.Refunds;

namespace Restock.Actors.Engine.Refunds;

/// <summary>Anything addressed to the coordinator of one order's refunds.</summary>
public interface IOrderRefundsMessage : IRestockMessage
{
    string OrderId { get; }
}

public sealed record RefundSucceeded(RefundRequest Refund) : IOrderRefundsMessage
{
    public string OrderId => Refund.OrderId;
}

public sealed record GetRefund(string OrderId, string RefundId) : IOrderRefundsMessage;

/// <summary>
/// Starts the order's coordinator again, which resumes every unfinished refund as it recovers: sent by a coordinator to
/// its shard when it stops with work left after asking to be passivated.
/// </summary>
public sealed record ResumeRefunds(string OrderId) : IOrderRefundsMessage;

public enum RefundOutcome
{
    /// <summary>The coordinator has taken the refund on (durably) and will finish it.</summary>
    Accepted = 1,

    /// <summary>The same refund was already received: nothing new.</summary>
    AlreadyReceived = 2,

    Rejected = 3,

    NotFound = 4,
}

/// <summary>
/// One line's result: <c>Outcome</c> is null while it is still being sent; <c>Code</c> and <c>RetryingSince</c> show a
/// temporary refusal being retried, or the reason a line was parked (<c>NeedsAttention</c>) or refused for good.
/// </summary>
public sealed record RefundLineStatus(
    string SkuId, long Quantity, LineOutcome? Outcome, string? Code, string? Message, DateTimeOffset? RetryingSince = null);

/// <summary>Where a refund stands: whether it restocks (and under which setting version) and each line's result.</summary>
public sealed record RefundStatus(
    string RefundId, string OrderId, string ShopId, bool Finished, bool? Restock, long? SettingVersion, RefundLineStatus[] Lines,
    bool NeedsAttention = false)
{
    public static RefundStatus From(RefundProgress p) => new(
        p.Refund.RefundId, p.Refund.OrderId, p.Refund.ShopId, p.Finished, p.Policy?.Restock, p.Policy?.SettingVersion,
        p.Refund.Lines.Select(l => Line(p, l)).ToArray(), p.NeedsAttention);

    /// <summary>
    /// What the shop the refund names may read: the lines whose SKU answered for that shop, null when none did. A SKU
    /// checks its owner before anything else, so any answer but <c>NotOwner</c> means the shop owns it; a line not
    /// answered yet is hidden too, as its SKU may be another shop's. So a shop learns nothing of another shop's SKUs.
    /// </summary>
    public RefundStatus? AsSeenByNamedShop()
    {
        var owned = Lines.Where(l => (l.Outcome is not null || l.Code is not null) && l.Code != nameof(RejectionCode.NotOwner)).ToArray();
        return owned.Length == 0 ? null : this with { Lines = owned };
    }

    private static RefundLineStatus Line(RefundProgress p, RefundedLine l)
    {
        if (p.Settled.TryGetValue(l.SkuId, out var s)) return new(l.SkuId, l.Quantity, s.Outcome, s.Code, s.Message);
        if (p.Waiting.TryGetValue(l.SkuId, out var w))
            return w.Parked
                ? new(l.SkuId, l.Quantity, LineOutcome.NeedsAttention, w.Code, w.Message, w.Since)
                : new(l.SkuId, l.Quantity, null, w.Code, w.Message, w.Since);
        return new(l.SkuId, l.Quantity, null, null, null);
    }
}

public sealed record RefundReply(string OrderId, RefundOutcome Outcome, string? Code, string? Message, RefundStatus? Status)
    : IRestockMessage;
