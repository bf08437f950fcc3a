using System.Runtime.Serialization;
using Restock.Actors.Domain.Inventory;
using Restock.Actors.Domain.Refunds;
using Restock.Actors.Engine.Inventory;
using Restock.Actors.Tests.Support;
using Xunit.Abstractions;

namespace Restock.Actors.Tests.Inventory;

/// <summary>A journal row of many events, in the binary layout: every event comes back as it was decided.</summary>
public sealed class SkuEventBatchFormatTests(ITestOutputHelper output) : EngineTestKit(output)
{
    private static readonly DateTimeOffset At = new(2026, 11, 26, 10, 0, 0, TimeSpan.Zero);

    private byte[] Store(SkuEventBatch batch) => Sys.Serialization.FindSerializerFor(batch).ToBinary(batch);

    private SkuEventBatch Read(byte[] bytes) =>
        (SkuEventBatch)Sys.Serialization.Deserialize(bytes, Sys.Serialization.FindSerializerForType(typeof(SkuEventBatch)).Identifier, "sku.event-batch.v2");

    [Fact]
    public void Every_kind_of_event_reads_back_equal_with_its_times_and_their_offsets()
    {
        SkuEvent[] events =
        [
            new SkuOwnerRecorded("shop-a"),
            new StockAdjusted("a1", 100, "delivery", At, 100),
            new StockAdjusted("a-old", -3, "count"),
            new StockReserved("o1", 3, new DateTimeOffset(2026, 11, 26, 19, 0, 0, TimeSpan.FromHours(8)), At),
            new StockReserved("o2", 1, At.AddDays(-400), null),
            new ReservationReleased("o2", 1, ReleaseReason.PaymentDeadlinePassed, At.AddTicks(-1)),
            new PaymentConfirmed("o1", 3, At.AddMinutes(1)),
            new PaymentConfirmed("o0", 2),
            new LineShipped("o0", 2, new DateTimeOffset(2026, 11, 27, 1, 2, 3, TimeSpan.FromMinutes(-330)).AddTicks(7)),
            new LineRefunded("r1", "o1", "shop-a", 1, RefundRestock.Restocked, 4, 98, At, At.AddSeconds(1)),
            new RefundRestocked("r2", "o1", "shop-a", 1, RestockTrigger.Erp, "erp:x", 4, 99, At, null),
            new ErpRestockReleased("r2", "o1", 1, RejectionCode.UnknownOrderLine, At),
            new StockReserved("ünïcode-ok", 1_000_000_000, DateTimeOffset.MaxValue, DateTimeOffset.MinValue),
        ];

        var back = Read(Store(new SkuEventBatch(events))).Events;

        Assert.Equal(events, back);
        // Record equality compares instants: the offsets a caller gave must survive too.
        Assert.Equal(TimeSpan.FromHours(8), ((StockReserved)back[3]).PaymentDeadline.Offset);
        Assert.Equal(TimeSpan.FromMinutes(-330), ((LineShipped)back[8]).At!.Value.Offset);
    }

    [Fact]
    public void A_batch_of_reservations_takes_a_fraction_of_its_json()
    {
        var events = Enumerable.Range(0, 1_000).SelectMany(i => new SkuEvent[]
        {
            new StockReserved($"order-{i:D8}", 1, At.AddMinutes(15).AddTicks(i * 10_000), At.AddTicks(i * 10_000)),
            new ReservationReleased($"order-{i:D8}", 1, ReleaseReason.Cancelled, At.AddTicks(i * 10_000 + 5_000)),
        }).ToArray();
        var bytes = Store(new SkuEventBatch(events));

        Output?.WriteLine($"{bytes.Length / (double)events.Length:N1} bytes per event");
        Assert.Equal(events, Read(bytes).Events);
        Assert.True(bytes.Length < 40 * events.Length, $"{bytes.Length} bytes");
    }

    [Fact]
    public void Rows_written_one_after_another_each_keep_their_own_events()
    {
        // Rows are built in one reused buffer per thread: each row must still be an array of its own, exactly its size.
        SkuEvent[] large = [.. Enumerable.Range(0, 500).Select(i => new StockReserved($"large-{i:D6}", 2, At.AddMinutes(15), At))];
        SkuEvent[] small = [new StockReserved("small-1", 1, At.AddMinutes(15), At), new StockAdjusted("a1", 5, "delivery", At, 5)];

        var first = Store(new SkuEventBatch(large));
        var firstCopy = first.ToArray();
        var second = Store(new SkuEventBatch(small));
        var third = Store(new SkuEventBatch(small));

        Assert.Equal(firstCopy, first);
        Assert.Equal(large, Read(first).Events);
        Assert.Equal(small, Read(second).Events);
        Assert.Equal(second, third);
        Assert.NotSame(second, third);
        Assert.True(second.Length < first.Length / 10, $"{second.Length} bytes");
    }

    [Fact]
    public void A_batch_cut_short_or_damaged_is_refused_with_a_clear_error()
    {
        var bytes = Store(new SkuEventBatch([new StockReserved("o1", 3, At.AddHours(1), At), new SkuOwnerRecorded("shop-a")]));

        foreach (var damaged in new[] { bytes[..^1], bytes[..(bytes.Length / 2)], [.. bytes, 0], [9, .. bytes[1..]] })
        {
            var error = Assert.Throws<SerializationException>(() => Read(damaged));
            Assert.Contains("SKU event batch", error.Message);
        }
    }
}
