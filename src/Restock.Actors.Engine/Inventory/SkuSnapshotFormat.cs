using System.Buffers.Binary;
using System.Globalization;
using System.IO.Hashing;
using System.Runtime.CompilerServices;
using System.Runtime.Serialization;
using Restock.Actors.Domain.Inventory;

namespace Restock.Actors.Engine.Inventory;

/// <summary>
/// The stored layout of a <see cref="SkuSnapshot"/>: JSON for the counters, open lines and refunds, then the remembered
/// ids as columns, so that reading a million of them is a few copies and loops instead of a million JSON objects and
/// strings. All integers little-endian; varints are LEB128, signed ones zigzag-encoded:
/// <code>
/// byte 2 (the layout) · int32 length of the JSON · the JSON
/// varint count · varint total bytes of the ids
/// kinds[count] · finishes[count] (bytes) · varint id lengths[count] · the ids (UTF-8, back to back)
/// signed varint amounts[count] · signed varint times[count] (ticks, each as the difference to the previous one)
/// </code>
/// A head whose ids are kept in chunks (<see cref="SkuSnapshot.Chunks"/>) is byte 3 · int32 length of the JSON · the JSON.
/// From session 20 on, the JSON of either opens with <c>{"crc32":"xxxxxxxx",</c>: the CRC-32 (8 hex digits) of every byte
/// of the head but those digits, the columns included. A JSON property, not bytes after it, because a build from before
/// it reads the head as it is (it ignores the property) where it refuses bytes left over. A head without it (written
/// earlier) is read as before if it opens as those did (<c>{"isKnown":</c>); a byte changed inside either opening is refused.
/// A chunk (<see cref="IdChunk"/>) is byte 2 · int64 lineage · varint position of its first id · the columns as above ·
/// uint32 CRC-32 of every byte before it (<see cref="StoredChecksum"/>: the layout alone catches only damage to its shape).
/// Chunks of byte 1 (written before session 19) have no checksum and are read as before.
/// </summary>
internal static class SkuSnapshotFormat
{
    private const byte Layout = 2, HeadLayout = 3, ChunkLayout = 2, ChunkWithoutChecksum = 1;

    // The opening of a head's JSON that holds its checksum: the digits follow at once, then the closing quote and a comma.
    private static ReadOnlySpan<byte> ChecksumOpening => "{\"crc32\":\""u8;
    private const int ChecksumDigits = 8;
    // How a head written before the checksum opens: SkuSnapshot's first property, the same since the first build.
    private static ReadOnlySpan<byte> UncheckedOpening => "{\"isKnown\":"u8;
    private static readonly int ChecksummedOpening = ChecksumOpening.Length + ChecksumDigits + 2;

    public static byte[] Write(SkuSnapshot snapshot, Func<SkuSnapshot, byte[]> json)
    {
        var head = json(snapshot);
        if (head.Length < 3 || head[0] != (byte)'{') throw new InvalidOperationException("a SKU snapshot's JSON is not an object with properties");
        // The opening takes the place of the JSON's brace.
        var jsonLength = ChecksummedOpening + head.Length - 1;
        if (snapshot.Chunks is not null)
        {
            var headOnly = new byte[5 + jsonLength];
            headOnly[0] = HeadLayout;
            WriteJson(head, headOnly, jsonLength);
            SealHead(headOnly);
            return headOnly;
        }
        var ids = snapshot.Finished ?? RememberedIds.Empty(SkuState.DefaultHorizon);
        var range = ids.Range(ids.FirstPosition);
        var bytes = new byte[5 + jsonLength + ColumnsSize(range)];
        bytes[0] = Layout;
        WriteJson(head, bytes, jsonLength);
        var at = 5 + jsonLength;
        WriteColumns(range, bytes, ref at, bytes.Length);
        SealHead(bytes);
        return bytes;
    }

    private static void WriteJson(byte[] json, byte[] bytes, int jsonLength)
    {
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(1), jsonLength);
        ChecksumOpening.CopyTo(bytes.AsSpan(5));
        "\","u8.CopyTo(bytes.AsSpan(5 + ChecksumOpening.Length + ChecksumDigits));
        json.AsSpan(1).CopyTo(bytes.AsSpan(5 + ChecksummedOpening));
    }

    private static void SealHead(byte[] bytes)
    {
        if (!HeadChecksum(bytes).TryFormat(bytes.AsSpan(5 + ChecksumOpening.Length, ChecksumDigits), out _, "x8", CultureInfo.InvariantCulture))
            throw new InvalidOperationException("a checksum longer than its digits");
    }

    /// <summary>Whether the head's JSON opens with a checksum: false for a head written before session 20.</summary>
    private static bool HasChecksum(byte[] bytes, int jsonLength) =>
        jsonLength > ChecksummedOpening && bytes.AsSpan(5).StartsWith(ChecksumOpening)
        && bytes.AsSpan(5 + ChecksumOpening.Length + ChecksumDigits).StartsWith("\","u8);

    /// <summary>The CRC-32 of a head's every byte but its checksum's digits (vectorised, once over the whole head).</summary>
    private static uint HeadChecksum(byte[] bytes)
    {
        var digits = 5 + ChecksumOpening.Length;
        var crc = new Crc32();
        crc.Append(bytes.AsSpan(0, digits));
        crc.Append(bytes.AsSpan(digits + ChecksumDigits));
        return crc.GetCurrentHashAsUInt32();
    }

    public static byte[] Write(IdChunk chunk)
    {
        var range = chunk.Source ?? throw new InvalidOperationException("a chunk read from storage is not written again");
        var end = 1 + 8 + VarSize((ulong)range.Start) + ColumnsSize(range);
        var bytes = new byte[end + StoredChecksum.Size];
        bytes[0] = ChunkLayout;
        BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(1), chunk.Lineage);
        var at = 9;
        WriteVar(bytes, ref at, (ulong)range.Start);
        WriteColumns(range, bytes, ref at, end);
        StoredChecksum.Seal(bytes);
        return bytes;
    }

    private static int ColumnsSize(RememberedRange ids)
    {
        var count = ids.Count;
        var amounts = ids.Amounts;
        var times = ids.AtTicks;
        var size = VarSize((ulong)count) + VarSize((ulong)ids.IdBytes.Length) + 2 * count + ids.IdBytes.Length;
        var previous = 0L;
        for (var i = 0; i < count; i++)
        {
            size += VarSize((ulong)ids.Id(i).Length) + VarSize(ZigZag(amounts[i])) + VarSize(ZigZag(times[i] - previous));
            previous = times[i];
        }
        return size;
    }

    // Loops over every id, run once per snapshot or recovery: compiled optimised at once rather than first as tier-0 code.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void WriteColumns(RememberedRange ids, byte[] bytes, ref int at, int end)
    {
        var count = ids.Count;
        var idBytes = ids.IdBytes;
        var amounts = ids.Amounts;
        var times = ids.AtTicks;
        WriteVar(bytes, ref at, (ulong)count);
        WriteVar(bytes, ref at, (ulong)idBytes.Length);
        ids.Kinds.CopyTo(bytes.AsSpan(at));
        at += count;
        ids.Finishes.CopyTo(bytes.AsSpan(at));
        at += count;
        for (var i = 0; i < count; i++) WriteVar(bytes, ref at, (ulong)ids.Id(i).Length);
        idBytes.CopyTo(bytes.AsSpan(at));
        at += idBytes.Length;
        for (var i = 0; i < count; i++) WriteVar(bytes, ref at, ZigZag(amounts[i]));
        var previous = 0L;
        for (var i = 0; i < count; i++)
        {
            WriteVar(bytes, ref at, ZigZag(times[i] - previous));
            previous = times[i];
        }
        if (at != end) throw new InvalidOperationException("remembered ids changed while being stored");
    }

    /// <summary>
    /// Reads a snapshot; its remembered ids get a quarter more room than they hold, so the SKU's next finished lines
    /// append without copying the million before them. A head whose ids are in chunks comes without them.
    /// </summary>
    public static SkuSnapshot Read(byte[] bytes, Func<ReadOnlyMemory<byte>, SkuSnapshot> json)
    {
        try
        {
            if (bytes.Length < 5 || bytes[0] is not (Layout or HeadLayout)) throw Damaged($"not layout {Layout} or {HeadLayout}");
            var headLength = BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(1));
            if (headLength < 0 || headLength > bytes.Length - 5) throw Damaged("a head longer than the bytes");
            if (HasChecksum(bytes, headLength))
            {
                if (!uint.TryParse(bytes.AsSpan(5 + ChecksumOpening.Length, ChecksumDigits), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var sealedWith)
                    || sealedWith != HeadChecksum(bytes))
                    throw Damaged("its checksum does not match its bytes");
            }
            // A head without the checksum must open as every earlier build's did: a damaged opening would otherwise let
            // damage elsewhere in the head through unchecked.
            else if (!bytes.AsSpan(5, headLength).StartsWith(UncheckedOpening))
                throw Damaged("neither a checksum nor an earlier build's opening");
            var snapshot = json(bytes.AsMemory(5, headLength));
            var at = 5 + headLength;
            if (bytes[0] == HeadLayout)
            {
                if (at != bytes.Length || snapshot.Chunks is null) throw Damaged("a head with ids of its own, or without chunks");
                return snapshot;
            }
            if (snapshot.Chunks is not null) throw Damaged("ids both inline and in chunks");
            var stored = ReadStored(bytes, at, bytes.Length);
            var c = new Columns(stored.Count + stored.Count / 4 + 16, stored.IdLength + stored.IdLength / 4 + 256);
            at = c.Append(stored, 0, stored.Count);
            if (at != bytes.Length) throw Damaged("bytes left over");
            return snapshot with
            {
                Finished = RememberedIds.Restore(SkuState.DefaultHorizon, snapshot.Clock ?? DateTimeOffset.MinValue, c.Count, c.Ids, c.Ends,
                    c.Kinds, c.Finishes, c.Amounts, c.Times),
            };
        }
        catch (Exception e) when (e is ArgumentException or IndexOutOfRangeException or OverflowException or System.Text.Json.JsonException)
        {
            throw new SerializationException($"a SKU snapshot cut short or damaged: {e.Message}", e);
        }
    }

    public static IdChunk ReadChunk(byte[] bytes)
    {
        try
        {
            if (bytes.Length < 9 || bytes[0] is not (ChunkLayout or ChunkWithoutChecksum))
                throw Damaged($"not a chunk of layout {ChunkLayout} or {ChunkWithoutChecksum}");
            var end = bytes.Length;
            if (bytes[0] == ChunkLayout)
            {
                // Once over the whole chunk (vectorised): its columns are decoded later, by the head's join.
                end -= StoredChecksum.Size;
                if (end < 9 || !StoredChecksum.Holds(bytes))
                    throw Damaged("its checksum does not match its bytes");
            }
            var lineage = BinaryPrimitives.ReadInt64LittleEndian(bytes.AsSpan(1));
            var at = 9;
            var start = checked((long)ReadVar(bytes, ref at));
            return new IdChunk(lineage, start, ReadStored(bytes, at, end));
        }
        catch (Exception e) when (e is ArgumentException or IndexOutOfRangeException or OverflowException)
        {
            throw new SerializationException($"a chunk of remembered ids cut short or damaged: {e.Message}", e);
        }
    }

    /// <summary>
    /// The counts that open stored columns at <paramref name="at"/>, checked against the bytes up to <paramref name="end"/>
    /// (where the columns must end); the columns follow them.
    /// </summary>
    private static StoredColumns ReadStored(byte[] bytes, int at, int end)
    {
        var count = checked((int)ReadVar(bytes, ref at));
        var idLength = checked((int)ReadVar(bytes, ref at));
        if (count > end - at || idLength > end - at) throw Damaged("more than the bytes hold");
        return new StoredColumns(bytes, at, end, count, idLength);
    }

    /// <summary>
    /// Remembered ids being read into the columns a <see cref="RememberedIds"/> takes as they are, sized once for all of them
    /// (with room for ids to come): each stored column is decoded straight into its place, not first into columns of its own.
    /// </summary>
    private sealed class Columns(int size, long idBytes)
    {
        public readonly int[] Ends = new int[size];
        public readonly byte[] Kinds = new byte[size], Finishes = new byte[size];
        public readonly long[] Amounts = new long[size], Times = new long[size];
        public readonly byte[] Ids = new byte[idBytes];
        public int Count, IdBytes;

        /// <summary>Appends entries [<paramref name="skip"/>, <paramref name="take"/>) of <paramref name="stored"/>; returns where its columns end.</summary>
        // Loops over every id, run once per snapshot or recovery: compiled optimised at once rather than first as tier-0 code.
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public int Append(StoredColumns stored, int skip, int take)
        {
            var (bytes, at, count) = (stored.Bytes, stored.At, stored.Count);
            var (n, taken) = (Count, take - skip);
            bytes.AsSpan(at + skip, taken).CopyTo(Kinds.AsSpan(n));
            at += count;
            bytes.AsSpan(at + skip, taken).CopyTo(Finishes.AsSpan(n));
            at += count;
            // Where the ids taken start and end in the stored ids.
            var (end, from, to) = (0, 0, 0);
            for (var i = 0; i < count; i++)
            {
                var previous = end;
                end = checked(end + (int)ReadVar(bytes, ref at));
                if (i == skip) from = previous;
                if (i >= skip && i < take) Ends[n + i - skip] = end;
                if (i == take - 1) to = end;
            }
            if (end != stored.IdLength) throw Damaged("lengths do not add up to the ids' bytes");
            var shift = IdBytes - from;
            for (var i = n; i < n + taken; i++) Ends[i] += shift;
            bytes.AsSpan(at + from, to - from).CopyTo(Ids.AsSpan(IdBytes));
            at += stored.IdLength;
            for (var i = 0; i < count; i++)
            {
                var amount = UnZigZag(ReadVar(bytes, ref at));
                if (i >= skip && i < take) Amounts[n + i - skip] = amount;
            }
            var time = 0L;
            for (var i = 0; i < count; i++)
            {
                time += UnZigZag(ReadVar(bytes, ref at));
                if (i >= skip && i < take) Times[n + i - skip] = time;
            }
            (Count, IdBytes) = (n + taken, IdBytes + to - from);
            return at;
        }
    }

    /// <summary>
    /// The ids of a head's chunks as one value: from each chunk the ids the head took from it (a chunk written again later
    /// may hold more), from position <see cref="IdChunks.First"/> on. Null when the chunks are not the head's: one missing,
    /// of another lineage, shorter than the head took, or not consecutive. Throws <see cref="SerializationException"/> when
    /// a chunk it takes from is cut short or damaged.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static RememberedIds? Join(IdChunks head, IReadOnlyDictionary<long, object> stored, DateTimeOffset clock)
    {
        var total = head.End - head.First;
        if (total < 0 || total > int.MaxValue / 2) return null;
        if (head.Parts.Length == 0) return total == 0 ? RememberedIds.Restore(SkuState.DefaultHorizon, clock, 0, [], [], [], [], [], [], head.First) : null;
        var parts = new (IdChunk Chunk, StoredColumns Stored, int Skip, int Take)[head.Parts.Length];
        var expected = head.Parts[0].Start;
        var idBytes = 0L;
        for (var i = 0; i < parts.Length; i++)
        {
            var r = head.Parts[i];
            if (!stored.TryGetValue(r.Start, out var found) || found is not IdChunk { Stored: { } columns } chunk || chunk.Lineage != head.Lineage
                || r.Start != expected || r.Count <= 0 || columns.Count < r.Count)
                return null;
            var skip = (int)Math.Max(0, Math.Min(r.Count, head.First - r.Start));
            parts[i] = (chunk, columns, skip, r.Count);
            // At most: the ids skipped in the first chunk and those after what the head took are not known before decoding.
            idBytes += columns.IdLength;
            expected = r.Start + r.Count;
        }
        if (head.Parts[0].Start > head.First || expected != head.End || parts[0].Skip >= parts[0].Take) return null;

        var count = (int)total;
        var joined = new Columns(count + count / 4 + 16, idBytes + idBytes / 4 + 256);
        foreach (var (chunk, columns, skip, take) in parts)
        {
            try
            {
                if (joined.Append(columns, skip, take) != columns.End) throw Damaged("bytes left over");
            }
            catch (Exception e) when (e is ArgumentException or IndexOutOfRangeException or OverflowException or SerializationException)
            {
                throw new SerializationException($"the chunk of remembered ids at {chunk.Start} cut short or damaged: {e.Message}", e);
            }
        }
        try
        {
            return RememberedIds.Restore(SkuState.DefaultHorizon, clock, count, joined.Ids, joined.Ends, joined.Kinds, joined.Finishes,
                joined.Amounts, joined.Times, head.First);
        }
        catch (ArgumentException e)
        {
            // The columns are sized and ordered here: what Restore still refuses (an unknown kind) is a damaged chunk.
            throw Damaged(e.Message);
        }
    }

    private static SerializationException Damaged(string why) => new($"a damaged SKU snapshot: {why}");

    private static ulong ZigZag(long value) => (ulong)((value << 1) ^ (value >> 63));

    private static long UnZigZag(ulong value) => (long)(value >> 1) ^ -(long)(value & 1);

    private static int VarSize(ulong value)
    {
        var size = 1;
        while (value >= 0x80)
        {
            value >>= 7;
            size++;
        }
        return size;
    }

    private static void WriteVar(byte[] bytes, ref int at, ulong value)
    {
        while (value >= 0x80)
        {
            bytes[at++] = (byte)(value | 0x80);
            value >>= 7;
        }
        bytes[at++] = (byte)value;
    }

    // Called a few times per remembered id by the loops above, and not inlined there (its loop): optimised at once, or a
    // SKU's first recovery in a process runs it as tier-0 code until the JIT's busy background thread gets to it.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static ulong ReadVar(byte[] bytes, ref int at)
    {
        ulong value = 0;
        for (var shift = 0; shift < 70; shift += 7)
        {
            var b = bytes[at++];
            value |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80) return value;
        }
        throw Damaged("a number longer than 64 bits");
    }
}
