using System.Buffers.Binary;
using System.Runtime.Serialization;
using System.Text.Json;
using Akka.Serialization;
using Restock.Actors.Domain.Inventory;
using Restock.Actors.Engine.Hosting;
using Restock.Actors.Engine.Inventory;
using Restock.Actors.Tests.Support;
using Xunit.Abstractions;

namespace Restock.Actors.Tests.Inventory;

/// <summary>
/// A SKU snapshot's head carries a CRC-32 from session 20 on, as its JSON's first property: a changed byte anywhere in the
/// head (its counters, its inline ids) is refused where it read back wrong; heads written before it still read; and a build
/// from before it still reads the heads written now, as it ignores the property.
/// </summary>
public sealed class SkuSnapshotHeadChecksumTests(ITestOutputHelper output) : EngineTestKit(output)
{
    private static readonly DateTimeOffset Start = new(2026, 11, 1, 12, 0, 0, TimeSpan.Zero);

    // What the head's JSON opens with: `{"crc32":"`, 8 hex digits, `",`.
    private static readonly byte[] Opening = "{\"crc32\":\""u8.ToArray();
    private const int Checksum = 10 + 8 + 2 - 1;

    private SerializerWithStringManifest Serializer => (SerializerWithStringManifest)Sys.Serialization.FindSerializerForType(typeof(SkuSnapshot));

    private static SkuState State()
    {
        var state = SkuStock.Apply(SkuState.Empty(), new StockAdjusted("a1", 1000, "count", Start));
        for (var i = 0; i < 6; i++) state = SkuStock.Apply(state, new StockReserved($"order-{i}", 1 + i, Start.AddMinutes(15 + i), Start.AddSeconds(i)));
        state = SkuStock.Apply(state, new PaymentConfirmed("order-1", 2, Start.AddMinutes(1)));
        state = SkuStock.Apply(state, new ReservationReleased("order-2", 3, ReleaseReason.Cancelled, Start.AddMinutes(2)));
        return SkuStock.Apply(state, new ReservationReleased("order-3", 4, ReleaseReason.Cancelled, Start.AddMinutes(3)));
    }

    /// <summary>A head of each layout: its remembered ids inline (layout 2) and in chunks (layout 3).</summary>
    public static TheoryData<bool> Layouts => new() { false, true };

    private static SkuSnapshot Head(bool inChunks) => inChunks ? SkuSnapshot.InChunks(State(), null, lineage: 9) : SkuSnapshot.From(State());

    private SkuSnapshot Read(byte[] bytes) => (SkuSnapshot)Sys.Serialization.Deserialize(bytes, Serializer.Identifier, "sku.snapshot.v2");

    /// <summary>A head as a build from before the checksum wrote it: the same bytes without the property.</summary>
    public static byte[] WithoutChecksum(byte[] head)
    {
        Assert.True(head.AsSpan(5).StartsWith(Opening), "a head without a checksum");
        var older = new byte[head.Length - Checksum];
        older[0] = head[0];
        BinaryPrimitives.WriteInt32LittleEndian(older.AsSpan(1), BinaryPrimitives.ReadInt32LittleEndian(head.AsSpan(1)) - Checksum);
        older[5] = (byte)'{';
        head.AsSpan(5 + 1 + Checksum).CopyTo(older.AsSpan(6));
        return older;
    }

    /// <summary>What is kept of a head: its counters, open lines, refunds, chunks or inline ids, as one string.</summary>
    private static string Describe(SkuSnapshot s) => s.Chunks is null ? Stored(s) : Stored(s with { Finished = null });

    private static string Stored(SkuSnapshot s) =>
        $"{s.IsKnown} {s.Levels} {s.Stocked} {s.Owner} {s.Clock:O} {s.Chunks?.Lineage} {s.Chunks?.First} {s.Chunks?.End} " +
        $"{string.Join(",", s.Chunks?.Parts ?? [])} | {string.Join(",", s.OpenLines)} | " +
        $"{string.Join(",", s.Refunds.Select(r => $"{r.RefundId}:{r.Refund}"))} | " +
        $"{string.Join(",", s.Finished?.Lines.Select(l => $"{l.Key}:{l.Value}") ?? [])}";

    [Theory]
    [MemberData(nameof(Layouts))]
    public void A_head_is_stored_with_its_checksum_and_read_back(bool inChunks)
    {
        var head = Head(inChunks);
        var bytes = Serializer.ToBinary(head);
        Assert.Equal(inChunks ? 3 : 2, bytes[0]);
        Assert.True(bytes.AsSpan(5).StartsWith(Opening));
        Assert.Equal(Describe(head), Describe(Read(bytes)));
    }

    [Theory]
    [MemberData(nameof(Layouts))]
    public void A_head_written_before_the_checksum_still_reads(bool inChunks)
    {
        var head = Head(inChunks);
        Assert.Equal(Describe(head), Describe(Read(WithoutChecksum(Serializer.ToBinary(head)))));
    }

    [Theory]
    [MemberData(nameof(Layouts))]
    public void Any_flipped_bit_is_refused_unless_it_leaves_every_value_as_it_was(bool inChunks)
    {
        var head = Head(inChunks);
        var bytes = Serializer.ToBinary(head);
        var readable = new List<int>();
        for (var at = 0; at < bytes.Length; at++)
        for (var bit = 0; bit < 8; bit++)
        {
            var flipped = (byte[])bytes.Clone();
            flipped[at] ^= (byte)(1 << bit);
            SkuSnapshot read;
            try
            {
                read = Read(flipped);
            }
            catch (SerializationException)
            {
                continue;
            }
            // Only a hex digit's case can change and be read: a letter of the property's name is refused too (else the head
            // would read as one without a checksum, and damage elsewhere go unchecked).
            Assert.Equal(Describe(head), Describe(read));
            readable.Add(at);
        }
        Assert.All(readable, at => Assert.InRange(at, 5 + Opening.Length, 5 + Opening.Length + 8 - 1));
    }

    [Fact]
    public void A_counter_changed_in_the_json_is_refused()
    {
        var head = Head(inChunks: true);
        var bytes = Serializer.ToBinary(head);
        var available = System.Text.Encoding.UTF8.GetBytes($"\"available\":{head.Levels.Available}");
        var at = bytes.AsSpan().IndexOf(available) + available.Length - 1;
        bytes[at] ^= 1;

        Assert.Contains("checksum", Assert.Throws<SerializationException>(() => Read(bytes)).Message);
        // Without the checksum, the same change reads back as another number of units.
        Assert.Equal(head.Levels.Available ^ 1, Read(WithoutChecksum(bytes)).Levels.Available);
    }

    [Theory]
    [MemberData(nameof(Layouts))]
    public void A_build_from_before_the_checksum_reads_a_head_with_one(bool inChunks)
    {
        var head = Head(inChunks);
        var bytes = Serializer.ToBinary(head);

        // The checks of the build before (dc2a94e, SkuSnapshotFormat.Read), up to where the head's JSON ends.
        Assert.Contains(bytes[0], new byte[] { 2, 3 });
        var headLength = BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(1));
        Assert.InRange(headLength, 0, bytes.Length - 5);
        var read = JsonSerializer.Deserialize<SkuSnapshot>(bytes.AsSpan(5, headLength), RestockSerializer.Options)!;
        Assert.Equal(Describe(head with { Finished = null }), Describe(read));
        if (bytes[0] == 3) Assert.True(5 + headLength == bytes.Length && read.Chunks is not null);
        // After it, the inline ids it reads as it always has: the very bytes a head without the checksum has after its JSON.
        var older = WithoutChecksum(bytes);
        Assert.Equal(older.AsSpan(5 + headLength - Checksum).ToArray(), bytes.AsSpan(5 + headLength).ToArray());
    }
}
