using System.Buffers.Binary;
using System.IO.Hashing;

namespace Restock.Actors.Engine.Inventory;

/// <summary>
/// The CRC-32 closing a stored part of a SKU's snapshot (a chunk of remembered ids, a part of open lines): a byte changed
/// inside an id, a quantity or a time is then refused like damage to the layout, where it would read back wrong. Checked
/// once over the whole part (vectorised) as it is read.
/// </summary>
internal static class StoredChecksum
{
    public const int Size = 4;

    /// <summary>Writes the checksum of every byte before the last <see cref="Size"/> into them.</summary>
    public static void Seal(byte[] bytes)
    {
        var end = bytes.Length - Size;
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(end), Crc32.HashToUInt32(bytes.AsSpan(0, end)));
    }

    /// <summary>Whether the last <see cref="Size"/> bytes are the checksum of the rest.</summary>
    public static bool Holds(byte[] bytes)
    {
        var end = bytes.Length - Size;
        return end >= 0 && Crc32.HashToUInt32(bytes.AsSpan(0, end)) == BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(end));
    }
}
