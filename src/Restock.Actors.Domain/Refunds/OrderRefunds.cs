using System.Collections.Immutable;
using Restock.Actors.Domain.Inventory;
using Restock.Actors.Domain.Shops;

namespace Restock.Actors.Domain.Refunds;

public sealed record RefundedLine(string SkuId, long Quantity);

/// <summary>"This refund succeeded before shipment": the lines may be a subset of the order (a partial refund).</summary>
public sealed record RefundRequest(string RefundId, string OrderId, string ShopId, IReadOnlyList<RefundedLine> Lines, DateTimeOffset CompletedAt)
    : IRestockMessage
{
    public bool SameAs(RefundRequest other) =>
        RefundId == other.RefundId && OrderId == other.OrderId && ShopId == other.ShopId &&
        Lines.OrderBy(l => l.SkuId, StringComparer.Ordinal).SequenceEqual(other.Lines.OrderBy(l => l.SkuId, StringComparer.Ordinal));
}

public abstract record RefundEvent : IRestockMessage;

public sealed record RefundReceived(RefundRequest Refund) : RefundEvent;

public sealed record RestockDecided(string RefundId, bool Restock, long SettingVersion) : RefundEvent;

public sealed record LineSettled(string RefundId, string SkuId, LineOutcome Outcome, string? Code, string? Message) : RefundEvent;

/// <summary>
/// The SKU refused a line for a reason that can still change (the refund overtook the payment confirmation or the
/// reservation): the line is retried from <paramref name="Since"/> on, for the configured retry time.
/// </summary>
public sealed record LineDeferred(string RefundId, string SkuId, string Code, string? Message, DateTimeOffset Since) : RefundEvent;

/// <summary>A deferred line did not catch up within the retry time: it waits for someone to look at it.</summary>
public sealed record LineParked(
    string RefundId, string OrderId, string ShopId, string SkuId, long Quantity, string Code, string? Message,
    DateTimeOffset Since, DateTimeOffset At) : RefundEvent, IRefundAttentionEvent;

/// <summary>The refund was submitted again: its parked lines are retried afresh.</summary>
public sealed record LinesRearmed(string RefundId, string OrderId, IReadOnlyList<string> SkuIds, DateTimeOffset At)
    : RefundEvent, IRefundAttentionEvent;

/// <summary>An event the "needs attention" read model reads; the coordinator tags these when it stores them.</summary>
public interface IRefundAttentionEvent
{
    public const string Tag = "refund-attention";
}

public enum LineOutcome
{
    /// <summary>The SKU applied the refund (or had already applied it).</summary>
    Applied = 1,

    /// <summary>The SKU refused it for good (already shipped, more than is left...): recorded, not retried.</summary>
    Rejected = 2,

    /// <summary>Refused for a temporary reason for longer than the retry time: parked until the refund is submitted again.</summary>
    NeedsAttention = 3,
}

public sealed record LineSettlement(LineOutcome Outcome, string? Code, string? Message);

/// <summary>A line the SKU refused for a temporary reason: since when, and whether it has been parked.</summary>
public sealed record LineWait(string Code, string? Message, DateTimeOffset Since, bool Parked);

public sealed record RefundProgress(
    RefundRequest Refund, RestockPolicy? Policy, ImmutableDictionary<string, LineSettlement> Settled,
    ImmutableDictionary<string, LineWait> Waiting)
{
    /// <summary>Every line has a final answer.</summary>
    public bool Finished => Policy is not null && Settled.Count == Refund.Lines.Count;

    // The checks below are loops, not LINQ: the coordinator asks them on every message of every refund.
    public bool NeedsAttention
    {
        get
        {
            foreach (var (_, wait) in Waiting)
                if (wait.Parked) return true;
            return false;
        }
    }

    /// <summary>Something is left for the coordinator to do (parked lines wait for a resubmission instead).</summary>
    public bool InProgress
    {
        get
        {
            if (Policy is null) return true;
            foreach (var line in Refund.Lines)
                if (IsActive(line.SkuId)) return true;
            return false;
        }
    }

    public IEnumerable<RefundedLine> Unsettled => Refund.Lines.Where(l => !Settled.ContainsKey(l.SkuId));

    /// <summary>The lines to send to their SKU: neither settled nor parked.</summary>
    public IEnumerable<RefundedLine> Active => Refund.Lines.Where(l => IsActive(l.SkuId));

    /// <summary>Whether the line of <paramref name="skuId"/> is still to be sent to its SKU: neither settled nor parked.</summary>
    public bool IsActive(string skuId) => !Settled.ContainsKey(skuId) && !(Waiting.TryGetValue(skuId, out var w) && w.Parked);
}

/// <summary>Every refund of one order and how far each has got.</summary>
public sealed record OrderRefunds(ImmutableDictionary<string, RefundProgress> Refunds)
{
    public static readonly OrderRefunds Empty = new(ImmutableDictionary<string, RefundProgress>.Empty);

    /// <summary>Refunds the coordinator still works on.</summary>
    public IEnumerable<RefundProgress> InProgress => Refunds.Values.Where(r => r.InProgress);

    /// <summary>Whether any refund is in progress (<see cref="InProgress"/>), without an iterator.</summary>
    public bool AnyInProgress
    {
        get
        {
            foreach (var (_, refund) in Refunds)
                if (refund.InProgress) return true;
            return false;
        }
    }
}

public enum RefundRejectionCode
{
    InvalidInput = 1,
    ConflictingRepeat = 2,
}

public abstract record RefundDecision;

public sealed record RefundAccepted(IReadOnlyList<RefundEvent> Events) : RefundDecision;

public sealed record RefundRejected(RefundRejectionCode Code, string Message) : RefundDecision;

/// <summary>The refund coordinator's rules: pure functions.</summary>
public static class RefundRules
{
    public const int MaxLines = 500;

    /// <summary>
    /// Refusals that can still change: the refund overtook the payment confirmation (<c>NotPaid</c>) or the
    /// reservation (<c>UnknownOrderLine</c>, <c>UnknownSku</c>). Every other refusal is final.
    /// </summary>
    public static readonly IReadOnlySet<RejectionCode> Temporary =
        new HashSet<RejectionCode> { RejectionCode.NotPaid, RejectionCode.UnknownOrderLine, RejectionCode.UnknownSku };

    /// <summary>A new refund is recorded; a repeat changes nothing, except that it re-arms the refund's parked lines.</summary>
    public static RefundDecision Receive(OrderRefunds state, RefundRequest r, DateTimeOffset now)
    {
        if (Validate(r) is { } invalid) return new RefundRejected(RefundRejectionCode.InvalidInput, invalid);
        if (!state.Refunds.TryGetValue(r.RefundId, out var known))
            return new RefundAccepted([new RefundReceived(r)]);
        if (!known.Refund.SameAs(r))
            return new RefundRejected(RefundRejectionCode.ConflictingRepeat,
                $"refund {r.RefundId} was already received with other lines or another shop");
        var parked = known.Waiting.Where(w => w.Value.Parked).Select(w => w.Key).Order(StringComparer.Ordinal).ToList();
        return parked.Count == 0 ? new RefundAccepted([]) : new RefundAccepted([new LinesRearmed(r.RefundId, r.OrderId, parked, now)]);
    }

    /// <summary>
    /// What a SKU's answer to a line means: applied or refused for good (settled), refused for now (deferred, and
    /// retried by the caller), or refused for now for longer than <paramref name="retryFor"/> (parked).
    /// No events: the answer adds nothing (the line already has this state).
    /// </summary>
    public static IReadOnlyList<RefundEvent> Answer(
        OrderRefunds state, string refundId, string skuId, RejectionCode? refusal, string? message, DateTimeOffset now, TimeSpan retryFor)
    {
        var progress = state.Refunds[refundId];
        var waiting = progress.Waiting.GetValueOrDefault(skuId);
        if (progress.Settled.ContainsKey(skuId) || waiting is { Parked: true }) return [];
        if (refusal is not { } code) return [new LineSettled(refundId, skuId, LineOutcome.Applied, null, null)];
        if (!Temporary.Contains(code)) return [new LineSettled(refundId, skuId, LineOutcome.Rejected, code.ToString(), message)];
        var since = waiting?.Since ?? now;
        if (now - since >= retryFor)
        {
            var refund = progress.Refund;
            var quantity = refund.Lines.Single(l => l.SkuId == skuId).Quantity;
            return [new LineParked(refundId, refund.OrderId, refund.ShopId, skuId, quantity, code.ToString(), message, since, now)];
        }
        return waiting?.Code == code.ToString() ? [] : [new LineDeferred(refundId, skuId, code.ToString(), message, since)];
    }

    public static OrderRefunds Apply(OrderRefunds state, RefundEvent @event) => @event switch
    {
        RefundReceived e => new(state.Refunds.Add(e.Refund.RefundId,
            new RefundProgress(e.Refund, null, ImmutableDictionary<string, LineSettlement>.Empty, ImmutableDictionary<string, LineWait>.Empty))),
        RestockDecided e => Update(state, e.RefundId, p => p with { Policy = new RestockPolicy(e.Restock, e.SettingVersion) }),
        LineSettled e => Update(state, e.RefundId, p => p with
        {
            Settled = p.Settled.SetItem(e.SkuId, new LineSettlement(e.Outcome, e.Code, e.Message)),
            Waiting = p.Waiting.Remove(e.SkuId),
        }),
        LineDeferred e => Update(state, e.RefundId, p => p with { Waiting = p.Waiting.SetItem(e.SkuId, new LineWait(e.Code, e.Message, e.Since, false)) }),
        LineParked e => Update(state, e.RefundId, p => p with { Waiting = p.Waiting.SetItem(e.SkuId, new LineWait(e.Code, e.Message, e.Since, true)) }),
        LinesRearmed e => Update(state, e.RefundId, p => p with { Waiting = p.Waiting.RemoveRange(e.SkuIds) }),
        _ => throw new ArgumentOutOfRangeException(nameof(@event), @event.GetType().Name, "unknown refund event"),
    };

    private static OrderRefunds Update(OrderRefunds state, string refundId, Func<RefundProgress, RefundProgress> change) =>
        new(state.Refunds.SetItem(refundId, change(state.Refunds[refundId])));

    private static string? Validate(RefundRequest r)
    {
        if (!Ids.IsValid(r.RefundId)) return $"refundId must be {Ids.Rule}";
        if (!Ids.IsValid(r.OrderId)) return $"orderId must be {Ids.Rule}";
        if (!Ids.IsValid(r.ShopId)) return $"shopId must be {Ids.Rule}";
        if (r.Lines is null || r.Lines.Count == 0 || r.Lines.Count > MaxLines) return $"lines must hold 1 to {MaxLines} lines";
        if (r.Lines.Any(l => !Ids.IsValid(l.SkuId))) return $"every line needs a skuId of {Ids.Rule}";
        if (r.Lines.Any(l => l.Quantity <= 0 || l.Quantity > SkuStock.MaxQuantity)) return "every line needs a quantity of at least 1";
        if (r.Lines.Select(l => l.SkuId).Distinct().Count() != r.Lines.Count) return "a SKU appears on two lines: give one line per SKU";
        return null;
    }
}
