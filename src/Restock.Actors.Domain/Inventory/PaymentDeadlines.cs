using System.Runtime.CompilerServices;

namespace Restock.Actors.Domain.Inventory;

/// <summary>
/// The payment deadlines of a SKU's unpaid reservations, earliest first (then by order id, so expiry is deterministic): a
/// binary heap of values, each naming its line's slot in <see cref="OpenLines"/>, which in turn keeps its entry's place.
/// Adding a reservation allocates nothing and writes no reference; a line paid or released takes its entry out at once,
/// so the heap holds exactly the unpaid lines. The entries are in chunks of <see cref="ChunkEntries"/> (the first one
/// grows up to that): the heap grows by a chunk made once, never by copying every entry (which stopped a SKU with a
/// million unpaid lines in its turn), and gives a chunk back once two are free.
/// </summary>
public sealed class PaymentDeadlines
{
    /// <summary>What a SKU without unpaid reservations reads: never written to.</summary>
    internal static readonly PaymentDeadlines None = new(null);

    /// <summary>Entries per chunk: 4,096 of 16 bytes, a small-object array.</summary>
    internal const int ChunkEntries = 1 << ChunkShift;

    private const int ChunkShift = 12;
    private const int ChunkMask = ChunkEntries - 1;

    // Null only for None, which holds no entry.
    private readonly OpenLines? _lines;
    private Entry[][] _chunks = [];
    private int _chunkCount;
    private int _capacity;
    private int _count;

    internal PaymentDeadlines(OpenLines? lines) => _lines = lines;

    /// <summary>The unpaid lines.</summary>
    public int Count => _count;

    /// <summary>Entries the heap has room for (for tests of what grows).</summary>
    internal int Capacity => _capacity;

    /// <summary>The earliest deadline of an unpaid reservation, if any.</summary>
    public DateTimeOffset? Next => _count == 0 ? null : _lines!.Deadline(At(0).Slot);

    /// <summary>
    /// The unpaid reservations due at <paramref name="now"/> (deadline at or before it), earliest first (then by order id),
    /// at most <paramref name="limit"/>. Reads only: a best-first walk of the heap.
    /// </summary>
    public IReadOnlyList<PaymentDue> Due(DateTimeOffset now, int limit)
    {
        var due = new List<PaymentDue>();
        var nowTicks = now.UtcTicks;
        if (_count == 0 || At(0).Ticks > nowTicks) return due;
        var frontier = new PriorityQueue<int, Entry>(Comparer<Entry>.Create(Compare));
        frontier.Enqueue(0, At(0));
        while (due.Count < limit && frontier.TryDequeue(out var i, out var entry))
        {
            if (entry.Ticks > nowTicks) break;
            due.Add(new PaymentDue(_lines!.Deadline(entry.Slot), _lines.IdAt(entry.Slot)));
            var left = 2 * i + 1;
            if (left < _count) frontier.Enqueue(left, At(left));
            if (left + 1 < _count) frontier.Enqueue(left + 1, At(left + 1));
        }
        return due;
    }

    /// <summary>The unpaid line in <paramref name="slot"/> of the open lines gets its entry.</summary>
    internal void Add(int slot)
    {
        if (_count == _capacity) Grow();
        At(_count) = new Entry(_lines!.DeadlineTicks(slot), slot);
        SiftUp(_count++);
    }

    /// <summary>The line in <paramref name="slot"/> left the unpaid ones (paid or released), still holding its id.</summary>
    internal void Remove(int slot)
    {
        var i = _lines!.HeapIndex(slot);
        _lines.SetHeapIndex(slot, -1);
        var last = At(--_count);
        At(_count) = default;
        if (_chunkCount > 1 && _count <= _capacity - 2 * ChunkEntries)
        {
            _chunks[--_chunkCount] = null!;
            _capacity -= ChunkEntries;
        }
        if (i == _count) return;
        At(i) = last;
        if (i > 0 && Compare(last, At((i - 1) / 2)) < 0) SiftUp(i);
        else SiftDown(i);
    }

    /// <summary>An unpaid line moved to slot <paramref name="to"/> (the open lines packed): its entry follows it.</summary>
    internal void Moved(int to)
    {
        var i = _lines!.HeapIndex(to);
        At(i) = At(i) with { Slot = to };
    }

    private ref Entry At(int i) => ref _chunks[i >> ChunkShift][i & ChunkMask];

    /// <summary>Room for one more: the first chunk doubles up to <see cref="ChunkEntries"/>, then a chunk is added.</summary>
    private void Grow()
    {
        if (_chunkCount == 0) (_chunks, _chunkCount) = ([new Entry[1]], 1);
        else if (_chunkCount == 1 && _capacity < ChunkEntries) Array.Resize(ref _chunks[0], Math.Min(ChunkEntries, 2 * _capacity));
        else
        {
            if (_chunkCount == _chunks.Length) Array.Resize(ref _chunks, 2 * _chunks.Length);
            _chunks[_chunkCount++] = new Entry[ChunkEntries];
        }
        _capacity = _chunkCount == 1 ? _chunks[0].Length : _chunkCount * ChunkEntries;
    }

    private int Compare(Entry a, Entry b)
    {
        var byDeadline = a.Ticks.CompareTo(b.Ticks);
        return byDeadline != 0 ? byDeadline : _lines!.CompareIds(a.Slot, b.Slot);
    }

    private void Place(int i, Entry entry)
    {
        At(i) = entry;
        _lines!.SetHeapIndex(entry.Slot, i);
    }

    // Optimised at once: a recovery adds every unpaid line of its snapshot before the background JIT gets to it.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void SiftUp(int i)
    {
        var item = At(i);
        while (i > 0)
        {
            var parent = (i - 1) / 2;
            if (Compare(At(parent), item) <= 0) break;
            Place(i, At(parent));
            i = parent;
        }
        Place(i, item);
    }

    private void SiftDown(int i)
    {
        var item = At(i);
        while (true)
        {
            var child = 2 * i + 1;
            if (child >= _count) break;
            if (child + 1 < _count && Compare(At(child + 1), At(child)) < 0) child++;
            if (Compare(At(child), item) >= 0) break;
            Place(i, At(child));
            i = child;
        }
        Place(i, item);
    }

    /// <summary>A deadline (UTC ticks) and the slot of the line it belongs to.</summary>
    private readonly record struct Entry(long Ticks, int Slot);
}
