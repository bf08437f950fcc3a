using System.Text;
using System.Text.Json.Serialization;
using Restock.Actors.Domain;
using Restock.Actors.Domain.Inventory;

namespace Restock.Actors.Engine.Inventory;

/// <summary>
/// The stored form of <see cref="SkuState"/>. The remembered ids (<see cref="Finished"/>) are the state's own columns,
/// taken without copying and stored in a binary layout of their own (<see cref="SkuSnapshotFormat"/>); the rest is JSON.
/// <see cref="Ids"/>, <see cref="ClosedLines"/> and <see cref="Adjustments"/> are how older snapshots stored them (read
/// only). The horizon and the manual-restock window are not stored: the settings in force when the SKU recovers apply.
/// </summary>
public sealed record SkuSnapshot(
    bool IsKnown,
    StockLevels Levels,
    long Stocked,
    [property: JsonConverter(typeof(OpenLinesJson))] OrderLine[] OpenLines,
    RememberedRefund[] Refunds,
    string? Owner = null,
    DateTimeOffset? Clock = null,
    RememberedColumns? Ids = null,
    int? Remembered = null,
    RememberedLine[]? ClosedLines = null,
    RememberedAdjustment[]? Adjustments = null) : IRestockMessage
{
    /// <summary>The remembered ids, oldest first; null in a snapshot stored before the binary layout.</summary>
    [JsonIgnore]
    public RememberedIds? Finished { get; init; }

    /// <summary>The state as of now: open lines and refunds copied, the remembered ids as a view of their log (no copy).</summary>
    public static SkuSnapshot From(SkuState s) => new(
        s.IsKnown, s.Levels, s.Stocked, s.CopyOpenLines(),
        s.Refunds.Select(x => new RememberedRefund(x.Key, x.Value)).ToArray(), s.Owner, s.Remembered.Clock)
    {
        Finished = s.Remembered.Copy(),
    };

    public SkuState ToState(TimeSpan horizon, TimeSpan? manualRestockWindow = null)
    {
        var remembered = Finished?.WithHorizon(horizon) ?? FromColumns(horizon);

        // A snapshot from before the horizon: its ids have no time, so their horizon starts at the next event.
        foreach (var l in ClosedLines ?? [])
            remembered = remembered.Remember(IdKind.OrderLine, l.OrderId, new Fingerprint(l.Line.Closure switch
            {
                LineClosure.Released => Finish.LineReleased,
                LineClosure.Shipped => Finish.LineShipped,
                _ => Finish.LineRefunded,
            }, l.Line.Ordered, 0));
        foreach (var a in Adjustments ?? [])
            remembered = remembered.Remember(IdKind.Adjustment, a.AdjustmentId, new Fingerprint(Finish.StockChanged, a.Delta, 0));
        // Snapshots with ids hold their refunds' places in the queue already: adding them again would add one
        // more entry per refund at every recovery.
        var queued = new HashSet<string>(StringComparer.Ordinal);
        var kinds = remembered.QueuedKinds;
        for (var i = 0; i < kinds.Length; i++)
            if (kinds[i] == (byte)IdKind.Refund) queued.Add(Encoding.UTF8.GetString(remembered.QueuedId(i)));
        foreach (var r in Refunds.Where(r => !queued.Contains(r.RefundId)))
            remembered = remembered.Remember(IdKind.Refund, r.RefundId, new Fingerprint(0, 0, r.Refund.ChangedAtTicks));

        return SkuState.Restore(IsKnown, Levels, Stocked, Owner, OpenLines, Refunds.Select(r => KeyValuePair.Create(r.RefundId, r.Refund)).ToArray(),
            remembered, manualRestockWindow ?? SkuState.DefaultManualRestockWindow);
    }

    /// <summary>The remembered ids of a JSON snapshot (columns of strings, times as differences to the previous one).</summary>
    private RememberedIds FromColumns(TimeSpan horizon)
    {
        var clock = Clock ?? DateTimeOffset.MinValue;
        if (Ids is not { } ids) return RememberedIds.Restore(horizon, clock, 0, [], [], [], [], [], []);
        var count = ids.Ids.Length;
        var ends = new int[count];
        var bytes = new byte[ids.Ids.Sum(Encoding.UTF8.GetByteCount)];
        var (written, at) = (0, 0L);
        var times = new long[count];
        for (var i = 0; i < count; i++)
        {
            written += Encoding.UTF8.GetBytes(ids.Ids[i], bytes.AsSpan(written));
            ends[i] = written;
            times[i] = at += ids.AtDeltas[i];
        }
        return RememberedIds.Restore(horizon, clock, count, bytes, ends, ids.Kinds, ids.Finishes, ids.Amounts, times);
    }
}

/// <summary>Remembered ids as JSON snapshots stored them (read only): oldest first, one array per field; kinds and finishes are the enums' byte values.</summary>
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
