namespace Restock.Actors.LoadTests.Running;

/// <summary>
/// Orders acknowledged during a run, added from any thread and read while adds go on (the progress sampler reads them
/// every second). Kept in chunks small enough to stay off the large object heap, never copied: a reader takes the count
/// and the chunk table under the lock and reads what they cover without it, so it neither holds the adders up nor copies
/// the whole collection. (A <c>ConcurrentBag</c> froze every adder and copied itself on each read, and grew by doubling:
/// large arrays once a second in the process whose collections the open model measures.)
/// </summary>
public sealed class AcknowledgedOrders : IReadOnlyCollection<TrackedOrder>
{
    private const int ChunkSize = 4096;
    private readonly object _lock = new();
    private TrackedOrder[][] _chunks = [];
    private int _count;

    public int Count => Volatile.Read(ref _count);

    public void Add(TrackedOrder order)
    {
        lock (_lock)
        {
            var chunk = _count / ChunkSize;
            // A new table, not the old one grown in place: a reader may be going through the old one. Chunks are never replaced.
            if (chunk == _chunks.Length) _chunks = [.. _chunks, new TrackedOrder[ChunkSize]];
            _chunks[chunk][_count % ChunkSize] = order;
            _count++;
        }
    }

    /// <summary>The orders acknowledged so far, read later without copying them: those added afterwards are not in it.</summary>
    public IReadOnlyCollection<TrackedOrder> Now()
    {
        lock (_lock) return new View(_chunks, _count);
    }

    /// <summary>The orders acknowledged before the enumeration starts, in the order added.</summary>
    public IEnumerator<TrackedOrder> GetEnumerator() => Now().GetEnumerator();

    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();

    private sealed class View(TrackedOrder[][] chunks, int count) : IReadOnlyCollection<TrackedOrder>
    {
        public int Count => count;

        public IEnumerator<TrackedOrder> GetEnumerator()
        {
            for (var i = 0; i < count; i++)
                yield return chunks[i / ChunkSize][i % ChunkSize];
        }

        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
    }
}
