using System.Collections.Immutable;
using Restock.Actors.Domain;
using Restock.Actors.Domain.Inventory;

namespace Restock.Actors.Engine.Inventory;

/// <summary>
/// The stored form of <see cref="SkuState"/>. Remembered ids are stored as columns in the order they are to be
/// forgotten (times as differences to the previous one), which keeps a million of them to a few tens of MB.
/// The horizon and the manual-restock window are not stored: the settings in force when the SKU recovers apply.
/// </summary>
public sealed record SkuSnapshot(
    bool IsKnown,
    StockLevels Levels,
    long Stocked,
    OrderLine[] OpenLines,
    RememberedRefund[] Refunds,
    string? Owner = null,
    DateTimeOffset? Clock = null,
    RememberedColumns? Ids = null,
    int? Remembered = null,
    RememberedLine[]? ClosedLines = null,
    RememberedAdjustment[]? Adjustments = null) : IRestockMessage
{
    public static SkuSnapshot From(SkuState s)
    {
        var r = s.Remembered;
        var count = r.Queue.Count();
        var columns = new RememberedColumns(new string[count], new byte[count], new byte[count], new long[count], new long[count]);
        var i = 0;
        var previous = 0L;
        foreach (var entry in r.Queue)
        {
            var fingerprint = entry.Kind switch
            {
                IdKind.OrderLine => r.Lines[entry.Id],
                IdKind.Adjustment => r.Adjustments[entry.Id],
                _ => default,
            };
            columns.Ids[i] = entry.Id;
            columns.Kinds[i] = (byte)entry.Kind;
            columns.Finishes[i] = (byte)fingerprint.Finish;
            columns.Amounts[i] = fingerprint.Amount;
            columns.AtDeltas[i] = entry.AtTicks - previous;
            previous = entry.AtTicks;
            i++;
        }
        return new SkuSnapshot(
            s.IsKnown, s.Levels, s.Stocked, s.CopyOpenLines(),
            s.Refunds.Select(x => new RememberedRefund(x.Key, x.Value)).ToArray(), s.Owner, r.Clock, columns);
    }

    public SkuState ToState(TimeSpan horizon, TimeSpan? manualRestockWindow = null)
    {
        var lines = ImmutableDictionary.CreateBuilder<string, Fingerprint>(StringComparer.Ordinal);
        var adjustments = ImmutableDictionary.CreateBuilder<string, Fingerprint>(StringComparer.Ordinal);
        var queue = new List<Remembering>(Ids?.Ids.Length ?? 0);
        if (Ids is { } ids)
        {
            var at = 0L;
            for (var i = 0; i < ids.Ids.Length; i++)
            {
                at += ids.AtDeltas[i];
                var kind = (IdKind)ids.Kinds[i];
                var fingerprint = new Fingerprint((Finish)ids.Finishes[i], ids.Amounts[i], at);
                if (kind == IdKind.OrderLine) lines[ids.Ids[i]] = fingerprint;
                else if (kind == IdKind.Adjustment) adjustments[ids.Ids[i]] = fingerprint;
                queue.Add(new Remembering(kind, ids.Ids[i], at));
            }
        }

        // A snapshot from before the horizon: its ids have no time, so their horizon starts at the next event.
        foreach (var l in ClosedLines ?? [])
        {
            lines[l.OrderId] = new Fingerprint(l.Line.Closure switch
            {
                LineClosure.Released => Finish.LineReleased,
                LineClosure.Shipped => Finish.LineShipped,
                _ => Finish.LineRefunded,
            }, l.Line.Ordered, 0);
            queue.Add(new Remembering(IdKind.OrderLine, l.OrderId, 0));
        }
        foreach (var a in Adjustments ?? [])
        {
            adjustments[a.AdjustmentId] = new Fingerprint(Finish.StockChanged, a.Delta, 0);
            queue.Add(new Remembering(IdKind.Adjustment, a.AdjustmentId, 0));
        }
        // Snapshots with columns hold their refunds' places in the queue already: adding them again would add one
        // more entry per refund at every recovery.
        var queued = queue.Where(q => q.Kind == IdKind.Refund).Select(q => q.Id).ToHashSet(StringComparer.Ordinal);
        foreach (var r in Refunds.Where(r => !queued.Contains(r.RefundId)))
            queue.Add(new Remembering(IdKind.Refund, r.RefundId, r.Refund.ChangedAtTicks));

        return SkuState.Restore(IsKnown, Levels, Stocked, Owner, OpenLines, Refunds.Select(r => KeyValuePair.Create(r.RefundId, r.Refund)).ToArray(),
            new RememberedIds(horizon, Clock ?? DateTimeOffset.MinValue, lines.ToImmutable(), adjustments.ToImmutable(), ImmutableQueue.CreateRange(queue)),
            manualRestockWindow ?? SkuState.DefaultManualRestockWindow);
    }
}

/// <summary>Remembered ids, oldest first, one array per field; kinds and finishes are the enums' byte values.</summary>
public sealed record RememberedColumns(string[] Ids, byte[] Kinds, byte[] Finishes, long[] Amounts, long[] AtDeltas);

public sealed record RememberedRefund(string RefundId, RefundRecord Refund);

/// <summary>A finished line as snapshots stored it before the horizon (read only).</summary>
public sealed record RememberedLine(string OrderId, LegacyClosedLine Line);

public sealed record LegacyClosedLine(long Ordered, LineClosure Closure);

public enum LineClosure
{
    Released = 1,
    Shipped = 2,
    Refunded = 3,
}

/// <summary>An adjustment as snapshots stored it before the horizon (read only).</summary>
public sealed record RememberedAdjustment(string AdjustmentId, long Delta);
