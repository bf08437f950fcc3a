using System.Runtime.CompilerServices;

namespace Restock.Actors.LoadTests.Running;

/// <summary>
/// What the runner tracks during a run (acknowledged orders, refunds), as values without references, added from any thread
/// and read while adds go on (the progress sampler reads the orders every second), each known by its index. Kept in chunks
/// large enough for the large object heap: a chunk is made in the old generation, so no collection copies what it holds,
/// and holding no references it is never marked through cards, however young the run's other objects are. (An object and
/// an id string per acknowledged order, referenced from chunks made before it, was what each reservation left alive for
/// gen 0 to copy and mark, whatever the engine kept.) A reader takes the count and the chunk table under the lock and reads
/// what they cover without it, so it neither holds the adders up nor copies anything.
/// </summary>
public sealed class TrackedValues<T> where T : struct
{
    private const int ChunkBytes = 256 * 1024;

    // Above the large object heap's 85,000 bytes whatever T's size.
    private static readonly int ChunkSize = Math.Max(1024, ChunkBytes / Unsafe.SizeOf<T>());

    private readonly object _lock = new();
    private T[][] _chunks = [];
    private int _count;

    public int Count => Volatile.Read(ref _count);

    /// <summary>Adds <paramref name="value"/>; its index, for <see cref="this"/>.</summary>
    public int Add(in T value)
    {
        lock (_lock)
        {
            var index = _count;
            var chunk = index / ChunkSize;
            // A new table, not the old one grown in place: a reader may be going through the old one. Chunks are never replaced.
            if (chunk == _chunks.Length) Volatile.Write(ref _chunks, [.. _chunks, new T[ChunkSize]]);
            _chunks[chunk][index % ChunkSize] = value;
            Volatile.Write(ref _count, index + 1);
            return index;
        }
    }

    /// <summary>
    /// The value at <paramref name="index"/> (one returned by <see cref="Add"/>), in place: its fields that change after it was
    /// added are read and written with <see cref="Volatile"/> or <see cref="Interlocked"/>.
    /// </summary>
    public ref T this[int index]
    {
        get
        {
            // The count is written after the value and its chunk table: an index below it finds both.
            if ((uint)index >= (uint)Count) throw new ArgumentOutOfRangeException(nameof(index), index, $"{Count} tracked");
            return ref Volatile.Read(ref _chunks)[index / ChunkSize][index % ChunkSize];
        }
    }

    /// <summary>The values added so far, read later without copying them: those added afterwards are not in it.</summary>
    public View Now()
    {
        lock (_lock) return new View(_chunks, _count);
    }

    /// <summary>The values added before <see cref="Now"/>, in the order added.</summary>
    public readonly struct View(T[][] chunks, int count)
    {
        public int Count => count;

        public ref T this[int index]
        {
            get
            {
                if ((uint)index >= (uint)count) throw new ArgumentOutOfRangeException(nameof(index), index, $"{count} in this view");
                return ref chunks[index / ChunkSize][index % ChunkSize];
            }
        }

        /// <summary>Copies of the values, in the order added (for the end checks and tests; the run reads them by index).</summary>
        public IEnumerable<T> Values()
        {
            for (var i = 0; i < count; i++)
                yield return chunks[i / ChunkSize][i % ChunkSize];
        }
    }
}
