using System.Buffers.Binary;
using System.Runtime.Serialization;
using System.Text.Json;
using Restock.Actors.Domain;
using Restock.Actors.Domain.Inventory;

namespace Restock.Actors.Engine.Inventory;

/// <summary>
/// One part of a snapshot head's open lines (manifest <c>sku.open-lines-part</c>), stored in a write of its own before the
/// head (<see cref="SkuSnapshot.LineParts"/>): the lines of one chunk of the table's slots, and the stamp of the head it
/// belongs to. Layout: byte 2 · int64 stamp · one chunk as <see cref="OpenLinesJson"/> writes it (varint count, then the lines)
/// · uint32 CRC-32 of every byte before it (<see cref="StoredChecksum"/>). Parts of byte 1 (written before session 19) have
/// no checksum and are read as before.
/// </summary>
public sealed class OpenLinesPart(long stamp, OpenLinesCopy lines) : IRestockMessage
{
    private const byte Layout = 2, WithoutChecksum = 1;

    /// <summary>The <see cref="LineParts.Stamp"/> of its head: a part another head wrote in the same place does not fit.</summary>
    public long Stamp { get; } = stamp;

    /// <summary>The lines: a copy sharing the table's chunk when written, its own values and id bytes when read.</summary>
    public OpenLinesCopy Lines { get; } = lines;

    internal byte[] Write()
    {
        var bytes = OpenLinesJson.Chunk(Lines, prefix: 9, suffix: StoredChecksum.Size);
        bytes[0] = Layout;
        BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(1), Stamp);
        StoredChecksum.Seal(bytes);
        return bytes;
    }

    internal static OpenLinesPart Read(byte[] bytes)
    {
        try
        {
            if (bytes.Length < 10 || bytes[0] is not (Layout or WithoutChecksum))
                throw new SerializationException($"a damaged part of open lines: not layout {Layout} or {WithoutChecksum}");
            var end = bytes.Length;
            if (bytes[0] == Layout && ((end -= StoredChecksum.Size) < 10 || !StoredChecksum.Holds(bytes)))
                throw new SerializationException("a damaged part of open lines: its checksum does not match its bytes");
            return new OpenLinesPart(BinaryPrimitives.ReadInt64LittleEndian(bytes.AsSpan(1)), OpenLinesJson.ReadChunk(bytes, 9, end));
        }
        catch (Exception e) when (e is ArgumentException or IndexOutOfRangeException or OverflowException or JsonException)
        {
            throw new SerializationException($"a part of open lines cut short or damaged: {e.Message}", e);
        }
    }
}
