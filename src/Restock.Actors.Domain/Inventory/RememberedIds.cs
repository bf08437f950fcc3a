using System.Collections;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;
using System.Text;

namespace Restock.Actors.Domain.Inventory;

/// <summary>How an id finished, which decides the answer to its repeat.</summary>
public enum Finish : byte
{
    /// <summary>A stock change stored before the kind was recorded: set or adjust, unknown.</summary>
    StockChanged = 1,
    StockSet = 2,
    StockAdjusted = 3,
    LineReleased = 4,
    LineShipped = 5,
    LineRefunded = 6,
}

/// <summary>
/// What is remembered of a finished id, and nothing more: how it finished, the one number its repeat must
/// match (the quantity set, the delta, the units ordered) and when (ticks of the SKU's clock).
/// </summary>
public readonly record struct Fingerprint(Finish Finish, long Amount, long AtTicks);

public enum IdKind : byte
{
    OrderLine = 1,
    Adjustment = 2,
    Refund = 3,
}

/// <summary>An id in the order it was remembered, for forgetting it once it is older than the horizon.</summary>
public readonly record struct Remembering(IdKind Kind, string Id, long AtTicks);

/// <summary>
/// Finished order lines and adjustments, each remembered for at least <see cref="Horizon"/> after it finished,
/// whatever the volume. <see cref="Clock"/> is the latest time the SKU's events carried; ids older than the
/// horizon by it are forgotten as the next events are applied.
/// <para>
/// Changed in place, like the <see cref="SkuState"/> that holds it: <see cref="SkuStock.Apply"/> consumes the state it is
/// given, and these methods change this object and return it. The ids live in a log of columns in the order they are to
/// be forgotten (UTF-8 bytes, kinds, fingerprints) with a hash index over its positions: remembering an id appends to
/// the log, forgetting advances this object's first position, so neither copies nor allocates per id (a million ids
/// were a million tree nodes before). <see cref="Copy"/> (a snapshot's) is a view of the same log that keeps seeing what
/// it saw: entries below its end never change, and appending from a view that is not the log's latest copies its range
/// first. Refund entries are queued for forgetting only: the SKU's refund records decide their fate.
/// </para>
/// </summary>
public sealed class RememberedIds
{
    private IdLog _log;
    private int _head;
    private int _end;

    private RememberedIds(TimeSpan horizon, DateTimeOffset clock, IdLog log, int head, int end, int lines, int adjustments)
    {
        Horizon = horizon;
        Clock = clock;
        _log = log;
        _head = head;
        _end = end;
        LineCount = lines;
        AdjustmentCount = adjustments;
    }

    public TimeSpan Horizon { get; }

    public DateTimeOffset Clock { get; private set; }

    public int LineCount { get; private set; }

    public int AdjustmentCount { get; private set; }

    /// <summary>Finished order lines and adjustments remembered.</summary>
    public int Count => LineCount + AdjustmentCount;

    /// <summary>Entries waiting to be forgotten, refunds and superseded entries included.</summary>
    public int Queued => _end - _head;

    public RememberedSet Lines => new(this, IdKind.OrderLine);

    public RememberedSet Adjustments => new(this, IdKind.Adjustment);

    public static RememberedIds Empty(TimeSpan horizon) => new(horizon, DateTimeOffset.MinValue, IdLog.Empty, 0, 0, 0, 0);

    /// <summary>
    /// Ids as a snapshot stored them, oldest first: the columns are taken as they are (not copied) and must not change
    /// afterwards. <paramref name="idEnds"/>[i] is where id i ends in <paramref name="idBytes"/> (UTF-8), the previous one
    /// where it starts. The arrays may be longer than <paramref name="count"/>: the rest is room for ids to come.
    /// </summary>
    /// <param name="firstPosition">The position of the first id (see <see cref="FirstPosition"/>); 0 for ids stored without one.</param>
    public static RememberedIds Restore(TimeSpan horizon, DateTimeOffset clock, int count, byte[] idBytes, int[] idEnds,
        byte[] kinds, byte[] finishes, long[] amounts, long[] atTicks, long firstPosition = 0)
    {
        if (count < 0 || firstPosition < 0 || new[] { idEnds.Length, kinds.Length, finishes.Length, amounts.Length, atTicks.Length }.Min() < count
            || (count > 0 && (idEnds[count - 1] > idBytes.Length || idEnds[0] < 0)))
            throw new ArgumentException("remembered ids: columns shorter than their count");
        var log = IdLog.FromColumns(count, idBytes, idEnds, kinds, finishes, amounts, atTicks, firstPosition);
        return new RememberedIds(horizon, clock, log, 0, count, log.LiveLines, log.LiveAdjustments);
    }

    public RememberedIds WithHorizon(TimeSpan horizon) => new(horizon, Clock, _log, _head, _end, LineCount, AdjustmentCount);

    /// <summary>A view of the ids remembered now, unchanged by what this object remembers or forgets later.</summary>
    public RememberedIds Copy() => WithHorizon(Horizon);

    /// <summary>The clock moves forward only: an event carrying an earlier time (or none) keeps it.</summary>
    public RememberedIds Tick(DateTimeOffset? at)
    {
        if (at is { } t && t > Clock) Clock = t;
        return this;
    }

    public RememberedIds Line(string orderId, Finish finish, long ordered) => Add(IdKind.OrderLine, orderId, finish, ordered, Clock.UtcTicks);

    public RememberedIds Adjustment(string adjustmentId, Finish finish, long amount) =>
        Add(IdKind.Adjustment, adjustmentId, finish, amount, Clock.UtcTicks);

    /// <summary>Queues a refund record to be considered for forgetting one horizon from now.</summary>
    public RememberedIds Refund(string refundId) => Add(IdKind.Refund, refundId, 0, 0, Clock.UtcTicks);

    /// <summary>Appends an entry restored from an older stored form, with its stored time.</summary>
    public RememberedIds Remember(IdKind kind, string id, Fingerprint fingerprint) =>
        Add(kind, id, fingerprint.Finish, fingerprint.Amount, fingerprint.AtTicks);

    /// <summary>
    /// The position of the oldest queued entry in the sequence of every entry ever appended (counted from the first, or from
    /// the first of an older snapshot that stored no positions): an entry keeps its position for good, so a store can keep
    /// entries in parts written once each (see <see cref="Range"/>).
    /// </summary>
    public long FirstPosition => _log.Base + _head;

    /// <summary>The position the next entry will take.</summary>
    public long EndPosition => _log.Base + _end;

    /// <summary>The queued entries from <paramref name="from"/> (at least <see cref="FirstPosition"/>) to <see cref="EndPosition"/>, as columns (read only).</summary>
    public RememberedRange Range(long from)
    {
        if (from < FirstPosition || from > EndPosition) throw new ArgumentOutOfRangeException(nameof(from), from, "outside the queued entries");
        return new RememberedRange(_log, (int)(from - _log.Base), _end);
    }

    /// <summary>When the oldest queued entry was remembered; null when none is.</summary>
    public long? OldestAtTicks => _head < _end ? _log.Ats[_head] : null;

    /// <summary>
    /// Forgets the lines and adjustments queued before <paramref name="cutoff"/>; one remembered before times were recorded
    /// (time 0) starts its horizon <paramref name="now"/> instead. Each refund queued before it is handed to
    /// <paramref name="keepRefund"/>, which says whether to queue it again from now.
    /// </summary>
    public RememberedIds Forget(long cutoff, long now, Func<string, bool> keepRefund) =>
        Forget(cutoff, now, keepRefund, static (keep, refundId) => keep(refundId));

    /// <summary>
    /// <see cref="Forget(long, long, Func{string, bool})"/> with what <paramref name="keepRefund"/> needs passed along, so a
    /// caller's static function serves (a closure would be made on every event applied).
    /// </summary>
    public RememberedIds Forget<TArg>(long cutoff, long now, TArg arg, Func<TArg, string, bool> keepRefund)
    {
        var head = _head;
        List<(IdKind Kind, string Id, Finish Finish, long Amount)>? again = null;
        while (head < _end && _log.Ats[head] < cutoff)
        {
            var p = head++;
            var kind = (IdKind)_log.Kinds[p];
            if (kind == IdKind.Refund)
            {
                var refundId = _log.IdAt(p);
                if (keepRefund(arg, refundId)) (again ??= []).Add((kind, refundId, 0, 0));
                continue;
            }
            // A later entry for the same id superseded this one: that one decides.
            if (_log.Find(kind, _log.KeyAt(p), _log.Hashes[p], p, _end) != p) continue;
            if (kind == IdKind.OrderLine) LineCount--;
            else AdjustmentCount--;
            if (_log.Ats[p] == 0) (again ??= []).Add((kind, _log.IdAt(p), (Finish)_log.Finishes[p], _log.Amounts[p]));
        }
        _head = head;
        foreach (var (kind, id, finish, amount) in again ?? [])
            Add(kind, id, finish, amount, now);
        return this;
    }

    /// <summary>The queued entries, oldest first (refunds and superseded entries included).</summary>
    public IEnumerable<Remembering> Queue
    {
        get
        {
            for (var p = _head; p < _end; p++)
                yield return new Remembering((IdKind)_log.Kinds[p], _log.IdAt(p), _log.Ats[p]);
        }
    }

    /// <summary>The queued entries as columns (read only, for snapshots): kinds, finishes, amounts, times.</summary>
    public ReadOnlySpan<byte> QueuedKinds => _log.Kinds.AsSpan(_head, Queued);

    public ReadOnlySpan<byte> QueuedFinishes => _log.Finishes.AsSpan(_head, Queued);

    public ReadOnlySpan<long> QueuedAmounts => _log.Amounts.AsSpan(_head, Queued);

    public ReadOnlySpan<long> QueuedAtTicks => _log.Ats.AsSpan(_head, Queued);

    /// <summary>The UTF-8 bytes of queued entry <paramref name="i"/> (0 = the oldest).</summary>
    public ReadOnlySpan<byte> QueuedId(int i) => _log.KeyAt(_head + i);

    /// <summary>The UTF-8 bytes of every queued id, back to back, in queue order.</summary>
    public ReadOnlySpan<byte> QueuedIdBytes => _head == _end ? [] : _log.Bytes.AsSpan(_log.StartOf(_head), _log.Ends[_end - 1] - _log.StartOf(_head));

    internal bool TryGet(IdKind kind, string id, out Fingerprint fingerprint)
    {
        var p = _head == _end ? -1 : _log.Find(kind, id, _head, _end);
        fingerprint = p < 0 ? default : new Fingerprint((Finish)_log.Finishes[p], _log.Amounts[p], _log.Ats[p]);
        return p >= 0;
    }

    internal IEnumerable<KeyValuePair<string, Fingerprint>> Live(IdKind kind)
    {
        for (var p = _head; p < _end; p++)
            if (_log.Kinds[p] == (byte)kind && _log.Find(kind, _log.KeyAt(p), _log.Hashes[p], p, _end) == p)
                yield return new(_log.IdAt(p), new Fingerprint((Finish)_log.Finishes[p], _log.Amounts[p], _log.Ats[p]));
    }

    private RememberedIds Add(IdKind kind, string id, Finish finish, long amount, long at)
    {
        var length = Encoding.UTF8.GetByteCount(id);
        Span<byte> key = length <= 256 ? stackalloc byte[length] : new byte[length];
        Encoding.UTF8.GetBytes(id, key);
        var hash = IdLog.Hash(kind, key);
        var known = kind != IdKind.Refund && _head < _end && _log.Find(kind, key, hash, _head, _end) >= 0;
        var (log, head) = (_log, _head);
        // Only the log's latest value appends in place; the log grows or sheds its forgotten part by copying the live range.
        if (log.Length != _end || !log.HasRoom(length))
            (log, head) = (log.CopyRange(_head, _end, length), 0);
        log.Append(kind, key, hash, finish, amount, at);
        (_log, _head, _end) = (log, head, log.Length);
        if (kind == IdKind.OrderLine && !known) LineCount++;
        if (kind == IdKind.Adjustment && !known) AdjustmentCount++;
        return this;
    }
}

/// <summary>
/// Consecutive queued entries as columns, read only: entries below a view's end never change, so this stays valid while
/// the ids it came from move on.
/// </summary>
public readonly struct RememberedRange
{
    private readonly IdLog _log;
    private readonly int _from, _end;

    internal RememberedRange(IdLog log, int from, int end) => (_log, _from, _end) = (log, from, end);

    public long Start => _log.Base + _from;

    public int Count => _end - _from;

    public ReadOnlySpan<byte> Kinds => _log.Kinds.AsSpan(_from, Count);

    public ReadOnlySpan<byte> Finishes => _log.Finishes.AsSpan(_from, Count);

    public ReadOnlySpan<long> Amounts => _log.Amounts.AsSpan(_from, Count);

    public ReadOnlySpan<long> AtTicks => _log.Ats.AsSpan(_from, Count);

    /// <summary>The UTF-8 bytes of entry <paramref name="i"/> (0 = the first of the range).</summary>
    public ReadOnlySpan<byte> Id(int i) => _log.KeyAt(_from + i);

    /// <summary>The UTF-8 bytes of every id of the range, back to back.</summary>
    public ReadOnlySpan<byte> IdBytes => Count == 0 ? [] : _log.Bytes.AsSpan(_log.StartOf(_from), _log.Ends[_end - 1] - _log.StartOf(_from));
}

/// <summary>The remembered ids of one kind: look-ups without allocating, and an enumeration (for tests and reports).</summary>
public readonly struct RememberedSet(RememberedIds ids, IdKind kind) : IEnumerable<KeyValuePair<string, Fingerprint>>
{
    public int Count => kind == IdKind.OrderLine ? ids.LineCount : ids.AdjustmentCount;

    public bool TryGetValue(string id, out Fingerprint fingerprint) => ids.TryGet(kind, id, out fingerprint);

    public bool ContainsKey(string id) => ids.TryGet(kind, id, out _);

    public IEnumerable<string> Keys => ids.Live(kind).Select(e => e.Key);

    public IEnumerator<KeyValuePair<string, Fingerprint>> GetEnumerator() => ids.Live(kind).GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}

/// <summary>
/// The columns behind <see cref="RememberedIds"/> values: entries are written once, at <see cref="Length"/>, and never
/// changed, so values made earlier keep reading their range while later ones append (also from another thread, as a
/// snapshot being stored does). The index maps an id's hash to positions (open addressing, linear probing, at most half
/// full); it is rebuilt, never shrunk, when the live range is copied into a new log.
/// </summary>
internal sealed class IdLog
{
    public static readonly IdLog Empty = new(0, 0);

    public readonly byte[] Bytes;
    public readonly int[] Ends;
    public readonly int[] Hashes;
    public readonly byte[] Kinds;
    public readonly byte[] Finishes;
    public readonly long[] Amounts;
    public readonly long[] Ats;
    public int Length;
    /// <summary>The position (see <see cref="RememberedIds.FirstPosition"/>) of this log's entry 0.</summary>
    public long Base;
    private int[] _index = [];

    private IdLog(int capacity, int byteCapacity)
        : this(new byte[byteCapacity], new int[capacity], new byte[capacity], new byte[capacity], new long[capacity], new long[capacity])
    {
    }

    private IdLog(byte[] bytes, int[] ends, byte[] kinds, byte[] finishes, long[] amounts, long[] ats)
    {
        Bytes = bytes;
        Ends = ends;
        Kinds = kinds;
        Finishes = finishes;
        Amounts = amounts;
        Ats = ats;
        Hashes = new int[ends.Length];
    }

    // Bulk loops over every id run once per recovery: compiled optimised at once rather than first as tier-0 code.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static IdLog FromColumns(int count, byte[] bytes, int[] ends, byte[] kinds, byte[] finishes, long[] amounts, long[] ats, long @base)
    {
        var capacity = new[] { ends.Length, kinds.Length, finishes.Length, amounts.Length, ats.Length }.Min();
        var log = capacity == ends.Length && capacity == kinds.Length && capacity == finishes.Length && capacity == amounts.Length && capacity == ats.Length
            ? new IdLog(bytes, ends, kinds, finishes, amounts, ats)
            : new IdLog(bytes, ends[..capacity], kinds[..capacity], finishes[..capacity], amounts[..capacity], ats[..capacity]);
        var previous = 0;
        for (var p = 0; p < count; p++)
        {
            if (ends[p] < previous) throw new ArgumentException("remembered ids: id ends out of order");
            previous = ends[p];
            if (kinds[p] is < (byte)IdKind.OrderLine or > (byte)IdKind.Refund) throw new ArgumentException($"remembered ids: unknown kind {kinds[p]}");
            log.Hashes[p] = Hash((IdKind)kinds[p], log.KeyAt(p));
        }
        log.Length = count;
        log.Base = @base;
        log.BuildIndex();
        return log;
    }

    public bool HasRoom(int idBytes) => Length < Ends.Length && BytesUsed + idBytes <= Bytes.Length;

    private int BytesUsed => Length == 0 ? 0 : Ends[Length - 1];

    public int StartOf(int p) => p == 0 ? 0 : Ends[p - 1];

    public ReadOnlySpan<byte> KeyAt(int p) => Bytes.AsSpan(StartOf(p), Ends[p] - StartOf(p));

    public string IdAt(int p) => Encoding.UTF8.GetString(KeyAt(p));

    /// <summary>
    /// A new log holding entries [<paramref name="head"/>, <paramref name="end"/>) with room to grow (twice the live range).
    /// It starts small: most SKUs remember a handful of ids, and 100,000 of them are active at once (a few KB each).
    /// </summary>
    public IdLog CopyRange(int head, int end, int nextIdBytes)
    {
        var live = end - head;
        var start = head == end ? 0 : StartOf(head);
        var liveBytes = head == end ? 0 : Ends[end - 1] - start;
        var copy = new IdLog(2 * (live + 1), Math.Max(16, 2 * (liveBytes + nextIdBytes)));
        Bytes.AsSpan(start, liveBytes).CopyTo(copy.Bytes);
        for (var i = 0; i < live; i++) copy.Ends[i] = Ends[head + i] - start;
        Hashes.AsSpan(head, live).CopyTo(copy.Hashes);
        Kinds.AsSpan(head, live).CopyTo(copy.Kinds);
        Finishes.AsSpan(head, live).CopyTo(copy.Finishes);
        Amounts.AsSpan(head, live).CopyTo(copy.Amounts);
        Ats.AsSpan(head, live).CopyTo(copy.Ats);
        copy.Length = live;
        copy.Base = Base + head;
        copy.BuildIndex();
        return copy;
    }

    public void Append(IdKind kind, ReadOnlySpan<byte> key, int hash, Finish finish, long amount, long at)
    {
        var p = Length;
        var start = BytesUsed;
        key.CopyTo(Bytes.AsSpan(start));
        Ends[p] = start + key.Length;
        Hashes[p] = hash;
        Kinds[p] = (byte)kind;
        Finishes[p] = (byte)finish;
        Amounts[p] = amount;
        Ats[p] = at;
        if (kind != IdKind.Refund) Insert(p);
        // Published last: a value reading this log from another thread sees only entries below its own end.
        Length = p + 1;
    }

    /// <summary>The latest position in [<paramref name="head"/>, <paramref name="end"/>) holding the id; -1 if none.</summary>
    public int Find(IdKind kind, ReadOnlySpan<byte> key, int hash, int head, int end)
    {
        var best = -1;
        var mask = _index.Length - 1;
        for (var slot = hash & mask; ; slot = (slot + 1) & mask)
        {
            var p = _index[slot] - 1;
            if (p < 0) return best;
            if (p >= head && p < end && p > best && Hashes[p] == hash && Kinds[p] == (byte)kind && KeyAt(p).SequenceEqual(key))
                best = p;
        }
    }

    public int Find(IdKind kind, string id, int head, int end)
    {
        var length = Encoding.UTF8.GetByteCount(id);
        Span<byte> key = length <= 256 ? stackalloc byte[length] : new byte[length];
        Encoding.UTF8.GetBytes(id, key);
        return Find(kind, key, Hash(kind, key), head, end);
    }

    /// <summary>Distinct ids of each kind when the index was built (an id stored twice is counted once).</summary>
    public int LiveLines { get; private set; }

    public int LiveAdjustments { get; private set; }

    /// <summary>
    /// Indexes entries [0, <see cref="Length"/>): an id stored twice (remembered again before the older entry was forgotten)
    /// keeps only its latest position, which is what a look-up in this new log must find.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private unsafe void BuildIndex()
    {
        // Twice the capacity, rounded up to a power of two: linear probing stays short at most half full.
        var size = 4;
        while (size < 2 * Ends.Length) size *= 2;
        _index = new int[size];
        var (index, hashes, kinds, length, mask) = (_index, Hashes, Kinds, Length, size - 1);
        var (lines, adjustments) = (0, 0);
        fixed (int* slots = index)
        {
            for (var p = 0; p < length; p++)
            {
                // A restore's table is larger than the caches and each id's slot random: a miss per id, which the probe's
                // branches kept from overlapping. The slot of the id PrefetchAhead on is asked for now, so it is there when
                // its turn comes (a hint, never read through: it cannot fault). Half the loop's time, measured.
                if (Sse.IsSupported && p + PrefetchAhead < length) Sse.Prefetch0(slots + (hashes[p + PrefetchAhead] & mask));
                var kind = kinds[p];
                if (kind == (byte)IdKind.Refund) continue;
                var hash = hashes[p];
                var slot = hash & mask;
                for (; index[slot] != 0; slot = (slot + 1) & mask)
                {
                    var q = index[slot] - 1;
                    if (hashes[q] == hash && kinds[q] == kind && KeyAt(q).SequenceEqual(KeyAt(p))) break;
                }
                if (index[slot] == 0)
                {
                    if (kind == (byte)IdKind.OrderLine) lines++;
                    else adjustments++;
                }
                index[slot] = p + 1;
            }
        }
        (LiveLines, LiveAdjustments) = (lines, adjustments);
    }

    /// <summary>How many ids ahead <see cref="BuildIndex"/> fetches a slot: about the misses a core keeps in flight.</summary>
    private const int PrefetchAhead = 16;

    private void Insert(int p)
    {
        var mask = _index.Length - 1;
        var slot = Hashes[p] & mask;
        while (_index[slot] != 0) slot = (slot + 1) & mask;
        _index[slot] = p + 1;
    }

    /// <summary>The id's hash (<see cref="IdHash"/>) mixed with its kind, so the same id of two kinds starts its probe apart.</summary>
    // Inlined into the recovery's loop over every id, which is optimised at once (see IdHash.Of).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Hash(IdKind kind, ReadOnlySpan<byte> utf8) => IdHash.Of(utf8) ^ ((int)kind * -1640531535);
}
