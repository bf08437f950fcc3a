using System.Text;
using System.Text.Json.Serialization;
using Restock.Actors.Domain;
using Restock.Actors.Domain.Inventory;
using Restock.Actors.Engine.Hosting;

namespace Restock.Actors.Engine.Inventory;

/// <summary>
/// The stored form of <see cref="SkuState"/>. The remembered ids (<see cref="Finished"/>) are the state's own columns,
/// taken without copying and stored in a binary layout of their own (<see cref="SkuSnapshotFormat"/>); the rest is JSON.
/// <see cref="Ids"/>, <see cref="ClosedLines"/> and <see cref="Adjustments"/> are how older snapshots stored them (read
/// only). The horizon and the manual-restock window are not stored: the settings in force when the SKU recovers apply.
/// A head whose open lines fill more than one chunk of the table keeps them in parts (<see cref="LineParts"/>), each
/// written on its own before the head, so that no single write holds SQLite's one writer for long; such a head is stored
/// under a manifest of its own (<c>Contracts.Variants</c>), which a build from before parts fails to read.
/// </summary>
public sealed record SkuSnapshot(
    bool IsKnown,
    StockLevels Levels,
    long Stocked,
    [property: JsonConverter(typeof(OpenLinesJson))] IReadOnlyCollection<OrderLine> OpenLines,
    RememberedRefund[] Refunds,
    string? Owner = null,
    DateTimeOffset? Clock = null,
    RememberedColumns? Ids = null,
    int? Remembered = null,
    RememberedLine[]? ClosedLines = null,
    RememberedAdjustment[]? Adjustments = null,
    IdChunks? Chunks = null,
    LineParts? LineParts = null) : IRestockMessage, ISnapshotInParts
{
    /// <summary>
    /// The remembered ids, oldest first; null in a snapshot stored before the binary layout, and in a head read without
    /// its <see cref="Chunks"/> (the snapshot store puts them back).
    /// </summary>
    [JsonIgnore]
    public RememberedIds? Finished { get; init; }

    /// <summary>The ids remembered since the previous snapshot's chunks, stored before this head; null when none are new.</summary>
    [JsonIgnore]
    public IdChunk? NewChunk { get; init; }

    /// <summary>The open lines a head keeps in <see cref="LineParts"/>, to be stored before it; null in a head read back.</summary>
    [JsonIgnore]
    public OpenLinesCopy? LinesToStore { get; init; }

    (long Key, object Part)? ISnapshotInParts.NewPart => NewChunk is { } c ? (c.Start, c) : null;

    IReadOnlyList<long> ISnapshotInParts.PartKeys => Chunks is { } chunks ? chunks.Parts.Select(p => p.Start).ToArray() : [];

    int ISnapshotInParts.PieceCount => LineParts?.Parts ?? 0;

    object ISnapshotInParts.Piece(int index) =>
        new OpenLinesPart(LineParts!.Stamp, (LinesToStore ?? throw new InvalidOperationException("a head read back is not stored again")).Part(index));

    object? ISnapshotInParts.WithParts(IReadOnlyDictionary<long, object> parts, IReadOnlyList<object> pieces)
    {
        // A head written with its ids inline (before chunks, or by a SKU not snapshotting in chunks) is whole as it is.
        var ids = Finished;
        if (Chunks is { } chunks && (ids = IdChunk.Join(chunks, parts, Clock ?? DateTimeOffset.MinValue)) is null) return null;
        if (LineParts is not { } lineParts) return this with { Finished = ids };
        if (pieces.Count != lineParts.Parts || pieces.Any(p => p is not OpenLinesPart part || part.Stamp != lineParts.Stamp)) return null;
        var lines = pieces.Select(p => ((OpenLinesPart)p).Lines).ToArray();
        return lines.Sum(l => (long)l.Count) == lineParts.Lines ? this with { Finished = ids, OpenLines = OpenLinesCopy.Join(lines), LineParts = null } : null;
    }

    /// <summary>
    /// The state as of now: open lines as chunks shared with the state (values and id bytes, no string per line; a chunk
    /// the SKU writes later is copied then), refunds copied, the remembered ids as a view of their log (no copy).
    /// </summary>
    public static SkuSnapshot From(SkuState s) => new(
        s.IsKnown, s.Levels, s.Stocked, s.CopyOpenLines(),
        s.Refunds.Select(x => new RememberedRefund(x.Key, x.Value)).ToArray(), s.Owner, s.Remembered.Clock)
    {
        Finished = s.Remembered.Copy(),
    };

    /// <summary>
    /// The state as of now, its remembered ids kept in chunks: the ones <paramref name="stored"/> (the chunks of the latest
    /// snapshot known to be saved) holds that are not all forgotten, and a new chunk of the ids remembered since. Chunks are
    /// keyed by the position of their first id, which an id keeps for good. Open lines of more than one chunk of the table
    /// go in parts, one per chunk (a million lines written in one row held SQLite's writer 50–90 ms; a part, a sixty-fourth).
    /// </summary>
    public static SkuSnapshot InChunks(SkuState s, IdChunks? stored, long lineage)
    {
        var ids = s.Remembered.Copy();
        var first = ids.FirstPosition;
        var from = Math.Max(stored is { } before && before.Lineage == lineage ? before.End : first, first);
        var kept = stored is { } previous && previous.Lineage == lineage ? previous.Parts.Where(p => p.Start + p.Count > first) : [];
        IdChunk? fresh = ids.EndPosition > from ? new IdChunk(lineage, ids.Range(from)) : null;
        var chunks = new IdChunks(lineage, first, ids.EndPosition, [.. kept, .. fresh is null ? [] : new[] { new IdChunkRef(fresh.Start, fresh.Count) }]);
        var snapshot = From(s) with { Chunks = chunks, NewChunk = fresh };
        return snapshot.OpenLines is OpenLinesCopy { PartCount: > 1 } lines
            ? snapshot with { OpenLines = [], LineParts = new LineParts(lines.PartCount, lines.Count, Random.Shared.NextInt64()), LinesToStore = lines }
            : snapshot;
    }

    public SkuState ToState(TimeSpan horizon, TimeSpan? manualRestockWindow = null)
    {
        if (Chunks is not null && Finished is null) throw new InvalidOperationException("a snapshot head read without its chunks of remembered ids");
        if (LineParts is not null) throw new InvalidOperationException("a snapshot head read without its parts of open lines");
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
        // more entry per refund at every recovery. Without refund records the queue is not searched (a large SKU's
        // ~500,000 entries: 6-35 ms of its recovery, PERFORMANCE-LOG "Goal 5, session 19: the path around the ids").
        if (Refunds.Length > 0)
        {
            var notQueued = NotQueued(remembered);
            foreach (var r in Refunds.Where(r => notQueued.Contains(r.RefundId)))
                remembered = remembered.Remember(IdKind.Refund, r.RefundId, new Fingerprint(0, 0, r.Refund.ChangedAtTicks));
        }

        return SkuState.Restore(IsKnown, Levels, Stocked, Owner, OpenLines, Refunds.Select(r => KeyValuePair.Create(r.RefundId, r.Refund)).ToArray(),
            remembered, manualRestockWindow ?? SkuState.DefaultManualRestockWindow);
    }

    /// <summary>
    /// The refund records whose ids <paramref name="remembered"/> does not queue. The queue's refund entries are found by a
    /// vectorised search of its kinds column, and the search ends once every record is found: a loop over every entry's kind
    /// (~500,000 in a large SKU) ran as tier-0 code in a recovery (PERFORMANCE-LOG "Goal 5, session 20").
    /// </summary>
    private HashSet<string> NotQueued(RememberedIds remembered)
    {
        var notQueued = new HashSet<string>(Refunds.Select(r => r.RefundId), StringComparer.Ordinal);
        var kinds = remembered.QueuedKinds;
        for (var at = 0; notQueued.Count > 0 && kinds[at..].IndexOf((byte)IdKind.Refund) is var next and >= 0; at += next + 1)
            notQueued.Remove(Encoding.UTF8.GetString(remembered.QueuedId(at + next)));
        return notQueued;
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

/// <summary>
/// Where a snapshot's remembered ids are: <paramref name="Parts"/>, consecutive, hold the ids from position
/// <paramref name="First"/> (inside the first part) to <paramref name="End"/>. <paramref name="Lineage"/> names the line of
/// snapshots that wrote them: positions count from the state a line started from, so a chunk of another line never fits.
/// </summary>
public sealed record IdChunks(long Lineage, long First, long End, IdChunkRef[] Parts);

/// <summary>
/// A head's open lines kept in parts: how many parts (in order, stored with the head's sequence number), lines in all, and
/// the stamp each part carries, so that a part another head wrote in the same place (a save cut off, then another at the
/// same sequence number) never fits this one.
/// </summary>
public sealed record LineParts(int Parts, int Lines, long Stamp);

/// <summary>A chunk of remembered ids: the position of its first and how many a snapshot takes from it.</summary>
public sealed record IdChunkRef(long Start, int Count);

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
