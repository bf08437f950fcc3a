using Restock.Actors.Domain;
using Restock.Actors.Domain.Inventory;

namespace Restock.Actors.Engine.Inventory;

/// <summary>
/// Remembered ids a SKU's snapshot stored once (manifest <c>sku.id-chunk</c>, layout in <see cref="SkuSnapshotFormat"/>):
/// the ids finished between two snapshots, keyed by the position of the first. Written from a range of the live ids
/// (<see cref="Source"/>), read back as columns (<see cref="Columns"/>).
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

    internal IdChunk(long lineage, long start, IdColumns columns)
    {
        Lineage = lineage;
        Start = start;
        Count = columns.Count;
        Columns = columns;
    }

    public long Lineage { get; }

    public long Start { get; }

    public int Count { get; }

    internal RememberedRange? Source { get; }

    internal IdColumns? Columns { get; }

    /// <summary>The ids of a head's chunks as one value; null when the chunks stored are not the ones it was written with.</summary>
    public static RememberedIds? Join(IdChunks head, IReadOnlyDictionary<long, object> stored, DateTimeOffset clock) =>
        SkuSnapshotFormat.Join(head, stored, clock);
}

/// <summary>Remembered ids as read from storage: <see cref="Ends"/>[i] is where id i ends in <see cref="Ids"/>.</summary>
internal sealed record IdColumns(int Count, byte[] Ids, int[] Ends, byte[] Kinds, byte[] Finishes, long[] Amounts, long[] Times)
{
    /// <summary>Where the ids before entry <paramref name="i"/> end (0 for the first).</summary>
    public int EndOf(int i) => i == 0 ? 0 : Ends[i - 1];
}
