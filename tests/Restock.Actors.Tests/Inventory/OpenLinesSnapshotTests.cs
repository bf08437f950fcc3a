using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Restock.Actors.Domain.Inventory;
using Restock.Actors.Engine.Inventory;
using Restock.Actors.Tests.Support;
using Xunit.Abstractions;

namespace Restock.Actors.Tests.Inventory;

/// <summary>A snapshot's open lines, stored as binary chunks inside its JSON: every field kept, older snapshots still read.</summary>
public sealed class OpenLinesSnapshotTests(ITestOutputHelper output) : EngineTestKit(output)
{
    private static readonly DateTimeOffset Start = SkuStockPropertyTests.Start;

    private byte[] Store(SkuSnapshot snapshot) => Sys.Serialization.FindSerializerFor(snapshot).ToBinary(snapshot);

    private SkuSnapshot Read(byte[] bytes, string manifest = "sku.snapshot.v2") =>
        (SkuSnapshot)Sys.Serialization.Deserialize(bytes, Sys.Serialization.FindSerializerForType(typeof(SkuSnapshot)).Identifier, manifest);

    private static SkuState WithOpenLines(int count)
    {
        var state = SkuStock.Apply(SkuState.Empty(), new StockAdjusted("a1", 10_000_000, "count", Start));
        for (var i = 0; i < count; i++)
            state = SkuStock.Apply(state, new StockReserved($"hot-sku-bench-order-{i:D8}", 1 + i % 3, Start.AddMinutes(15).AddMilliseconds(i), Start));
        return state;
    }

    [Fact]
    public void Every_field_of_every_open_line_survives_a_snapshot_across_several_chunks()
    {
        var lines = Enumerable.Range(0, OpenLinesJson.LinesPerChunk * 2 + 7).Select(i => new OrderLine(
            i % 5 == 0 ? $"ordre-é-{i}-注文" : $"o-{i}", 1 + i % 4, i % 4, i % 2 == 0 ? LineStatus.Reserved : LineStatus.Committed,
            new DateTimeOffset(2026, 11, 27, 8, 0, 0, TimeSpan.FromHours(i % 3 - 1)).AddTicks(i % 7 == 0 ? -i * 1000L : i * 997L),
            i % 11 == 0 ? 1 : 0)).ToArray();
        var snapshot = new SkuSnapshot(true, new StockLevels(5, 3, 2, 0, 0, 0), 10, lines, [], "shop-1");

        var read = Read(Store(snapshot));

        Assert.Equal(lines, read.OpenLines);
        Assert.Equal(lines.Select(l => l.PaymentDeadline.Offset), read.OpenLines.Select(l => l.PaymentDeadline.Offset));
        Assert.Equal([], Read(Store(snapshot with { OpenLines = [] })).OpenLines);
    }

    [Fact]
    public void A_state_s_open_lines_copied_without_strings_are_stored_byte_for_byte_as_the_lines_themselves()
    {
        var state = WithOpenLines(OpenLinesJson.LinesPerChunk + 300);
        foreach (var i in Enumerable.Range(0, 2_000).Where(i => i % 3 == 0))
            state = SkuStock.Apply(state, new PaymentConfirmed($"hot-sku-bench-order-{i:D8}", 1 + i % 3, Start));
        var snapshot = SkuSnapshot.From(state);
        Assert.IsType<OpenLinesCopy>(snapshot.OpenLines);

        Assert.Equal(Store(snapshot with { OpenLines = snapshot.OpenLines.ToArray() }), Store(snapshot));
        var recovered = Read(Store(snapshot)).ToState(SkuState.DefaultHorizon);
        Assert.Equal(state.OpenLines.Values.OrderBy(l => l.OrderId, StringComparer.Ordinal), recovered.OpenLines.Values.OrderBy(l => l.OrderId, StringComparer.Ordinal));
        Assert.Equal(state.PaymentDeadlines.Due(DateTimeOffset.MaxValue, int.MaxValue), recovered.PaymentDeadlines.Due(DateTimeOffset.MaxValue, int.MaxValue));
    }

    [Fact]
    public void A_snapshot_whose_open_lines_are_json_objects_still_recovers_them()
    {
        const string stored = """
            {"isKnown":true,"levels":{"available":7,"reserved":3,"committed":0,"shipped":0,"refunded":0,"restocked":0},"stocked":10,
             "openLines":[{"orderId":"o1","ordered":3,"held":3,"status":1,"paymentDeadline":"2026-11-27T08:15:00+01:00","restockedAhead":0}],
             "refunds":[]}
            """;
        var state = Read(Encoding.UTF8.GetBytes(stored), "sku.snapshot").ToState(SkuState.DefaultHorizon);

        var line = Assert.Single(state.OpenLines.Values);
        Assert.Equal(new OrderLine("o1", 3, 3, LineStatus.Reserved, new DateTimeOffset(2026, 11, 27, 8, 15, 0, TimeSpan.FromHours(1))), line);
    }

    [Fact]
    public void Damaged_open_lines_are_refused_with_a_clear_error()
    {
        // A chunk that counts ten lines and holds none, one that is not base64, one whose first id runs past its end.
        foreach (var chunk in new[] { "CgA=", "not base64!", "AWQ=" })
        {
            var stored = "{\"isKnown\":true,\"levels\":{\"available\":7},\"stocked\":10,\"openLines\":[\"" + chunk + "\"],\"refunds\":[]}";
            // One exception for any damage: the snapshot store passes a damaged SKU snapshot over on it.
            var e = Assert.Throws<System.Runtime.Serialization.SerializationException>(() => Read(Encoding.UTF8.GetBytes(stored), "sku.snapshot"));
            Output?.WriteLine(e.Message);
        }
    }

    /// <summary>Prints what 300,000 open lines (a hot SKU 20 s into a sale at 15,000/s) cost to snapshot.</summary>
    [Fact]
    public void A_snapshot_of_a_hot_skus_open_lines_takes_under_half_the_bytes_of_json_objects()
    {
        const int open = 300_000;
        var snapshot = SkuSnapshot.From(WithOpenLines(open));
        var asObjects = JsonSerializer.SerializeToUtf8Bytes(snapshot.OpenLines, new JsonSerializerOptions(JsonSerializerDefaults.Web)).Length;

        Store(snapshot);
        var allocated = GC.GetAllocatedBytesForCurrentThread();
        var cpu = Process.GetCurrentProcess().TotalProcessorTime;
        var bytes = Store(snapshot);
        var stored = (CpuMs: (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalMilliseconds, Allocated: GC.GetAllocatedBytesForCurrentThread() - allocated);
        cpu = Process.GetCurrentProcess().TotalProcessorTime;
        var read = Read(bytes);
        var readCpu = (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalMilliseconds;

        Output?.WriteLine($"{open:N0} open lines: {bytes.Length:N0} bytes ({(double)bytes.Length / open:F1} per line; as JSON objects " +
                         $"{(double)asObjects / open:F1}), written with {stored.CpuMs:F0} ms CPU and {stored.Allocated:N0} bytes allocated, read with {readCpu:F0} ms CPU");
        Assert.Equal(open, read.OpenLines.Count);
        Assert.True(2 * bytes.Length < asObjects, $"{bytes.Length:N0} bytes for {open:N0} open lines, {asObjects:N0} as JSON objects");
    }
}
