using System.Buffers;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Restock.Actors.Domain.Inventory;

namespace Restock.Actors.Engine.Inventory;

/// <summary>
/// A snapshot's open lines as binary chunks inside its JSON: an array of base64 strings, each
/// <see cref="LinesPerChunk"/> lines at most. As JSON objects a line took ~150 bytes, and a hot SKU's 300,000–600,000
/// lines made a snapshot of tens of MB whose writing held SQLite's one writer while the journal waited. Each chunk:
/// <code>
/// varint count, then per line: varint id length · the id (UTF-8) · signed varint ordered · signed varint held ·
/// varint status · signed varint payment deadline (UTC ticks, as the difference to the previous line's) ·
/// signed varint offset minutes · signed varint restocked ahead
/// </code>
/// Varints are LEB128, signed ones zigzag-encoded. Snapshots written before it (an array of objects) are read as before.
/// A state's copy (<see cref="OpenLinesCopy"/>, its chunks shared with the state) is written from its id bytes, without a string per line.
/// </summary>
public sealed class OpenLinesJson : JsonConverter<IReadOnlyCollection<OrderLine>>
{
    public const int LinesPerChunk = 16_384;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public override void Write(Utf8JsonWriter writer, IReadOnlyCollection<OrderLine> lines, JsonSerializerOptions options)
    {
        writer.WriteStartArray();
        var buffer = new ArrayBufferWriter<byte>(Math.Min(lines.Count, LinesPerChunk) * 40 + 16);
        if (lines is OpenLinesCopy copy)
        {
            var cursor = copy.Lines();
            for (var first = 0; first < copy.Count; first += LinesPerChunk)
            {
                WriteChunk(buffer, ref cursor, StartChunk(buffer, first, copy.Count));
                writer.WriteBase64StringValue(buffer.WrittenSpan);
            }
        }
        else
        {
            var all = lines as OrderLine[] ?? [.. lines];
            for (var first = 0; first < all.Length; first += LinesPerChunk)
            {
                var count = StartChunk(buffer, first, all.Length);
                var previous = 0L;
                for (var i = first; i < first + count; i++)
                {
                    var line = all[i];
                    var id = buffer.GetSpan(5 + Encoding.UTF8.GetMaxByteCount(line.OrderId.Length));
                    var idLength = Encoding.UTF8.GetBytes(line.OrderId, id[5..]);
                    // The id's length goes first: written into the five bytes left before it, then the id moved up to it.
                    var lengthSize = VarInto(id, (ulong)idLength);
                    id.Slice(5, idLength).CopyTo(id[lengthSize..]);
                    buffer.Advance(lengthSize + idLength);
                    previous = Values(buffer, line, previous);
                }
                writer.WriteBase64StringValue(buffer.WrittenSpan);
            }
        }
        writer.WriteEndArray();
    }

    /// <summary>
    /// All of <paramref name="copy"/>'s lines (at most <see cref="LinesPerChunk"/>) as one chunk's bytes, after
    /// <paramref name="prefix"/> bytes and with room for <paramref name="suffix"/> after it.
    /// </summary>
    internal static byte[] Chunk(OpenLinesCopy copy, int prefix, int suffix)
    {
        if (copy.Count > LinesPerChunk) throw new ArgumentException($"more than {LinesPerChunk} lines for one chunk", nameof(copy));
        var buffer = new ArrayBufferWriter<byte>(copy.Count * 40 + 16);
        buffer.Advance(prefix);
        var cursor = copy.Lines();
        WriteChunk(buffer, ref cursor, StartChunk(buffer, 0, copy.Count, reset: false));
        buffer.GetSpan(suffix);
        buffer.Advance(suffix);
        return buffer.WrittenSpan.ToArray();
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void WriteChunk(ArrayBufferWriter<byte> buffer, ref OpenLinesCopy.Cursor cursor, int count)
    {
        var previous = 0L;
        for (var i = 0; i < count && cursor.Next(); i++)
        {
            var id = cursor.IdBytes;
            Var(buffer, (ulong)id.Length);
            buffer.Write(id);
            previous = Values(buffer, cursor.Line(""), previous);
        }
    }

    private static int StartChunk(ArrayBufferWriter<byte> buffer, int first, int total, bool reset = true)
    {
        if (reset) buffer.ResetWrittenCount();
        var count = Math.Min(LinesPerChunk, total - first);
        Var(buffer, (ulong)count);
        return count;
    }

    /// <summary>A line's numbers after its id; returns its deadline's ticks, from which the next line's count.</summary>
    private static long Values(ArrayBufferWriter<byte> buffer, OrderLine line, long previous)
    {
        Var(buffer, ZigZag(line.Ordered));
        Var(buffer, ZigZag(line.Held));
        Var(buffer, ZigZag((long)line.Status));
        var ticks = line.PaymentDeadline.UtcTicks;
        Var(buffer, ZigZag(ticks - previous));
        Var(buffer, ZigZag((long)line.PaymentDeadline.Offset.TotalMinutes));
        Var(buffer, ZigZag(line.RestockedAhead));
        return ticks;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public override IReadOnlyCollection<OrderLine> Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType != JsonTokenType.StartArray) throw new JsonException("open lines: not an array");
        var parts = new List<OpenLinesCopy>();
        var objects = new List<OrderLine>();
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            if (reader.TokenType == JsonTokenType.StartObject)
            {
                objects.Add(JsonSerializer.Deserialize<OrderLine>(ref reader, options));
                continue;
            }
            if (reader.TokenType != JsonTokenType.String) throw new JsonException("open lines: neither a line nor a chunk of lines");
            Objects(parts, objects);
            var chunk = reader.GetBytesFromBase64();
            parts.Add(ReadChunk(chunk, 0, chunk.Length));
        }
        Objects(parts, objects);
        return OpenLinesCopy.Join(parts);
    }

    /// <summary>Lines stored as objects (before chunks) so far, as a part of their own.</summary>
    private static void Objects(List<OpenLinesCopy> parts, List<OrderLine> objects)
    {
        if (objects.Count == 0) return;
        parts.Add(OpenLinesCopy.Of([.. objects]));
        objects.Clear();
    }

    /// <summary>
    /// The lines of the chunk that fills <paramref name="chunk"/> from <paramref name="at"/> to <paramref name="end"/>, as a
    /// copy holding their values and id bytes: no string per line (a state is restored from them as they are).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static OpenLinesCopy ReadChunk(byte[] chunk, int at, int end)
    {
        var count = checked((int)ReadVar(chunk, ref at));
        if (count > chunk.Length) throw new JsonException("open lines: more lines than the chunk holds");
        var lines = new OpenLinesCopy.Builder(count, end - at);
        var previous = 0L;
        for (var i = 0; i < count; i++)
        {
            var idLength = checked((int)ReadVar(chunk, ref at));
            var id = chunk.AsSpan(at, idLength);
            at += idLength;
            var ordered = UnZigZag(ReadVar(chunk, ref at));
            var held = UnZigZag(ReadVar(chunk, ref at));
            var status = (LineStatus)checked((int)UnZigZag(ReadVar(chunk, ref at)));
            var ticks = previous += UnZigZag(ReadVar(chunk, ref at));
            var offset = TimeSpan.FromMinutes(UnZigZag(ReadVar(chunk, ref at)));
            var restockedAhead = UnZigZag(ReadVar(chunk, ref at));
            lines.Add(id, ordered, held, status, new DateTimeOffset(ticks + offset.Ticks, offset), restockedAhead);
        }
        if (at != end) throw new JsonException("open lines: bytes left over in a chunk");
        return lines.Build();
    }

    private static ulong ZigZag(long value) => (ulong)((value << 1) ^ (value >> 63));

    private static long UnZigZag(ulong value) => (long)(value >> 1) ^ -(long)(value & 1);

    private static void Var(ArrayBufferWriter<byte> buffer, ulong value) => buffer.Advance(VarInto(buffer.GetSpan(10), value));

    private static int VarInto(Span<byte> bytes, ulong value)
    {
        var at = 0;
        while (value >= 0x80)
        {
            bytes[at++] = (byte)(value | 0x80);
            value >>= 7;
        }
        bytes[at++] = (byte)value;
        return at;
    }

    private static ulong ReadVar(byte[] bytes, ref int at)
    {
        ulong value = 0;
        for (var shift = 0; shift < 70; shift += 7)
        {
            if (at >= bytes.Length) throw new JsonException("open lines: a chunk cut short");
            var b = bytes[at++];
            value |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80) return value;
        }
        throw new JsonException("open lines: a number longer than 64 bits");
    }
}
