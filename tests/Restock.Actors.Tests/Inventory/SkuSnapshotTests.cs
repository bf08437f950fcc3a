using System.Diagnostics;
using System.Text;
using Restock.Actors.Domain.Inventory;
using Restock.Actors.Engine.Inventory;
using Restock.Actors.Tests.Support;
using Xunit.Abstractions;

namespace Restock.Actors.Tests.Inventory;

/// <summary>Snapshots through the engine's serializer: horizon changes, older snapshots, and what a million ids cost.</summary>
public sealed class SkuSnapshotTests(ITestOutputHelper output) : EngineTestKit(output)
{
    private static readonly DateTimeOffset Start = SkuStockPropertyTests.Start;

    private SkuState RoundTrip(SkuState state, TimeSpan horizon) => Restore(Store(SkuSnapshot.From(state)), horizon);

    private byte[] Store(SkuSnapshot snapshot) => Sys.Serialization.FindSerializerFor(snapshot).ToBinary(snapshot);

    private SkuState Restore(byte[] bytes, TimeSpan horizon, string manifest = "sku.snapshot.v2")
    {
        var serializer = Sys.Serialization.FindSerializerForType(typeof(SkuSnapshot));
        return ((SkuSnapshot)Sys.Serialization.Deserialize(bytes, serializer.Identifier, manifest)).ToState(horizon);
    }

    private static SkuState Finish(SkuState state, string orderId, DateTimeOffset at) => SkuStock.ApplyAll(state, [
        new StockReserved(orderId, 1, at.AddMinutes(15), at),
        new ReservationReleased(orderId, 1, ReleaseReason.Cancelled, at),
    ]);

    private static bool Remembers(SkuState state, string orderId) => SkuStock.Decide(state, new Reserve(orderId, 1, Start.AddDays(9)))
        is Rejected { Code: RejectionCode.ReservationReleased };

    [Fact]
    public void A_changed_horizon_applies_to_a_sku_recovered_from_an_older_snapshot()
    {
        var state = SkuStock.Apply(SkuState.Empty(TimeSpan.FromHours(48)), new StockAdjusted("a1", 10, "count", Start));
        state = Finish(state, "o1", Start);
        state = Finish(state, "o2", Start.AddHours(30));

        var shorter = RoundTrip(state, TimeSpan.FromHours(24));
        var longer = RoundTrip(state, TimeSpan.FromHours(72));
        Assert.True(Remembers(shorter, "o1") && Remembers(longer, "o1"));

        shorter = Finish(shorter, "o3", Start.AddHours(30));
        longer = Finish(longer, "o3", Start.AddHours(30));
        Assert.False(Remembers(shorter, "o1"));
        Assert.True(Remembers(shorter, "o2"));
        Assert.True(Remembers(longer, "o1"));
    }

    [Fact]
    public void A_snapshot_written_before_the_horizon_existed_is_remembered_for_a_horizon_from_the_next_event()
    {
        const string stored = """
            {"isKnown":true,"levels":{"available":8,"reserved":0,"committed":0,"shipped":2,"refunded":0,"restocked":0},"stocked":10,
             "openLines":[],"remembered":10000,
             "closedLines":[{"orderId":"o1","line":{"ordered":2,"closure":2}}],
             "adjustments":[{"adjustmentId":"a1","delta":10}],"refunds":[]}
            """;
        var state = Restore(Encoding.UTF8.GetBytes(stored), TimeSpan.FromHours(1), "sku.snapshot");
        Assert.Equal(SkuOutcome.AlreadyDone.ToString(), Answer(SkuStock.Decide(state, new Reserve("o1", 2, Start))));
        Assert.Equal("AlreadyShipped", Answer(SkuStock.Decide(state, new Release("o1"))));
        Assert.Equal(SkuOutcome.AlreadyDone.ToString(), Answer(SkuStock.Decide(state, new SetStock("a1", 10, "count"))));

        state = Finish(state, "o2", Start);
        Assert.Equal(SkuOutcome.AlreadyDone.ToString(), Answer(SkuStock.Decide(state, new Reserve("o1", 2, Start))));
        state = Finish(state, "o3", Start.AddHours(2));
        Assert.Equal("UnknownOrderLine", Answer(SkuStock.Decide(state, new Release("o1"))));
    }

    /// <summary>Snapshots stored as JSON columns (manifest "sku.snapshot", before the binary layout; bytes as base64) still recover whole.</summary>
    [Fact]
    public void A_json_snapshot_of_remembered_id_columns_recovers_its_ids_times_and_refunds()
    {
        var at = Start.UtcTicks;
        var stored = $$$"""
            {"isKnown":true,"levels":{"available":7,"reserved":0,"committed":0,"shipped":2,"refunded":1,"restocked":0},"stocked":10,
             "openLines":[],"owner":"shop-a","clock":"{{{Start.AddHours(2):O}}}",
             "ids":{"ids":["a1","o1","o2","r1"],"kinds":"AgEBAw==","finishes":"AgUGAA==","amounts":[10,2,1,0],
                    "atDeltas":[{{{at}}},0,{{{TimeSpan.TicksPerHour}}},0]},
             "refunds":[{"refundId":"r1","refund":{"orderId":"o2","quantity":1,"applied":true,"settingVersion":1,"changedAtTicks":{{{at + TimeSpan.TicksPerHour}}} }}]}
            """;
        var state = Restore(Encoding.UTF8.GetBytes(stored), TimeSpan.FromHours(24), "sku.snapshot");

        Assert.Equal(SkuOutcome.AlreadyDone.ToString(), Answer(SkuStock.Decide(state, new SetStock("a1", 10, "count", "shop-a"))));
        Assert.Equal("ConflictingRepeat", Answer(SkuStock.Decide(state, new SetStock("a1", 11, "count", "shop-a"))));
        Assert.Equal("AlreadyShipped", Answer(SkuStock.Decide(state, new Release("o1"))));
        Assert.Equal("AlreadyRefunded", Answer(SkuStock.Decide(state, new Release("o2"))));
        Assert.Equal(4, state.Remembered.Queued);
        Assert.Equal((2, 1), (state.Remembered.Lines.Count, state.Remembered.Adjustments.Count));

        // Their times came back: o1 (at the start) is forgotten a horizon later, o2 (an hour after it) is not yet.
        state = SkuStock.Apply(state, new StockAdjusted("a2", 1, "count", Start.AddHours(24.5)));
        Assert.Equal("UnknownOrderLine", Answer(SkuStock.Decide(state, new Release("o1"))));
        Assert.Equal("AlreadyRefunded", Answer(SkuStock.Decide(state, new Release("o2"))));

        // Written again, it is the binary layout, and reads back the same.
        var again = RoundTrip(state, TimeSpan.FromHours(24));
        Assert.Equal(state.Remembered.Queue, again.Remembered.Queue);
        Assert.Equal("AlreadyRefunded", Answer(SkuStock.Decide(again, new Release("o2"))));
        Assert.Single(again.Refunds);
    }

    [Fact]
    public void A_snapshot_cut_short_or_damaged_is_refused_with_a_clear_error()
    {
        var state = SkuStock.Apply(SkuState.Empty(), new StockAdjusted("a1", 10, "count", Start));
        for (var i = 0; i < 100; i++) state = Finish(state, $"ord-{i:D8}", Start);
        var bytes = Store(SkuSnapshot.From(state));

        foreach (var damaged in new[] { bytes[..^1], bytes[..(bytes.Length / 2)], [.. bytes, 0], [9, .. bytes[1..]] })
        {
            var error = Assert.Throws<System.Runtime.Serialization.SerializationException>(() => Restore(damaged, SkuState.DefaultHorizon));
            Assert.Contains("snapshot", error.Message);
        }
        Assert.True(Remembers(Restore(bytes, SkuState.DefaultHorizon), "ord-00000099"));
    }

    [Fact]
    public void Recovering_from_snapshots_again_and_again_does_not_grow_what_a_sku_remembers()
    {
        // A refund applied with the switch off stays remembered (the merchant may still restock it by hand).
        var state = SkuStock.ApplyAll(SkuState.Empty(), [
            new StockAdjusted("a1", 10, "count", Start),
            new StockReserved("o1", 2, Start.AddMinutes(15), Start),
            new PaymentConfirmed("o1", 2, Start),
        ]);
        state = SkuStock.ApplyAll(state, Events(SkuStock.Decide(state, new RefundLine("r1", "o1", "shop-a", 1, false, 1, Start) { ReceivedAt = Start })));
        var remembered = state.Remembered.Queue.Count();

        for (var recovery = 0; recovery < 3; recovery++) state = RoundTrip(state, SkuState.DefaultHorizon);

        Assert.Equal(remembered, state.Remembered.Queue.Count());
        Assert.Equal(remembered, SkuSnapshot.From(state).Finished!.Queued);
    }

    private static IReadOnlyList<SkuEvent> Events(Decision decision) => Assert.IsType<Accepted>(decision).Events;

    private static string Answer(Decision decision) => decision switch
    {
        Accepted { Events.Count: 0 } => SkuOutcome.AlreadyDone.ToString(),
        Accepted => SkuOutcome.Done.ToString(),
        Rejected r => r.Code.ToString(),
        _ => "?",
    };

    /// <summary>
    /// The figures in the README: memory per remembered id and the snapshot of a SKU with 1,000,000 finished lines
    /// inside the horizon (ids like those the load runner sends). Printed, not asserted; what is asserted is that
    /// every one of them is still recognised after the snapshot round trip.
    /// </summary>
    [Fact]
    public void A_million_finished_lines_are_remembered_and_survive_a_snapshot()
    {
        const int lines = 1_000_000;
        var state = SkuStock.Apply(SkuState.Empty(), new StockAdjusted("a1", 10, "count", Start));
        var before = GC.GetTotalMemory(forceFullCollection: true);
        for (var i = 0; i < lines; i++)
            state = Finish(state, $"ord-{i:D8}", Start.AddTicks(i * TimeSpan.TicksPerMillisecond / 20));
        var after = GC.GetTotalMemory(forceFullCollection: true);
        GC.KeepAlive(state);

        var clock = Stopwatch.StartNew();
        var bytes = Store(SkuSnapshot.From(state));
        var stored = clock.Elapsed;
        var recovered = Restore(bytes, SkuState.DefaultHorizon);
        Output?.WriteLine($"{lines:N0} remembered ids: {(after - before) / (double)lines:N0} bytes each in memory; " +
                          $"snapshot {bytes.Length / 1e6:N1} MB ({bytes.Length / (double)lines:N1} bytes per id), written in {stored.TotalSeconds:N1} s, " +
                          $"read back in {(clock.Elapsed - stored).TotalSeconds:N1} s");

        Assert.Equal(lines, recovered.Remembered.Lines.Count);
        var random = new Random(7);
        for (var i = 0; i < 1_000; i++)
            Assert.True(Remembers(recovered, $"ord-{random.Next(lines):D8}"));
    }

    /// <summary>
    /// Large snapshots are written into a pooled buffer sized from the previous one of their type: a larger one than the
    /// last (the buffer grows while writing) and a smaller one must both read back whole.
    /// </summary>
    [Fact]
    public void Large_snapshots_of_growing_and_shrinking_size_read_back_whole()
    {
        foreach (var open in new[] { 15_000, 120_000, 60_000 })
        {
            var state = SkuStock.Apply(SkuState.Empty(), new StockAdjusted("a1", 1_000_000, "count", Start));
            for (var i = 0; i < open; i++)
                state = SkuStock.Apply(state, new StockReserved($"ord-{i:D8}", 1, Start.AddMinutes(15).AddTicks(i), Start));
            var bytes = Store(SkuSnapshot.From(state));
            Assert.True(bytes.Length > 256 * 1024, "the snapshot must be large enough for the pooled path");

            var recovered = Restore(bytes, SkuState.DefaultHorizon);
            Assert.Equal(state.Levels, recovered.Levels);
            Assert.Equal(state.OpenLines.Values.OrderBy(l => l.OrderId), recovered.OpenLines.Values.OrderBy(l => l.OrderId));
        }
    }

    /// <summary>Prints the snapshot of 100,000 refunds applied without restock, inside their window and once it has closed.</summary>
    [Fact]
    public void Refunds_not_restocked_stop_weighing_on_the_snapshot_once_their_manual_restock_window_has_closed()
    {
        const int refunds = 100_000;
        var window = TimeSpan.FromDays(30);
        var state = SkuStock.ApplyAll(SkuState.Empty(SkuState.DefaultHorizon, window),
            [new SkuOwnerRecorded("shop"), new StockAdjusted("a1", refunds, "count", Start)]);
        for (var i = 0; i < refunds; i++)
        {
            var at = Start.AddTicks(i * TimeSpan.TicksPerDay / refunds);
            state = SkuStock.ApplyAll(state, [
                new StockReserved($"ord-{i:D8}", 1, at.AddMinutes(15), at),
                new PaymentConfirmed($"ord-{i:D8}", 1, at),
                new LineRefunded($"ref-{i:D8}", $"ord-{i:D8}", "shop", 1, RefundRestock.NotRestocked, 1, 0, at, at),
            ]);
        }
        state = SkuStock.Apply(state, new StockAdjusted("a2", 1, "count", Start.AddDays(2)));
        var inside = Store(SkuSnapshot.From(state));

        // The window's start survives a snapshot: a refund is restockable inside it and refused after it.
        var recovered = Restore(inside, SkuState.DefaultHorizon);
        var manual = new RestockRefund("ref-00000007", null, null, RestockTrigger.Manual, "shop", "merchant", Start);
        Assert.IsType<Accepted>(SkuStock.Decide(recovered, manual with { ReceivedAt = Start.AddDays(29) }));
        Assert.Equal(RejectionCode.RestockWindowClosed,
            Assert.IsType<Rejected>(SkuStock.Decide(recovered, manual with { ReceivedAt = Start.AddDays(30).AddHours(1) })).Code);

        state = SkuStock.Apply(state, new StockAdjusted("a3", 1, "count", Start.AddDays(32)));
        var after = Store(SkuSnapshot.From(state));
        Output?.WriteLine($"{refunds:N0} refunds not restocked: snapshot {inside.Length / 1e6:N1} MB inside their window " +
                          $"({inside.Length / (double)refunds:N0} bytes each), {after.Length:N0} bytes once it has closed");
        Assert.Empty(state.Refunds);
        Assert.True(after.Length < 1_000, $"{after.Length} bytes");
    }
}
