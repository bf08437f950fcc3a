namespace Restock.Actors.Domain.Inventory;

/// <summary>
/// The payment deadlines of a SKU's unpaid reservations, earliest first (then by order id, so expiry is deterministic): a
/// binary heap of values in one array, each naming its line's slot in <see cref="OpenLines"/>, which in turn keeps its
/// entry's place. Adding a reservation allocates nothing and writes no reference; a line paid or released takes its entry
/// out at once, so the heap holds exactly the unpaid lines.
/// </summary>
public sealed class PaymentDeadlines
{
    /// <summary>What a SKU without unpaid reservations reads: never written to.</summary>
    internal static readonly PaymentDeadlines None = new(null);

    // Null only for None, which holds no entry.
    private readonly OpenLines? _lines;
    private Entry[] _heap = [];
    private int _count;

    internal PaymentDeadlines(OpenLines? lines) => _lines = lines;

    /// <summary>The unpaid lines.</summary>
    public int Count => _count;

    /// <summary>Entries the heap has room for (for tests of what grows).</summary>
    internal int Capacity => _heap.Length;

    /// <summary>The earliest deadline of an unpaid reservation, if any.</summary>
    public DateTimeOffset? Next => _count == 0 ? null : _lines!.Deadline(_heap[0].Slot);

    /// <summary>
    /// The unpaid reservations due at <paramref name="now"/> (deadline at or before it), earliest first (then by order id),
    /// at most <paramref name="limit"/>. Reads only: a best-first walk of the heap.
    /// </summary>
    public IReadOnlyList<PaymentDue> Due(DateTimeOffset now, int limit)
    {
        var due = new List<PaymentDue>();
        var nowTicks = now.UtcTicks;
        if (_count == 0 || _heap[0].Ticks > nowTicks) return due;
        var frontier = new PriorityQueue<int, Entry>(Comparer<Entry>.Create(Compare));
        frontier.Enqueue(0, _heap[0]);
        while (due.Count < limit && frontier.TryDequeue(out var i, out var entry))
        {
            if (entry.Ticks > nowTicks) break;
            due.Add(new PaymentDue(_lines!.Deadline(entry.Slot), _lines.IdAt(entry.Slot)));
            var left = 2 * i + 1;
            if (left < _count) frontier.Enqueue(left, _heap[left]);
            if (left + 1 < _count) frontier.Enqueue(left + 1, _heap[left + 1]);
        }
        return due;
    }

    /// <summary>The unpaid line in <paramref name="slot"/> of the open lines gets its entry.</summary>
    internal void Add(int slot)
    {
        if (_count == _heap.Length) Array.Resize(ref _heap, Math.Max(1, _count * 2));
        _heap[_count] = new Entry(_lines!.DeadlineTicks(slot), slot);
        SiftUp(_count++);
    }

    /// <summary>The line in <paramref name="slot"/> left the unpaid ones (paid or released), still holding its id.</summary>
    internal void Remove(int slot)
    {
        var i = _lines!.HeapIndex(slot);
        _lines.SetHeapIndex(slot, -1);
        var last = _heap[--_count];
        _heap[_count] = default;
        if (i == _count) return;
        _heap[i] = last;
        if (i > 0 && Compare(last, _heap[(i - 1) / 2]) < 0) SiftUp(i);
        else SiftDown(i);
    }

    /// <summary>An unpaid line moved to slot <paramref name="to"/> (the open lines packed): its entry follows it.</summary>
    internal void Moved(int to)
    {
        var i = _lines!.HeapIndex(to);
        _heap[i] = _heap[i] with { Slot = to };
    }

    private int Compare(Entry a, Entry b)
    {
        var byDeadline = a.Ticks.CompareTo(b.Ticks);
        return byDeadline != 0 ? byDeadline : _lines!.CompareIds(a.Slot, b.Slot);
    }

    private void Place(int i, Entry entry)
    {
        _heap[i] = entry;
        _lines!.SetHeapIndex(entry.Slot, i);
    }

    private void SiftUp(int i)
    {
        var item = _heap[i];
        while (i > 0)
        {
            var parent = (i - 1) / 2;
            if (Compare(_heap[parent], item) <= 0) break;
            Place(i, _heap[parent]);
            i = parent;
        }
        Place(i, item);
    }

    private void SiftDown(int i)
    {
        var item = _heap[i];
        while (true)
        {
            var child = 2 * i + 1;
            if (child >= _count) break;
            if (child + 1 < _count && Compare(_heap[child + 1], _heap[child]) < 0) child++;
            if (Compare(_heap[child], item) >= 0) break;
            Place(i, _heap[child]);
            i = child;
        }
        Place(i, item);
    }

    /// <summary>A deadline (UTC ticks) and the slot of the line it belongs to.</summary>
    private readonly record struct Entry(long Ticks, int Slot);
}
