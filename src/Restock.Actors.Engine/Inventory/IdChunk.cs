using Restock.Actors.Domain;
using Restock.Actors.Domain.Inventory;

namespace Restock.Actors.Engine.Inventory;

/// <summary>
/// Remembered ids a SKU's snapshot stored once (manifest <c>sku.id-chunk</c>, layout in <see cref="SkuSnapshotFormat"/>):
/// the ids finished between two snapshots, keyed by the position of the first. Written from a range of the live ids
/// (<see cref="Source"/>), read back as the stored columns (<see cref="Stored"/>), which a head's join decodes.
/// </summary>
public sealed class IdChunk : IRestockMessage
{
    public IdChunk(long lineage, RememberedRange source)
    {
        Lineage = lineage;
        Start = source.Start;
        Count = source.Count;
        Source = source;
    }

    internal IdChunk(long lineage, long start, StoredColumns stored)
    {
        Lineage = lineage;
        Start = start;
        Count = stored.Count;
        Stored = stored;
    }

    public long Lineage { get; }

    public long Start { get; }

    public int Count { get; }

    internal RememberedRange? Source { get; }

    internal StoredColumns? Stored { get; }

    /// <summary>
    /// The ids of a head's chunks as one value; null when the chunks stored are not the ones it was written with; throws
    /// <see cref="System.Runtime.Serialization.SerializationException"/> when one of them is cut short or damaged.
    /// </summary>
    public static RememberedIds? Join(IdChunks head, IReadOnlyDictionary<long, object> stored, DateTimeOffset clock) =>
        SkuSnapshotFormat.Join(head, stored, clock);
}

/// <summary>
/// A chunk's columns as stored (<paramref name="Count"/> ids, <paramref name="IdLength"/> bytes of ids, the layout from
/// <paramref name="At"/> in <paramref name="Bytes"/>, ending at <paramref name="End"/>, where a checksum may follow):
/// decoded only when a head takes ids from it, straight into the columns of all the head's ids. Owns
/// <paramref name="Bytes"/>, kept until then: never a pooled or reused buffer (the database readers hand the serializer
/// fresh arrays).
/// </summary>
internal sealed record StoredColumns(byte[] Bytes, int At, int End, int Count, int IdLength);
