using System.Collections;
using System.Runtime.CompilerServices;
using System.Text;

namespace Restock.Actors.Domain.Inventory;

/// <summary>
/// A SKU's open order lines by order id, and their payment deadlines (<see cref="Deadlines"/>), without a managed reference
/// per line: each line is a value in a chunk of slots, its order id's UTF-8 bytes in its chunk's byte log, found through an
/// index of slot numbers (open addressing, linear probing, at most half full). A hot SKU's state lives in the old
/// generation; held as strings and record values, every reservation wrote a young reference into it (a dirty card for the
/// next gen-0 collection to mark through) and left an id and an entry that each collection copied again. Arrays of values
/// without references are neither traced nor carded. Ids are hashed as the remembered ids are (<see cref="IdHash"/>).
/// <para>
/// Growth never copies what exists: slots come in chunks of <see cref="ChunkSlots"/> (the first one grows from two slots
/// up to that, so a SKU with a handful of lines stays small), each with its own byte log; the index doubles into a second
/// table while the first is still read, a slice of it moved at each line opened or closed. As one array, a table of a
/// million lines stopped the SKU's turn for 70–250 ms at each doubling (rehash, slot copy, heap copy) and its new large
/// arrays set off a gen-1 collection of up to 167 ms.
/// </para>
/// <para>
/// Slots keep their number while their line is open (the deadline heap names them, and each unpaid slot keeps its entry's
/// place in the heap, so a line paid or released takes its entry out at once). A chunk's byte log sheds the ids of its
/// closed lines when it runs out of room (bounded: one chunk's lines); the slots are packed again, all at once, when three
/// quarters are free (rare: only after the open lines fell to a quarter of the most ever held), so memory follows the open
/// lines. Looking a line up by the command's string allocates nothing; the line found carries that string as its
/// <see cref="OrderLine.OrderId"/>. Enumerating makes a string per line (tests, snapshots, reports).
/// </para>
/// </summary>
public sealed class OpenLines : IReadOnlyDictionary<string, OrderLine>
{
    /// <summary>
    /// Slots per chunk: 16,384 of 48 bytes (786 KB), a large object made once and never moved. Measured opening 1.1 million
    /// lines (no payments, as the open model does): chunks of 1,024 (small objects, each copied into gen 1 and gen 2 as it
    /// survives) took 14 gen-1 collections, these 6, with the same gen-2 count (2).
    /// </summary>
    internal const int ChunkSlots = 1 << ChunkShift;

    private const int ChunkShift = 14;
    private const int ChunkMask = ChunkSlots - 1;

    // Slots a table starts with: most SKUs with open lines hold a handful.
    private const int InitialSlots = 2;

    // Packing slots rewrites the table and rebuilds the heap: not for a few free slots.
    private const int PackAbove = 64;

    // Old index positions moved to the new table per line opened or closed while the index grows: the old table is
    // emptied long before the new one is half full (it grows at half the old table's size in lines more).
    private const int MovedPerStep = 16;

    // Marks an old-table position whose line moved or closed while the index grows: look-ups probe past it.
    private const int Gone = -1;

    /// <summary>What a SKU without open lines reads: never written to.</summary>
    internal static readonly OpenLines None = new(0);

    private Chunk[] _chunks = [];
    private int _chunkCount;
    private int _capacity;
    // Slots [0, _used) have held a line; the free ones among them are chained through their links, from _free.
    private int _used;
    private int _free = -1;
    private int[] _index;
    // While the index grows: the previous table, still probed, and how far it has been moved into _index.
    private int[]? _old;
    private int _moved;
    private int _liveBytes;
    private PaymentDeadlines? _deadlines;

    internal OpenLines(int capacity)
    {
        _index = capacity == 0 ? [] : new int[IndexSizeFor(capacity)];
        if (capacity == 0) return;
        var first = capacity <= ChunkSlots ? capacity : ChunkSlots;
        AddChunk(first, Math.Max(32, 16 * first));
        while (_capacity < capacity) AddChunk(ChunkSlots, 16 * ChunkSlots);
    }

    public int Count { get; private set; }

    /// <summary>Slots and id bytes held (for tests of bounded memory).</summary>
    internal (int Slots, int IdBytes) Capacity
    {
        get
        {
            var bytes = 0;
            for (var c = 0; c < _chunkCount; c++) bytes += _chunks[c].Ids.Length;
            return (_capacity, bytes);
        }
    }

    /// <summary>The index's size, and whether it is moving into a larger table (for tests of growth).</summary>
    internal (int Positions, bool Growing) Index => (_index.Length, _old is not null);

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
            if (SlotAt(s).Status == 0) continue;
            var id = IdAt(s);
            yield return new(id, LineAt(s, id));
        }
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>
    /// The open lines as of now (a snapshot's part), without copying them: the copy takes the chunks' slot arrays and byte
    /// logs, and marks the chunks shared, so the next write to one copies that chunk first (one chunk, in the turn that
    /// writes it); byte logs are only appended to past what the copy reads, or replaced. Later changes do not show in it,
    /// and it may be read on another thread. Copying every line in the SKU's turn stopped it 50 ms at a million lines.
    /// </summary>
    public OpenLinesCopy Copy()
    {
        if (Count == 0) return OpenLinesCopy.Empty;
        var slots = new OpenLineSlot[_chunkCount][];
        var ends = new int[_chunkCount];
        var ids = new byte[_chunkCount][];
        for (var c = 0; c < _chunkCount; c++)
        {
            var chunk = _chunks[c];
            chunk.Shared = true;
            (slots[c], ids[c]) = (chunk.Slots, chunk.Ids);
            ends[c] = Math.Clamp(_used - (c << ChunkShift), 0, chunk.Slots.Length);
        }
        return new OpenLinesCopy(Count, slots, ends, ids);
    }

    /// <summary>
    /// The table <paramref name="lines"/> (a snapshot's, read back) make when added one by one in their order, slot for slot,
    /// made from their values and id bytes as they lie: no string per line, nothing looked up twice. Optimised at once: a
    /// recovery runs it once over every open line, and added one by one they ran as tier-0 code while the background JIT
    /// was busy with the rest of the start (PERFORMANCE-LOG "Goal 5, session 20").
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static OpenLines Restore(OpenLinesCopy lines)
    {
        var table = new OpenLines(lines.Count);
        var cursor = lines.Lines();
        while (cursor.Next())
        {
            var key = cursor.IdBytes;
            var hash = IdHash.Of(key);
            var position = table.Probe(table._index, key, hash);
            if (position >= 0) throw AlreadyOpen(Encoding.UTF8.GetString(key));
            var s = table._used++;
            var start = table.AppendId(s, key);
            ref var slot = ref table.SlotAt(s);
            slot = cursor.Slot;
            (slot.IdStart, slot.IdLength, slot.Hash) = (start, key.Length, hash);
            table._liveBytes += key.Length;
            table.Count++;
            table._index[~position] = s + 1;
            if (slot.Status == (byte)LineStatus.Reserved) (table._deadlines ??= new PaymentDeadlines(table)).Add(s);
            else table.SetHeapIndex(s, -1);
        }
        return table;
    }

    /// <summary>Opens a line; an unpaid one gets its deadline. An order id already open is refused.</summary>
    internal void Add(OrderLine line)
    {
        OpenLineSlot.RequireOpen(line.Status);
        var key = Key(line.OrderId, stackalloc byte[256]);
        var hash = IdHash.Of(key);
        if (FindPosition(key, hash, out _) >= 0) throw AlreadyOpen(line.OrderId);
        MoveSome();
        var s = TakeSlot();
        if (Count + 1 > _index.Length / 2) GrowIndex();
        var start = AppendId(s, key);
        ref var slot = ref WritableAt(s);
        slot.IdStart = start;
        slot.IdLength = key.Length;
        slot.Hash = hash;
        slot.Set(line.Ordered, line.Held, line.Status, line.PaymentDeadline, line.RestockedAhead);
        _liveBytes += key.Length;
        Count++;
        Insert(_index, s, hash);
        if (line.Status == LineStatus.Reserved) (_deadlines ??= new PaymentDeadlines(this)).Add(s);
        else SetHeapIndex(s, -1);
    }

    /// <summary>Changes an open line's counts and status (its id and deadline stay); a line paid leaves the unpaid ones.</summary>
    internal void Set(string orderId, OrderLine line)
    {
        var s = Find(orderId);
        if (s < 0) throw new KeyNotFoundException($"no open line for order {orderId}");
        OpenLineSlot.RequireOpen(line.Status);
        var wasUnpaid = SlotAt(s).Status == (byte)LineStatus.Reserved;
        if (line.Status == LineStatus.Reserved && !wasUnpaid) throw new InvalidOperationException($"order {orderId} is paid already");
        if (wasUnpaid && line.Status != LineStatus.Reserved) _deadlines!.Remove(s);
        ref var slot = ref WritableAt(s);
        slot.Ordered = line.Ordered;
        slot.Held = line.Held;
        slot.RestockedAhead = line.RestockedAhead;
        slot.Status = (byte)line.Status;
    }

    /// <summary>Closes a line: its slot and id bytes are free for the next ones.</summary>
    internal bool Remove(string orderId, out OrderLine line)
    {
        var key = Key(orderId, stackalloc byte[256]);
        var position = FindPosition(key, IdHash.Of(key), out var old);
        if (position < 0)
        {
            line = default;
            return false;
        }
        var s = (old ? _old! : _index)[position] - 1;
        line = LineAt(s, orderId);
        if (old) _old![position] = Gone;
        else RemoveAt(position);
        if (line.Status == LineStatus.Reserved) _deadlines!.Remove(s);
        ref var slot = ref WritableAt(s);
        slot.Status = 0;
        _liveBytes -= slot.IdLength;
        ChunkOf(s).LiveBytes -= slot.IdLength;
        slot.IdLength = 0;
        SetHeapIndex(s, _free);
        _free = s;
        Count--;
        if (_capacity > PackAbove && Count < _capacity / 4) Pack();
        else MoveSome();
        return true;
    }

    // Heap support: slots are read by number.

    internal long DeadlineTicks(int s) => SlotAt(s).DeadlineTicks;

    internal int HeapIndex(int s) => ChunkOf(s).Links[s & ChunkMask];

    internal void SetHeapIndex(int s, int i) => ChunkOf(s).Links[s & ChunkMask] = i;

    internal DateTimeOffset Deadline(int s) => SlotAt(s).Deadline;

    internal int CompareIds(int a, int b) => KeyAt(a).SequenceCompareTo(KeyAt(b));

    internal string IdAt(int s) => Encoding.UTF8.GetString(KeyAt(s));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private Chunk ChunkOf(int s) => _chunks[s >> ChunkShift];

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ref OpenLineSlot SlotAt(int s) => ref _chunks[s >> ChunkShift].Slots[s & ChunkMask];

    /// <summary>Slot <paramref name="s"/> to write: its chunk copied first when a snapshot's copy shares it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ref OpenLineSlot WritableAt(int s)
    {
        var chunk = _chunks[s >> ChunkShift];
        if (chunk.Shared) chunk.Unshare();
        return ref chunk.Slots[s & ChunkMask];
    }

    private ReadOnlySpan<byte> KeyAt(int s)
    {
        var chunk = ChunkOf(s);
        ref readonly var slot = ref chunk.Slots[s & ChunkMask];
        return chunk.Ids.AsSpan(slot.IdStart, slot.IdLength);
    }

    private OrderLine LineAt(int s, string orderId) => SlotAt(s).Line(orderId);

    private int Find(string orderId)
    {
        if (Count == 0) return -1;
        var key = Key(orderId, stackalloc byte[256]);
        var position = FindPosition(key, IdHash.Of(key), out var old);
        return position < 0 ? -1 : (old ? _old! : _index)[position] - 1;
    }

    /// <summary>The id's UTF-8 bytes, in <paramref name="room"/> when they fit (ids are at most 128 ASCII characters).</summary>
    private static ReadOnlySpan<byte> Key(string id, Span<byte> room)
    {
        if (Encoding.UTF8.TryGetBytes(id, room, out var written)) return room[..written];
        return Encoding.UTF8.GetBytes(id);
    }

    /// <summary>
    /// The index position of <paramref name="key"/>'s line: in the current table, or (<paramref name="old"/>) in the one it
    /// grows from; negative when it has none.
    /// </summary>
    private int FindPosition(ReadOnlySpan<byte> key, int hash, out bool old)
    {
        old = false;
        if (_index.Length == 0) return -1;
        var position = Probe(_index, key, hash);
        if (position >= 0 || _old is null) return position;
        old = true;
        return Probe(_old, key, hash);
    }

    /// <summary>
    /// Where the probe for <paramref name="key"/> in <paramref name="table"/> ends: its line's position, or the complement
    /// (<c>~</c>, negative) of the empty one that ends its run, where a new line of it goes. The one look-up rule, for
    /// finding, adding and restoring lines; inlined into <see cref="Restore"/>, which is optimised from its first run.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int Probe(int[] table, ReadOnlySpan<byte> key, int hash)
    {
        var mask = table.Length - 1;
        for (var position = hash & mask; ; position = (position + 1) & mask)
        {
            var entry = table[position];
            if (entry == 0) return ~position;
            if (entry == Gone) continue;
            var s = entry - 1;
            if (SlotAt(s).Hash == hash && KeyAt(s).SequenceEqual(key)) return position;
        }
    }

    private static ArgumentException AlreadyOpen(string orderId) => new($"order {orderId} already has an open line");

    private static void Insert(int[] table, int s, int hash)
    {
        var mask = table.Length - 1;
        var position = hash & mask;
        while (table[position] != 0) position = (position + 1) & mask;
        table[position] = s + 1;
    }

    /// <summary>Empties a position of the current table and moves later entries of the same run back, so every look-up still finds its line.</summary>
    private void RemoveAt(int position)
    {
        var mask = _index.Length - 1;
        var hole = position;
        _index[hole] = 0;
        for (var next = (hole + 1) & mask; _index[next] != 0; next = (next + 1) & mask)
        {
            var home = SlotAt(_index[next] - 1).Hash & mask;
            // The entry stays when its home lies cyclically in (hole, next]: a look-up from there never crosses the hole.
            var stays = hole <= next ? home > hole && home <= next : home > hole || home <= next;
            if (stays) continue;
            _index[hole] = _index[next];
            _index[next] = 0;
            hole = next;
        }
    }

    /// <summary>
    /// A table twice the size; the lines move into it a slice at a time (<see cref="MoveSome"/>). The old table only loses
    /// entries meanwhile, marked <see cref="Gone"/> rather than emptied, so a probe in it still reaches the lines behind.
    /// </summary>
    private void GrowIndex()
    {
        while (_old is not null) MoveSome();
        if (_index.Length == 0)
        {
            _index = new int[IndexSizeFor(_capacity)];
            return;
        }
        (_old, _moved) = (_index, 0);
        _index = new int[2 * _old.Length];
    }

    private void MoveSome()
    {
        if (_old is not { } old) return;
        var end = Math.Min(old.Length, _moved + MovedPerStep);
        for (; _moved < end; _moved++)
        {
            var entry = old[_moved];
            if (entry <= 0) continue;
            Insert(_index, entry - 1, SlotAt(entry - 1).Hash);
            old[_moved] = Gone;
        }
        if (_moved == old.Length) _old = null;
    }

    /// <summary>The whole index again, from the open slots (a small table's growth, and packing).</summary>
    private void Reindex(int size)
    {
        (_index, _old) = (new int[size], null);
        for (var s = 0; s < _used; s++)
            if (SlotAt(s).Status != 0) Insert(_index, s, SlotAt(s).Hash);
    }

    private int TakeSlot()
    {
        if (_free >= 0)
        {
            var s = _free;
            _free = HeapIndex(s);
            return s;
        }
        if (_used == _capacity) GrowSlots();
        return _used++;
    }

    /// <summary>
    /// Room for more lines: the first chunk doubles up to <see cref="ChunkSlots"/> (copied: at most one chunk, with the
    /// index rebuilt for it), then each further chunk is made once and never copied.
    /// </summary>
    private void GrowSlots()
    {
        if (_chunkCount == 0)
        {
            AddChunk(InitialSlots, 32);
            Reindex(IndexSizeFor(_capacity));
        }
        else if (_chunkCount == 1 && _capacity < ChunkSlots)
        {
            var first = _chunks[0];
            var size = Math.Min(ChunkSlots, 2 * _capacity);
            Array.Resize(ref first.Slots, size);
            Array.Resize(ref first.Links, size);
            first.Shared = false;
            _capacity = size;
            if (_index.Length < IndexSizeFor(size)) Reindex(IndexSizeFor(size));
        }
        else AddChunk(ChunkSlots, 16 * ChunkSlots);
    }

    private void AddChunk(int slots, int idBytes)
    {
        if (_chunkCount == _chunks.Length) Array.Resize(ref _chunks, Math.Max(4, 2 * _chunks.Length));
        _chunks[_chunkCount++] = new Chunk(new OpenLineSlot[slots], new int[slots], new byte[idBytes]);
        _capacity += slots;
    }

    private int AppendId(int s, ReadOnlySpan<byte> key)
    {
        var chunk = ChunkOf(s);
        if (chunk.IdsUsed + key.Length > chunk.Ids.Length) RewriteIds(s >> ChunkShift, key.Length);
        var start = chunk.IdsUsed;
        key.CopyTo(chunk.Ids.AsSpan(start));
        chunk.IdsUsed += key.Length;
        chunk.LiveBytes += key.Length;
        return start;
    }

    /// <summary>A new byte log for chunk <paramref name="c"/> with its open lines' ids only and room for as many again (and the next id).</summary>
    private void RewriteIds(int c, int next)
    {
        var chunk = _chunks[c];
        if (chunk.Shared) chunk.Unshare();
        var bytes = new byte[Math.Max(32, 2 * (chunk.LiveBytes + next))];
        var used = 0;
        var end = Math.Min(chunk.Slots.Length, _used - (c << ChunkShift));
        for (var i = 0; i < end; i++)
        {
            ref var slot = ref chunk.Slots[i];
            if (slot.Status == 0) continue;
            chunk.Ids.AsSpan(slot.IdStart, slot.IdLength).CopyTo(bytes.AsSpan(used));
            slot.IdStart = used;
            used += slot.IdLength;
        }
        (chunk.Ids, chunk.IdsUsed) = (bytes, used);
    }

    /// <summary>Moves the open lines to the first slots of fewer chunks; the heap, which names slots, is rebuilt.</summary>
    private void Pack()
    {
        var (chunks, used) = (_chunks, _used);
        (_chunks, _chunkCount, _capacity, _used, _free) = ([], 0, 0, 0, -1);
        var target = Math.Max(InitialSlots, 2 * Count);
        AddChunk(Math.Min(target, ChunkSlots), 32);
        while (_capacity < target) AddChunk(ChunkSlots, 32);
        for (var s = 0; s < used; s++)
        {
            var from = chunks[s >> ChunkShift];
            ref var slot = ref from.Slots[s & ChunkMask];
            if (slot.Status == 0) continue;
            var to = _used++;
            var start = AppendId(to, from.Ids.AsSpan(slot.IdStart, slot.IdLength));
            SlotAt(to) = slot with { IdStart = start };
            SetHeapIndex(to, from.Links[s & ChunkMask]);
        }
        Reindex(IndexSizeFor(_capacity));
        for (var s = 0; s < _used; s++)
            if (SlotAt(s).Status == (byte)LineStatus.Reserved) _deadlines!.Moved(s);
    }

    // Twice the slots, rounded up to a power of two: linear probing stays short at most half full.
    private static int IndexSizeFor(int slots)
    {
        var size = 4;
        while (size < 2 * slots) size *= 2;
        return size;
    }

    /// <summary>
    /// <see cref="ChunkSlots"/> slots (the first chunk fewer while it grows), their links (an unpaid line's place in the
    /// heap; a free slot's next free one) and the byte log of their ids.
    /// </summary>
    private sealed class Chunk(OpenLineSlot[] slots, int[] links, byte[] ids)
    {
        public OpenLineSlot[] Slots = slots;
        public int[] Links = links;
        public byte[] Ids = ids;
        public int IdsUsed;
        public int LiveBytes;
        // Slots is also a snapshot's (see Copy): copied before the next write.
        public bool Shared;

        public void Unshare() => (Slots, Shared) = ((OpenLineSlot[])Slots.Clone(), false);
    }
}

/// <summary>A line without references: its id is a range of its chunk's byte log. Status 0 marks a free slot.</summary>
internal struct OpenLineSlot
{
    public long Ordered;
    public long Held;
    public long RestockedAhead;
    public long DeadlineTicks;
    public int IdStart;
    public int IdLength;
    public int Hash;
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

    /// <summary>Refuses a status an open line cannot have: open lines are reserved or committed.</summary>
    public static void RequireOpen(LineStatus status)
    {
        if (status is not (LineStatus.Reserved or LineStatus.Committed))
            throw new ArgumentOutOfRangeException(nameof(status), status, "an open line is reserved or committed");
    }

    /// <summary>Writes a line's values (not its id's place).</summary>
    public void Set(long ordered, long held, LineStatus status, DateTimeOffset paymentDeadline, long restockedAhead)
    {
        Ordered = ordered;
        Held = held;
        RestockedAhead = restockedAhead;
        Status = (byte)status;
        DeadlineTicks = paymentDeadline.UtcTicks;
        OffsetMinutes = (short)paymentDeadline.Offset.TotalMinutes;
    }
}

/// <summary>
/// A SKU's open lines as of one moment, read only (a snapshot's part): the chunks of values and id bytes the table held
/// then, no string per line, so a copy of a million lines costs neither a copy nor work for the collector. A snapshot's
/// lines read back are one too (<see cref="Builder"/>), from which a state is restored without a string per line.
/// Enumerating makes the strings; <see cref="Lines"/> reads them without.
/// </summary>
public sealed class OpenLinesCopy : IReadOnlyCollection<OrderLine>
{
    internal static readonly OpenLinesCopy Empty = new(0, [], [], []);

    private readonly OpenLineSlot[][] _slots;
    private readonly int[] _ends;
    private readonly byte[][] _ids;

    internal OpenLinesCopy(int count, OpenLineSlot[][] slots, int[] ends, byte[][] ids) => (Count, _slots, _ends, _ids) = (count, slots, ends, ids);

    public int Count { get; }

    /// <summary>How many parts the copy splits into: one per chunk of slots of the table it was taken from.</summary>
    public int PartCount => _slots.Length;

    /// <summary>Part <paramref name="i"/>: the lines of one chunk of slots, a copy of its own (counting them reads the chunk's slots).</summary>
    public OpenLinesCopy Part(int i)
    {
        var (slots, end) = (_slots[i], _ends[i]);
        var count = 0;
        for (var s = 0; s < end; s++)
            if (slots[s].Status != 0) count++;
        return new OpenLinesCopy(count, [slots], [end], [_ids[i]]);
    }

    /// <summary>The lines in order, without a string each.</summary>
    public Cursor Lines() => new(this);

    /// <summary><paramref name="lines"/> as a copy, in their order (lines made as values: by older snapshots, or tests).</summary>
    public static OpenLinesCopy Of(IReadOnlyCollection<OrderLine> lines)
    {
        if (lines is OpenLinesCopy copy) return copy;
        var builder = new Builder(lines.Count, 16 * lines.Count);
        var id = new byte[256];
        foreach (var line in lines)
        {
            if (Encoding.UTF8.GetMaxByteCount(line.OrderId.Length) > id.Length) id = new byte[Encoding.UTF8.GetMaxByteCount(line.OrderId.Length)];
            builder.Add(id.AsSpan(0, Encoding.UTF8.GetBytes(line.OrderId, id)), line.Ordered, line.Held, line.Status, line.PaymentDeadline, line.RestockedAhead);
        }
        return builder.Build();
    }

    /// <summary>The lines of <paramref name="parts"/> one after the other, sharing their chunks.</summary>
    public static OpenLinesCopy Join(IReadOnlyList<OpenLinesCopy> parts)
    {
        if (parts.Count == 1) return parts[0];
        var (slots, ends, ids) = (new List<OpenLineSlot[]>(), new List<int>(), new List<byte[]>());
        var count = 0;
        foreach (var part in parts)
        {
            count += part.Count;
            slots.AddRange(part._slots);
            ends.AddRange(part._ends);
            ids.AddRange(part._ids);
        }
        return count == 0 ? Empty : new OpenLinesCopy(count, [.. slots], [.. ends], [.. ids]);
    }

    public IEnumerator<OrderLine> GetEnumerator()
    {
        for (var c = 0; c < _slots.Length; c++)
            for (var i = 0; i < _ends[c]; i++)
            {
                var slot = _slots[c][i];
                if (slot.Status != 0) yield return slot.Line(Encoding.UTF8.GetString(_ids[c], slot.IdStart, slot.IdLength));
            }
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>Walks the lines of a copy: <see cref="Next"/>, then the current line's <see cref="IdBytes"/> and <see cref="Line"/>.</summary>
    public struct Cursor(OpenLinesCopy copy)
    {
        private int _chunk;
        private int _slot = -1;

        public bool Next()
        {
            for (; _chunk < copy._slots.Length; _chunk++, _slot = -1)
                while (++_slot < copy._ends[_chunk])
                    if (copy._slots[_chunk][_slot].Status != 0) return true;
            return false;
        }

        /// <summary>The UTF-8 bytes of the current line's order id.</summary>
        public readonly ReadOnlySpan<byte> IdBytes
        {
            get
            {
                ref readonly var slot = ref copy._slots[_chunk][_slot];
                return copy._ids[_chunk].AsSpan(slot.IdStart, slot.IdLength);
            }
        }

        /// <summary>The current line with <paramref name="orderId"/> as its id (the caller's, e.g. an empty one when only the numbers are read).</summary>
        public readonly OrderLine Line(string orderId) => copy._slots[_chunk][_slot].Line(orderId);

        /// <summary>The current line's slot as the copy holds it (its id's place is the copy's).</summary>
        internal readonly ref readonly OpenLineSlot Slot => ref copy._slots[_chunk][_slot];
    }

    /// <summary>
    /// Makes a copy of lines read one at a time (a snapshot's stored lines), their ids as bytes: no string per line. Every
    /// line is open (reserved or committed), as a state's are; the sizes given are what to make room for at first.
    /// </summary>
    public sealed class Builder(int lines, int idBytes)
    {
        private OpenLineSlot[] _slots = new OpenLineSlot[Math.Max(lines, 1)];
        private byte[] _ids = new byte[Math.Max(idBytes, 16)];
        private int _count;
        private int _idsUsed;

        public void Add(ReadOnlySpan<byte> orderId, long ordered, long held, LineStatus status, DateTimeOffset paymentDeadline, long restockedAhead)
        {
            OpenLineSlot.RequireOpen(status);
            if (_count == _slots.Length) Array.Resize(ref _slots, 2 * _count);
            if (_idsUsed + orderId.Length > _ids.Length) Array.Resize(ref _ids, Math.Max(2 * _ids.Length, _idsUsed + orderId.Length));
            orderId.CopyTo(_ids.AsSpan(_idsUsed));
            ref var slot = ref _slots[_count++];
            slot.Set(ordered, held, status, paymentDeadline, restockedAhead);
            (slot.IdStart, slot.IdLength) = (_idsUsed, orderId.Length);
            _idsUsed += orderId.Length;
        }

        public OpenLinesCopy Build() => _count == 0 ? Empty : new OpenLinesCopy(_count, [_slots], [_count], [_ids]);
    }
}
