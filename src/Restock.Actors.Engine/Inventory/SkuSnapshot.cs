using System.Collections.Immutable;
using Restock.Actors.Domain;
using Restock.Actors.Domain.Inventory;

namespace Restock.Actors.Engine.Inventory;

/// <summary>The stored form of <see cref="SkuState"/>: plain arrays, oldest remembered id first.</summary>
public sealed record SkuSnapshot(
    bool IsKnown,
    StockLevels Levels,
    long Stocked,
    OrderLine[] OpenLines,
    int Remembered,
    RememberedLine[] ClosedLines,
    RememberedAdjustment[] Adjustments,
    RememberedRefund[] Refunds,
    string? Owner = null) : IRestockMessage
{
    public static SkuSnapshot From(SkuState s) => new(
        s.IsKnown,
        s.Levels,
        s.Stocked,
        s.OpenLines.Values.ToArray(),
        s.ClosedLines.Capacity,
        s.ClosedLines.Order.Select(id => new RememberedLine(id, s.ClosedLines.Items[id])).ToArray(),
        s.Adjustments.Order.Select(id => new RememberedAdjustment(id, s.Adjustments.Items[id])).ToArray(),
        s.Refunds.Select(r => new RememberedRefund(r.Key, r.Value)).ToArray(),
        s.Owner);

    public SkuState ToState()
    {
        var closed = RecentWindow<ClosedLine>.Empty(Remembered);
        foreach (var l in ClosedLines) closed = closed.Add(l.OrderId, l.Line);
        var adjustments = RecentWindow<long>.Empty(Remembered);
        foreach (var a in Adjustments) adjustments = adjustments.Add(a.AdjustmentId, a.Delta);
        return new SkuState(
            IsKnown,
            Levels,
            Stocked,
            OpenLines.ToImmutableDictionary(l => l.OrderId),
            closed,
            adjustments,
            Refunds.ToImmutableDictionary(r => r.RefundId, r => r.Refund),
            Owner);
    }
}

public sealed record RememberedLine(string OrderId, ClosedLine Line);

public sealed record RememberedAdjustment(string AdjustmentId, long Delta);

public sealed record RememberedRefund(string RefundId, RefundRecord Refund);
