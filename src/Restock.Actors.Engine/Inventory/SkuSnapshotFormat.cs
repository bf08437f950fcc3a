using System.Buffers.Binary;
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
/// </summary>
internal static class SkuSnapshotFormat
{
    private const byte Layout = 2;

    // Loops over every id, run once per snapshot or recovery: compiled optimised at once rather than first as tier-0 code.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static byte[] Write(SkuSnapshot snapshot, Func<SkuSnapshot, byte[]> json)
    {
        var head = json(snapshot);
        var ids = snapshot.Finished ?? RememberedIds.Empty(SkuState.DefaultHorizon);
        var count = ids.Queued;
        var idBytes = ids.QueuedIdBytes;
        var kinds = ids.QueuedKinds;
        var finishes = ids.QueuedFinishes;
        var amounts = ids.QueuedAmounts;
        var times = ids.QueuedAtTicks;

        var size = 1 + 4 + head.Length + VarSize((ulong)count) + VarSize((ulong)idBytes.Length) + 2 * count + idBytes.Length;
        var previous = 0L;
        for (var i = 0; i < count; i++)
        {
            size += VarSize((ulong)ids.QueuedId(i).Length) + VarSize(ZigZag(amounts[i])) + VarSize(ZigZag(times[i] - previous));
            previous = times[i];
        }

        var bytes = new byte[size];
        bytes[0] = Layout;
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(1), head.Length);
        head.CopyTo(bytes, 5);
        var at = 5 + head.Length;
        WriteVar(bytes, ref at, (ulong)count);
        WriteVar(bytes, ref at, (ulong)idBytes.Length);
        kinds.CopyTo(bytes.AsSpan(at));
        at += count;
        finishes.CopyTo(bytes.AsSpan(at));
        at += count;
        for (var i = 0; i < count; i++) WriteVar(bytes, ref at, (ulong)ids.QueuedId(i).Length);
        idBytes.CopyTo(bytes.AsSpan(at));
        at += idBytes.Length;
        for (var i = 0; i < count; i++) WriteVar(bytes, ref at, ZigZag(amounts[i]));
        previous = 0;
        for (var i = 0; i < count; i++)
        {
            WriteVar(bytes, ref at, ZigZag(times[i] - previous));
            previous = times[i];
        }
        return bytes;
    }

    /// <summary>
    /// Reads a snapshot; its remembered ids get a quarter more room than they hold, so the SKU's next finished lines
    /// append without copying the million before them.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static SkuSnapshot Read(byte[] bytes, Func<ReadOnlyMemory<byte>, SkuSnapshot> json)
    {
        try
        {
            if (bytes.Length < 5 || bytes[0] != Layout) throw Damaged($"not layout {Layout}");
            var headLength = BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(1));
            var snapshot = json(bytes.AsMemory(5, headLength));
            var at = 5 + headLength;
            var count = checked((int)ReadVar(bytes, ref at));
            var idLength = checked((int)ReadVar(bytes, ref at));
            if (count > bytes.Length - at || idLength > bytes.Length - at) throw Damaged("more than the bytes hold");
            var room = count + count / 4 + 16;
            var kinds = new byte[room];
            bytes.AsSpan(at, count).CopyTo(kinds);
            at += count;
            var finishes = new byte[room];
            bytes.AsSpan(at, count).CopyTo(finishes);
            at += count;
            var ends = new int[room];
            var end = 0;
            for (var i = 0; i < count; i++) ends[i] = end = checked(end + (int)ReadVar(bytes, ref at));
            if (end != idLength) throw Damaged("lengths do not add up to the ids' bytes");
            var ids = new byte[idLength + idLength / 4 + 256];
            bytes.AsSpan(at, idLength).CopyTo(ids);
            at += idLength;
            var amounts = new long[room];
            for (var i = 0; i < count; i++) amounts[i] = UnZigZag(ReadVar(bytes, ref at));
            var times = new long[room];
            var time = 0L;
            for (var i = 0; i < count; i++) times[i] = time += UnZigZag(ReadVar(bytes, ref at));
            if (at != bytes.Length) throw Damaged("bytes left over");
            return snapshot with
            {
                Finished = RememberedIds.Restore(SkuState.DefaultHorizon, snapshot.Clock ?? DateTimeOffset.MinValue, count, ids, ends,
                    kinds, finishes, amounts, times),
            };
        }
        catch (Exception e) when (e is ArgumentException or IndexOutOfRangeException or OverflowException or System.Text.Json.JsonException)
        {
            throw new SerializationException($"a SKU snapshot cut short or damaged: {e.Message}", e);
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
