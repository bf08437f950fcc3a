using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.Serialization;
using System.Text;
using Restock.Actors.Domain.Inventory;

namespace Restock.Actors.Engine.Inventory;

/// <summary>
/// The stored layout of a <see cref="SkuEventBatch"/> (one journal row per group-committed write). The events of the hot
/// path (reserve, release, pay, ship: nearly every row of a sale) are a few bytes each; any other event is its JSON under
/// its manifest, as a single-event row stores it. Recovery reads hundreds of thousands of them after a crash: this
/// layout reads several times faster than JSON objects with type discriminators. Varints are LEB128, signed ones
/// zigzag-encoded; a time is its UTC ticks as the difference to the previous time of the row, then its offset in minutes:
/// <code>
/// byte 2 (the layout) · varint count · per event: byte code, then
///   1 reserved: id · quantity · deadline · [at]      2 released: id · quantity · byte reason · [at]
///   3 paid: id · quantity · [at]                       4 shipped: id · quantity · [at]
///   0 other: manifest (varint length + UTF-8) · JSON (varint length + bytes)
/// id = varint length + UTF-8; [at] = byte 0 (none) or 1 and a time
/// </code>
/// </summary>
internal static class SkuEventBatchFormat
{
    private const byte Layout = 2;
    private const byte Other = 0, Reserved = 1, Released = 2, Paid = 3, Shipped = 4;
    // Rows are written one after another on the journal's thread: each is built in this thread's buffer and copied out
    // once at its exact size, instead of a buffer per row grown by doubling. A buffer grown past this is not kept.
    private const int LargestKeptBuffer = 1 << 20;
    [ThreadStatic] private static ArrayBufferWriter<byte>? _buffer;

    /// <param name="json">An event that has no code of its own as its manifest and JSON.</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static byte[] Write(SkuEventBatch batch, Func<SkuEvent, (string Manifest, byte[] Json)> json)
    {
        var buffer = _buffer ?? new ArrayBufferWriter<byte>(16 + 32 * batch.Events.Count);
        // Taken while in use: an event's JSON written through a serializer that writes a batch would get a buffer of its own.
        _buffer = null;
        buffer.ResetWrittenCount();
        var w = new Writer(buffer);
        w.Byte(Layout);
        w.Var((ulong)batch.Events.Count);
        foreach (var e in batch.Events)
        {
            switch (e)
            {
                case StockReserved r:
                    w.Byte(Reserved);
                    w.Text(r.OrderId);
                    w.Signed(r.Quantity);
                    w.Time(r.PaymentDeadline);
                    w.OptionalTime(r.At);
                    break;
                case ReservationReleased r:
                    w.Byte(Released);
                    w.Text(r.OrderId);
                    w.Signed(r.Quantity);
                    w.Byte((byte)r.Reason);
                    w.OptionalTime(r.At);
                    break;
                case PaymentConfirmed p:
                    w.Byte(Paid);
                    w.Text(p.OrderId);
                    w.Signed(p.Quantity);
                    w.OptionalTime(p.At);
                    break;
                case LineShipped s:
                    w.Byte(Shipped);
                    w.Text(s.OrderId);
                    w.Signed(s.Quantity);
                    w.OptionalTime(s.At);
                    break;
                default:
                    var (manifest, bytes) = json(e);
                    w.Byte(Other);
                    w.Text(manifest);
                    w.Var((ulong)bytes.Length);
                    w.Bytes(bytes);
                    break;
            }
        }
        var row = w.ToArray();
        if (buffer.Capacity <= LargestKeptBuffer) _buffer = buffer;
        return row;
    }

    /// <param name="json">An event stored as JSON under its manifest.</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static SkuEventBatch Read(byte[] bytes, Func<string, ReadOnlyMemory<byte>, SkuEvent> json)
    {
        try
        {
            var r = new Reader(bytes);
            if (r.Byte() != Layout) throw Damaged($"not layout {Layout}");
            var count = checked((int)r.Var());
            if (count > bytes.Length) throw Damaged("more events than bytes");
            var events = new SkuEvent[count];
            for (var i = 0; i < count; i++)
            {
                events[i] = r.Byte() switch
                {
                    Reserved => new StockReserved(r.Text(), r.Signed(), r.Time(), r.OptionalTime()),
                    Released => new ReservationReleased(r.Text(), r.Signed(), (ReleaseReason)r.Byte(), r.OptionalTime()),
                    Paid => new PaymentConfirmed(r.Text(), r.Signed(), r.OptionalTime()),
                    Shipped => new LineShipped(r.Text(), r.Signed(), r.OptionalTime()),
                    Other => json(r.Text(), r.Slice(checked((int)r.Var()))),
                    var code => throw Damaged($"unknown event code {code}"),
                };
            }
            if (!r.AtEnd) throw Damaged("bytes left over");
            return new SkuEventBatch(events);
        }
        catch (Exception e) when (e is ArgumentException or IndexOutOfRangeException or OverflowException or System.Text.Json.JsonException)
        {
            throw new SerializationException($"a SKU event batch cut short or damaged: {e.Message}", e);
        }
    }

    private static SerializationException Damaged(string why) => new($"a damaged SKU event batch: {why}");

    private struct Writer(ArrayBufferWriter<byte> buffer)
    {
        private long _previousTicks;

        public readonly byte[] ToArray() => buffer.WrittenSpan.ToArray();

        public readonly void Byte(byte value)
        {
            buffer.GetSpan(1)[0] = value;
            buffer.Advance(1);
        }

        public readonly void Var(ulong value)
        {
            var span = buffer.GetSpan(10);
            var n = 0;
            while (value >= 0x80)
            {
                span[n++] = (byte)(value | 0x80);
                value >>= 7;
            }
            span[n++] = (byte)value;
            buffer.Advance(n);
        }

        public readonly void Signed(long value) => Var((ulong)((value << 1) ^ (value >> 63)));

        public readonly void Bytes(ReadOnlySpan<byte> bytes) => buffer.Write(bytes);

        public readonly void Text(string text)
        {
            var length = Encoding.UTF8.GetByteCount(text);
            Var((ulong)length);
            Encoding.UTF8.GetBytes(text, buffer.GetSpan(length));
            buffer.Advance(length);
        }

        public void Time(DateTimeOffset time)
        {
            Signed(time.UtcTicks - _previousTicks);
            _previousTicks = time.UtcTicks;
            Signed((long)time.Offset.TotalMinutes);
        }

        public void OptionalTime(DateTimeOffset? time)
        {
            Byte(time is null ? (byte)0 : (byte)1);
            if (time is { } t) Time(t);
        }
    }

    private sealed class Reader(byte[] bytes)
    {
        private int _at;
        private long _previousTicks;

        public bool AtEnd => _at == bytes.Length;

        public byte Byte() => bytes[_at++];

        // Several times per replayed event, not inlined (its loop): optimised at once (see SkuSnapshotFormat.ReadVar).
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public ulong Var()
        {
            ulong value = 0;
            for (var shift = 0; shift < 70; shift += 7)
            {
                var b = bytes[_at++];
                value |= (ulong)(b & 0x7F) << shift;
                if (b < 0x80) return value;
            }
            throw Damaged("a number longer than 64 bits");
        }

        public long Signed()
        {
            var value = Var();
            return (long)(value >> 1) ^ -(long)(value & 1);
        }

        public ReadOnlyMemory<byte> Slice(int length)
        {
            var slice = bytes.AsMemory(_at, length);
            _at += length;
            return slice;
        }

        public string Text() => Encoding.UTF8.GetString(Slice(checked((int)Var())).Span);

        public DateTimeOffset Time()
        {
            var ticks = _previousTicks + Signed();
            _previousTicks = ticks;
            var offset = TimeSpan.FromMinutes(Signed());
            return new DateTimeOffset(ticks + offset.Ticks, offset);
        }

        public DateTimeOffset? OptionalTime() => Byte() switch
        {
            0 => null,
            1 => Time(),
            var flag => throw Damaged($"unknown time flag {flag}"),
        };
    }
}
