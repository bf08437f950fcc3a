using System.Collections.Immutable;
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

public enum LineOutcome
{
    /// <summary>The SKU applied the refund (or had already applied it).</summary>
    Applied = 1,

    /// <summary>The SKU refused it (already shipped, more than is left...): recorded, not retried.</summary>
    Rejected = 2,
}

public sealed record LineSettlement(LineOutcome Outcome, string? Code, string? Message);

public sealed record RefundProgress(RefundRequest Refund, RestockPolicy? Policy, ImmutableDictionary<string, LineSettlement> Settled)
{
    public bool Finished => Policy is not null && Settled.Count == Refund.Lines.Count;

    public IEnumerable<RefundedLine> Unsettled => Refund.Lines.Where(l => !Settled.ContainsKey(l.SkuId));
}

/// <summary>Every refund of one order and how far each has got.</summary>
public sealed record OrderRefunds(ImmutableDictionary<string, RefundProgress> Refunds)
{
    public static readonly OrderRefunds Empty = new(ImmutableDictionary<string, RefundProgress>.Empty);

    public IEnumerable<RefundProgress> Unfinished => Refunds.Values.Where(r => !r.Finished);
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

    public static RefundDecision Receive(OrderRefunds state, RefundRequest r)
    {
        if (Validate(r) is { } invalid) return new RefundRejected(RefundRejectionCode.InvalidInput, invalid);
        if (!state.Refunds.TryGetValue(r.RefundId, out var known))
            return new RefundAccepted([new RefundReceived(r)]);
        return known.Refund.SameAs(r)
            ? new RefundAccepted([])
            : new RefundRejected(RefundRejectionCode.ConflictingRepeat,
                $"refund {r.RefundId} was already received with other lines or another shop");
    }

    public static OrderRefunds Apply(OrderRefunds state, RefundEvent @event) => @event switch
    {
        RefundReceived e => new(state.Refunds.Add(e.Refund.RefundId,
            new RefundProgress(e.Refund, null, ImmutableDictionary<string, LineSettlement>.Empty))),
        RestockDecided e => Update(state, e.RefundId, p => p with { Policy = new RestockPolicy(e.Restock, e.SettingVersion) }),
        LineSettled e => Update(state, e.RefundId, p => p with { Settled = p.Settled.SetItem(e.SkuId, new LineSettlement(e.Outcome, e.Code, e.Message)) }),
        _ => throw new ArgumentOutOfRangeException(nameof(@event), @event.GetType().Name, "unknown refund event"),
    };

    private static OrderRefunds Update(OrderRefunds state, string refundId, Func<RefundProgress, RefundProgress> change) =>
        new(state.Refunds.SetItem(refundId, change(state.Refunds[refundId])));

    private static string? Validate(RefundRequest r)
    {
        if (IsBadId(r.RefundId)) return "refundId must be 1 to 128 characters";
        if (IsBadId(r.OrderId)) return "orderId must be 1 to 128 characters";
        if (IsBadId(r.ShopId)) return "shopId must be 1 to 128 characters";
        if (r.Lines is null || r.Lines.Count == 0 || r.Lines.Count > MaxLines) return $"lines must hold 1 to {MaxLines} lines";
        if (r.Lines.Any(l => IsBadId(l.SkuId))) return "every line needs a skuId of 1 to 128 characters";
        if (r.Lines.Any(l => l.Quantity <= 0 || l.Quantity > Inventory.SkuStock.MaxQuantity)) return "every line needs a quantity of at least 1";
        if (r.Lines.Select(l => l.SkuId).Distinct().Count() != r.Lines.Count) return "a SKU appears on two lines: give one line per SKU";
        return null;
    }

    private static bool IsBadId(string? id) => string.IsNullOrWhiteSpace(id) || id.Length > 128;
}
