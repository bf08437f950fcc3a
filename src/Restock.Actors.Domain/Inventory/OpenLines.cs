using System.Collections;
using System.Runtime.CompilerServices;
using System.Text;

namespace Restock.Actors.Domain.Inventory;

/// <summary>
/// A SKU's open order lines by order id, and their payment deadlines (<see cref="Deadlines"/>), without a managed reference
/// per line: each line is a value in one array of slots, its order id UTF-8 bytes in a byte log, found through an index of
/// slot numbers (open addressing, linear probing, at most half full). A hot SKU's state lives in the old generation; held
/// as strings and record values, every reservation wrote a young reference into it (a dirty card for the next gen-0
/// collection to mark through) and left an id and an entry that each collection copied again. Arrays of values without
/// references are neither traced nor carded.
/// <para>
/// Slots keep their number while their line is open (the deadline heap points at them, and each unpaid slot keeps its
/// entry's place in the heap, so a line paid or released takes its entry out at once). The byte log sheds the ids of closed lines when it
/// runs out of room, and the slots are packed again when three quarters are free, so memory follows the open lines.
/// Looking a line up by the command's string allocates nothing; the line found carries that string as its
/// <see cref="OrderLine.OrderId"/>. Enumerating makes a string per line (tests, snapshots, reports).
/// </para>
/// </summary>
public sealed class OpenLines : IReadOnlyDictionary<string, OrderLine>
{
    // Slots a table starts with: most SKUs with open lines hold a handful.
    private const int InitialSlots = 2;

    // Packing slots rewrites the table and rebuilds the heap: not for a few free slots.
    private const int PackAbove = 64;

    /// <summary>What a SKU without open lines reads: never written to.</summary>
    internal static readonly OpenLines None = new(0);

    private OpenLineSlot[] _slots;
    // Slots [0, _used) have held a line; the free ones among them are chained through HeapIndex, from _free.
    private int _used;
    private int _free = -1;
    private int[] _index;
    private byte[] _bytes;
    private int _bytesUsed;
    private int _liveBytes;
    private PaymentDeadlines? _deadlines;

    internal OpenLines(int capacity)
    {
        _slots = capacity == 0 ? [] : new OpenLineSlot[capacity];
        _index = capacity == 0 ? [] : new int[IndexSizeFor(capacity)];
        _bytes = capacity == 0 ? [] : new byte[Math.Max(32, 16 * capacity)];
    }

    public int Count { get; private set; }

    /// <summary>Slots and id bytes held (for tests of bounded memory).</summary>
    internal (int Slots, int IdBytes) Capacity => (_slots.Length, _bytes.Length);

    /// <summary>The payment deadlines of the unpaid lines.</summary>
    public PaymentDeadlines Deadlines => _deadlines ?? PaymentDeadlines.None;

    /// <summary>The line of <paramref name="orderId"/>, if open; its <see cref="OrderLine.OrderId"/> is <paramref name="orderId"/> itself.</summary>
    public bool TryGetValue(string orderId, out OrderLine line)
    {
        var slot = Find(orderId);
        line = slot < 0 ? default : LineAt(slot, orderId);
        return slot >= 0;
    }

    public bool ContainsKey(string orderId) => Find(orderId) >= 0;

    public OrderLine this[string orderId] =>
        TryGetValue(orderId, out var line) ? line : throw new KeyNotFoundException($"no open line for order {orderId}");

    public IEnumerable<string> Keys => this.Select(e => e.Key);

    public IEnumerable<OrderLine> Values => this.Select(e => e.Value);

    public IEnumerator<KeyValuePair<string, OrderLine>> GetEnumerator()
    {
        for (var s = 0; s < _used; s++)
        {
            if (_slots[s].Status == 0) continue;
            var id = IdAt(s);
            yield return new(id, LineAt(s, id));
        }
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>The open lines as of now, copied without a string per line (a snapshot's part): later changes do not show in it.</summary>
    public OpenLinesCopy Copy()
    {
        if (Count == 0) return OpenLinesCopy.Empty;
        var slots = new OpenLineSlot[Count];
        var bytes = new byte[_liveBytes];
        var (i, used) = (0, 0);
        for (var s = 0; s < _used; s++)
        {
            if (_slots[s].Status == 0) continue;
            ref var slot = ref slots[i++];
            slot = _slots[s];
            KeyAt(s).CopyTo(bytes.AsSpan(used));
            slot.IdStart = used;
            used += slot.IdLength;
        }
        return new OpenLinesCopy(slots, bytes);
    }

    /// <summary>Opens a line; an unpaid one gets its deadline. An order id already open is refused.</summary>
    internal void Add(OrderLine line)
    {
        if (line.Status is not (LineStatus.Reserved or LineStatus.Committed))
            throw new ArgumentOutOfRangeException(nameof(line), line.Status, "an open line is reserved or committed");
        var hash = Hash(line.OrderId);
        var key = Key(line.OrderId, stackalloc byte[256]);
        if (FindPosition(key, hash) >= 0) throw new ArgumentException($"order {line.OrderId} already has an open line", nameof(line));
        if (Count + 1 > _index.Length / 2) GrowIndex();
        var s = TakeSlot();
        ref var slot = ref _slots[s];
        slot.IdStart = AppendId(key);
        slot.IdLength = key.Length;
        slot.Hash = hash;
        slot.HeapIndex = -1;
        Store(ref slot, line);
        _liveBytes += key.Length;
        Count++;
        Insert(s);
        if (line.Status == LineStatus.Reserved) (_deadlines ??= new PaymentDeadlines(this)).Add(s);
    }

    /// <summary>Changes an open line's counts and status (its id and deadline stay); a line paid leaves the unpaid ones.</summary>
    internal void Set(string orderId, OrderLine line)
    {
        var s = Find(orderId);
        if (s < 0) throw new KeyNotFoundException($"no open line for order {orderId}");
        if (line.Status is not (LineStatus.Reserved or LineStatus.Committed))
            throw new ArgumentOutOfRangeException(nameof(line), line.Status, "an open line is reserved or committed");
        var wasUnpaid = _slots[s].Status == (byte)LineStatus.Reserved;
        if (line.Status == LineStatus.Reserved && !wasUnpaid) throw new InvalidOperationException($"order {orderId} is paid already");
        if (wasUnpaid && line.Status != LineStatus.Reserved) _deadlines!.Remove(s);
        ref var slot = ref _slots[s];
        slot.Ordered = line.Ordered;
        slot.Held = line.Held;
        slot.RestockedAhead = line.RestockedAhead;
        slot.Status = (byte)line.Status;
    }

    /// <summary>Closes a line: its slot and id bytes are free for the next ones.</summary>
    internal bool Remove(string orderId, out OrderLine line)
    {
        var key = Key(orderId, stackalloc byte[256]);
        var position = FindPosition(key, Hash(orderId));
        if (position < 0)
        {
            line = default;
            return false;
        }
        var s = _index[position] - 1;
        line = LineAt(s, orderId);
        RemoveAt(position);
        if (line.Status == LineStatus.Reserved) _deadlines!.Remove(s);
        ref var slot = ref _slots[s];
        slot.Status = 0;
        _liveBytes -= slot.IdLength;
        slot.IdLength = 0;
        slot.HeapIndex = _free;
        _free = s;
        Count--;
        if (_slots.Length > PackAbove && Count < _slots.Length / 4) Pack();
        return true;
    }

    // Heap support: slots are read by number.

    internal long DeadlineTicks(int s) => _slots[s].DeadlineTicks;

    internal int HeapIndex(int s) => _slots[s].HeapIndex;

    internal void SetHeapIndex(int s, int i) => _slots[s].HeapIndex = i;

    internal DateTimeOffset Deadline(int s) => DeadlineOf(in _slots[s]);

    internal int CompareIds(int a, int b) => KeyAt(a).SequenceCompareTo(KeyAt(b));

    internal string IdAt(int s) => Encoding.UTF8.GetString(KeyAt(s));

    private ReadOnlySpan<byte> KeyAt(int s) => _bytes.AsSpan(_slots[s].IdStart, _slots[s].IdLength);

    private OrderLine LineAt(int s, string orderId) => _slots[s].Line(orderId);

    private static DateTimeOffset DeadlineOf(in OpenLineSlot slot) => slot.Deadline;

    private static void Store(ref OpenLineSlot slot, OrderLine line)
    {
        slot.Ordered = line.Ordered;
        slot.Held = line.Held;
        slot.RestockedAhead = line.RestockedAhead;
        slot.Status = (byte)line.Status;
        slot.DeadlineTicks = line.PaymentDeadline.UtcTicks;
        slot.OffsetMinutes = (short)line.PaymentDeadline.Offset.TotalMinutes;
    }

    private int Find(string orderId)
    {
        if (Count == 0) return -1;
        var position = FindPosition(Key(orderId, stackalloc byte[256]), Hash(orderId));
        return position < 0 ? -1 : _index[position] - 1;
    }

    /// <summary>The id's UTF-8 bytes, in <paramref name="room"/> when they fit (ids are at most 128 ASCII characters).</summary>
    private static ReadOnlySpan<byte> Key(string id, Span<byte> room)
    {
        if (Encoding.UTF8.TryGetBytes(id, room, out var written)) return room[..written];
        return Encoding.UTF8.GetBytes(id);
    }

    private int FindPosition(ReadOnlySpan<byte> key, int hash)
    {
        if (_index.Length == 0) return -1;
        var mask = _index.Length - 1;
        for (var position = hash & mask; ; position = (position + 1) & mask)
        {
            var s = _index[position] - 1;
            if (s < 0) return -1;
            if (_slots[s].Hash == hash && KeyAt(s).SequenceEqual(key)) return position;
        }
    }

    private void Insert(int s)
    {
        var mask = _index.Length - 1;
        var position = _slots[s].Hash & mask;
        while (_index[position] != 0) position = (position + 1) & mask;
        _index[position] = s + 1;
    }

    /// <summary>Empties an index position and moves later entries of the same run back, so every look-up still finds its line.</summary>
    private void RemoveAt(int position)
    {
        var mask = _index.Length - 1;
        var hole = position;
        _index[hole] = 0;
        for (var next = (hole + 1) & mask; _index[next] != 0; next = (next + 1) & mask)
        {
            var home = _slots[_index[next] - 1].Hash & mask;
            // The entry stays when its home lies cyclically in (hole, next]: a look-up from there never crosses the hole.
            var stays = hole <= next ? home > hole && home <= next : home > hole || home <= next;
            if (stays) continue;
            _index[hole] = _index[next];
            _index[next] = 0;
            hole = next;
        }
    }

    private int TakeSlot()
    {
        if (_free >= 0)
        {
            var s = _free;
            _free = _slots[s].HeapIndex;
            return s;
        }
        if (_used == _slots.Length) Array.Resize(ref _slots, Math.Max(InitialSlots, 2 * _slots.Length));
        return _used++;
    }

    private int AppendId(ReadOnlySpan<byte> key)
    {
        if (_bytesUsed + key.Length > _bytes.Length) RewriteIds(key.Length);
        var start = _bytesUsed;
        key.CopyTo(_bytes.AsSpan(start));
        _bytesUsed += key.Length;
        return start;
    }

    /// <summary>A new byte log with the open lines' ids only and room for as many again (and the next id).</summary>
    private void RewriteIds(int next)
    {
        var bytes = new byte[Math.Max(32, 2 * (_liveBytes + next))];
        var used = 0;
        for (var s = 0; s < _used; s++)
        {
            ref var slot = ref _slots[s];
            if (slot.Status == 0) continue;
            _bytes.AsSpan(slot.IdStart, slot.IdLength).CopyTo(bytes.AsSpan(used));
            slot.IdStart = used;
            used += slot.IdLength;
        }
        (_bytes, _bytesUsed) = (bytes, used);
    }

    private void GrowIndex()
    {
        _index = new int[IndexSizeFor(Math.Max(Count + 1, _slots.Length))];
        for (var s = 0; s < _used; s++)
            if (_slots[s].Status != 0) Insert(s);
    }

    /// <summary>Moves the open lines to the first slots of a smaller array; the heap, which names slots, is rebuilt.</summary>
    private void Pack()
    {
        var slots = new OpenLineSlot[Math.Max(InitialSlots, 2 * Count)];
        var used = 0;
        for (var s = 0; s < _used; s++)
            if (_slots[s].Status != 0) slots[used++] = _slots[s];
        (_slots, _used, _free) = (slots, used, -1);
        _index = new int[IndexSizeFor(slots.Length)];
        for (var s = 0; s < _used; s++)
        {
            Insert(s);
            if (_slots[s].Status == (byte)LineStatus.Reserved) _deadlines!.Moved(s);
        }
        RewriteIds(0);
    }

    // Twice the slots, rounded up to a power of two: linear probing stays short at most half full.
    private static int IndexSizeFor(int slots)
    {
        var size = 4;
        while (size < 2 * slots) size *= 2;
        return size;
    }

    /// <summary>The randomised string hash (per process), so ids chosen by callers cannot be made to collide.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Hash(string id) => string.GetHashCode(id.AsSpan());
}

/// <summary>A line without references: its id is a range of a byte log. Status 0 marks a free slot.</summary>
internal struct OpenLineSlot
{
    public long Ordered;
    public long Held;
    public long RestockedAhead;
    public long DeadlineTicks;
    public int IdStart;
    public int IdLength;
    public int Hash;
    // The place of an unpaid line's entry in the deadline heap; for a free slot, the next free one.
    public int HeapIndex;
    public short OffsetMinutes;
    public byte Status;

    public readonly DateTimeOffset Deadline
    {
        get
        {
            var offset = TimeSpan.FromMinutes(OffsetMinutes);
            return new DateTimeOffset(DeadlineTicks + offset.Ticks, offset);
        }
    }

    public readonly OrderLine Line(string orderId) => new(orderId, Ordered, Held, (LineStatus)Status, Deadline, RestockedAhead);
}

/// <summary>
/// A SKU's open lines as of one moment, read only (a snapshot's part): the values and id bytes copied, no string per line,
/// so a copy of a million lines is two arrays the collector does not trace. Enumerating makes the strings.
/// </summary>
public sealed class OpenLinesCopy : IReadOnlyCollection<OrderLine>
{
    internal static readonly OpenLinesCopy Empty = new([], []);

    private readonly OpenLineSlot[] _slots;
    private readonly byte[] _bytes;

    internal OpenLinesCopy(OpenLineSlot[] slots, byte[] bytes) => (_slots, _bytes) = (slots, bytes);

    public int Count => _slots.Length;

    /// <summary>The UTF-8 bytes of line <paramref name="i"/>'s order id.</summary>
    public ReadOnlySpan<byte> IdBytes(int i) => _bytes.AsSpan(_slots[i].IdStart, _slots[i].IdLength);

    /// <summary>Line <paramref name="i"/> with <paramref name="orderId"/> as its id (the caller's, e.g. an empty one when only the numbers are read).</summary>
    public OrderLine LineAt(int i, string orderId) => _slots[i].Line(orderId);

    public IEnumerator<OrderLine> GetEnumerator()
    {
        for (var i = 0; i < _slots.Length; i++) yield return _slots[i].Line(Encoding.UTF8.GetString(IdBytes(i)));
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}
