namespace Restock.Actors.Domain.Inventory;

/// <summary>
/// The payment deadlines of a SKU's unpaid reservations, earliest first: a binary heap in one array, so adding a
/// reservation allocates nothing per line (a sorted tree would allocate a node per line, an immutable one a path of
/// nodes). A line paid or released leaves its entry behind (lazy deletion): an entry counts only while its line is open,
/// unpaid and due at that deadline. Entries left behind are dropped when they reach the top, and all at once when they
/// outnumber the live ones, so the heap stays within about twice the unpaid lines.
/// </summary>
public sealed class PaymentDeadlines
{
    // Compacting rewrites the whole heap: not for a handful of entries left behind.
    private const int CompactAbove = 1024;

    /// <summary>What a SKU without unpaid reservations reads: never written to (writers go through the SKU's own).</summary>
    internal static readonly PaymentDeadlines None = new(null);

    // Null only for None, which holds no entry to check.
    private readonly SkuState? _owner;
    private PaymentDue[] _heap = [];
    private int _count;
    // Entries left behind that are still in the heap (an upper bound: a line re-reserved with the same deadline counts once).
    private int _stale;

    internal PaymentDeadlines(SkuState? owner) => _owner = owner;

    /// <summary>The earliest deadline of an unpaid reservation, if any.</summary>
    public DateTimeOffset? Next => _count == 0 ? null : _heap[0].Deadline;

    /// <summary>
    /// The unpaid reservations due at <paramref name="now"/> (deadline at or before it), earliest first (then by order id),
    /// at most <paramref name="limit"/>. Reads only: a best-first walk of the heap.
    /// </summary>
    public IReadOnlyList<PaymentDue> Due(DateTimeOffset now, int limit)
    {
        var due = new List<PaymentDue>();
        if (_count == 0 || _heap[0].Deadline > now) return due;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var frontier = new PriorityQueue<int, PaymentDue>(PaymentDue.Order);
        frontier.Enqueue(0, _heap[0]);
        while (due.Count < limit && frontier.TryDequeue(out var i, out var entry))
        {
            if (entry.Deadline > now) break;
            if (IsLive(entry) && seen.Add(entry.OrderId)) due.Add(entry);
            var left = 2 * i + 1;
            if (left < _count) frontier.Enqueue(left, _heap[left]);
            if (left + 1 < _count) frontier.Enqueue(left + 1, _heap[left + 1]);
        }
        return due;
    }

    internal void Add(PaymentDue due)
    {
        if (_count == _heap.Length) Array.Resize(ref _heap, Math.Max(1, _count * 2));
        _heap[_count] = due;
        SiftUp(_count++);
    }

    /// <summary>A line left the unpaid ones (paid or released): its entry stays until it reaches the top or the heap is compacted.</summary>
    internal void LeftBehind()
    {
        _stale++;
        if (_stale > CompactAbove && _stale > _count / 2) Compact();
        else DropStaleTop();
    }

    internal void DropStaleTop()
    {
        while (_count > 0 && !IsLive(_heap[0]))
        {
            _heap[0] = _heap[--_count];
            _heap[_count] = default;
            if (_count > 0) SiftDown(0);
            if (_stale > 0) _stale--;
        }
    }

    private bool IsLive(PaymentDue due) =>
        _owner!.OpenLines.TryGetValue(due.OrderId, out var line) && line.Status == LineStatus.Reserved && line.PaymentDeadline == due.Deadline;

    private void Compact()
    {
        var kept = 0;
        for (var i = 0; i < _count; i++)
            if (IsLive(_heap[i])) _heap[kept++] = _heap[i];
        Array.Clear(_heap, kept, _count - kept);
        _count = kept;
        _stale = 0;
        for (var i = _count / 2 - 1; i >= 0; i--) SiftDown(i);
    }

    private void SiftUp(int i)
    {
        var item = _heap[i];
        while (i > 0)
        {
            var parent = (i - 1) / 2;
            if (PaymentDue.Order.Compare(_heap[parent], item) <= 0) break;
            _heap[i] = _heap[parent];
            i = parent;
        }
        _heap[i] = item;
    }

    private void SiftDown(int i)
    {
        var item = _heap[i];
        while (true)
        {
            var child = 2 * i + 1;
            if (child >= _count) break;
            if (child + 1 < _count && PaymentDue.Order.Compare(_heap[child + 1], _heap[child]) < 0) child++;
            if (PaymentDue.Order.Compare(_heap[child], item) >= 0) break;
            _heap[i] = _heap[child];
            i = child;
        }
        _heap[i] = item;
    }
}
