using System.Text;
using System.Text.Json;
using CsCheck;
using Restock.Actors.Domain.Inventory;
using Restock.Actors.Engine.Hosting;
using Restock.Actors.Engine.Inventory;
using Restock.Actors.Tests.Support;
using Xunit.Abstractions;
using Store = Restock.Actors.Tests.Inventory.SkuSnapshotChunkPropertyTests.Store;

namespace Restock.Actors.Tests.Inventory;

/// <summary>
/// A state's open lines restored from a snapshot's stored form (values and id bytes, no string per line) are the table
/// that adding the lines one by one makes: same slots, index, byte logs and deadlines, and every later open, payment and
/// close answers the same. Stored inline in a head, in parts, and as an older head's JSON objects.
/// </summary>
public sealed class OpenLinesRestoreTests(ITestOutputHelper output) : EngineTestKit(output)
{
    private static readonly DateTimeOffset Start = SkuStockPropertyTests.Start;

    /// <summary>How the state's lines were restored before: one <see cref="OpenLines.Add"/> per line, in the stored order.</summary>
    private static OpenLines OneByOne(IReadOnlyCollection<OrderLine> lines)
    {
        var table = new OpenLines(lines.Count);
        foreach (var line in lines) table.Add(line);
        return table;
    }

    /// <summary>A SKU's lines as a sale leaves them: opened, some paid, some closed (free slots in every chunk), more opened.</summary>
    private static SkuState Sku(int opened, int seed)
    {
        var random = new Random(seed);
        var state = SkuStock.Apply(SkuState.Empty(), new StockAdjusted("a1", 100_000_000, "count", Start));
        string Id(int i) => random.Next(4) == 0 ? $"ordre-é-{i}-注文" : $"order-{i}-{new string('x', random.Next(40))}";
        var ids = new List<string>();
        for (var i = 0; i < opened; i++)
        {
            ids.Add(Id(i));
            // Equal deadlines too: the heap then orders by id.
            var due = Start.AddMinutes(15 + random.Next(3)).ToOffset(TimeSpan.FromHours(random.Next(3) - 1));
            state = SkuStock.Apply(state, new StockReserved(ids[^1], 1 + random.Next(3), due, Start));
        }
        foreach (var id in ids.Where(_ => random.Next(3) == 0).ToArray())
        {
            var line = state.OpenLines[id];
            state = SkuStock.Apply(state, random.Next(2) == 0
                ? new PaymentConfirmed(id, line.Ordered, Start)
                : new ReservationReleased(id, line.Ordered, ReleaseReason.Cancelled, Start));
        }
        for (var i = opened; i < opened + opened / 5; i++)
            state = SkuStock.Apply(state, new StockReserved(Id(i), 1, Start.AddMinutes(20), Start));
        return state;
    }

    private static void AssertSame(OpenLines expected, OpenLines actual, int seed)
    {
        Assert.True(expected.SequenceEqual(actual), $"seed {seed}: lines or their slots differ");
        Assert.Equal(expected.Capacity, actual.Capacity);
        Assert.Equal(expected.Index, actual.Index);
        Assert.Equal(expected.Deadlines.Count, actual.Deadlines.Count);
        Assert.Equal(expected.Deadlines.Due(DateTimeOffset.MaxValue, int.MaxValue), actual.Deadlines.Due(DateTimeOffset.MaxValue, int.MaxValue));
    }

    /// <summary>The restored table against the one made line by line, then both through the same opens, payments and closes.</summary>
    private static void AssertRestoredAsOneByOne(IReadOnlyCollection<OrderLine> stored, OpenLines restored, int seed)
    {
        var expected = OneByOne([.. stored]);
        AssertSame(expected, restored, seed);
        var random = new Random(seed);
        var open = expected.Keys.ToList();
        for (var step = 0; step < 2_000; step++)
        {
            var choice = random.Next(4);
            if (choice == 0 || open.Count == 0)
            {
                var line = new OrderLine($"later-{step}", 1, 1, LineStatus.Reserved, Start.AddMinutes(random.Next(30)));
                expected.Add(line);
                restored.Add(line);
                open.Add(line.OrderId);
                continue;
            }
            var id = open[random.Next(open.Count)];
            var was = expected[id];
            Assert.Equal(was, restored[id]);
            if (choice == 1 && was.Status == LineStatus.Reserved)
            {
                expected.Set(id, was with { Status = LineStatus.Committed });
                restored.Set(id, was with { Status = LineStatus.Committed });
                continue;
            }
            Assert.True(expected.Remove(id, out _));
            Assert.True(restored.Remove(id, out var closed));
            Assert.Equal(was, closed);
            open.Remove(id);
        }
        AssertSame(expected, restored, seed);
    }

    [Fact]
    public void Open_lines_restored_from_a_snapshot_inline_or_in_parts_are_the_table_adding_them_one_by_one_makes()
    {
        Gen.Select(Gen.Int[0, 2 * OpenLines.ChunkSlots + 500], Gen.Int[0, int.MaxValue]).Sample((opened, seed) =>
        {
            var state = Sku(opened, seed);
            var snapshot = SkuSnapshot.InChunks(state, null, lineage: 3);
            var store = new Store(Sys.Serialization);
            IdChunks? saved = null;
            Assert.True(SkuSnapshotChunkPropertyTests.Save(store, 1, snapshot, () => true, ref saved));
            var read = store.Load()!.Value.Snapshot;

            // The stored order is the state's slot order: what the state held is what the lines were added in.
            Assert.Equal(state.OpenLines.Values, read.OpenLines);
            AssertRestoredAsOneByOne(read.OpenLines, read.ToState(SkuState.DefaultHorizon).OpenLines, seed);
        }, iter: 12, seed: null);
    }

    [Fact]
    public void Open_lines_of_an_older_head_stored_as_json_objects_are_restored_as_adding_them_one_by_one()
    {
        Gen.Select(Gen.Int[1, 3_000], Gen.Int[0, int.MaxValue]).Sample((opened, seed) =>
        {
            var lines = Sku(opened, seed).OpenLines.Values.ToArray();
            var stored = "{\"isKnown\":true,\"levels\":{\"available\":7},\"stocked\":10,\"openLines\":"
                         + JsonSerializer.Serialize(lines, RestockSerializer.Options) + ",\"refunds\":[]}";
            var read = new Store(Sys.Serialization).Read(Encoding.UTF8.GetBytes(stored), "sku.snapshot");

            var restored = ((SkuSnapshot)read).ToState(SkuState.DefaultHorizon).OpenLines;
            Assert.Equal(lines, restored.Values);
            AssertRestoredAsOneByOne(lines, restored, seed);
        }, iter: 12, seed: null);
    }

    [Fact]
    public void An_order_open_twice_in_a_snapshot_is_refused_as_adding_it_twice_is()
    {
        var line = new OrderLine("o-1", 1, 1, LineStatus.Reserved, Start);
        var snapshot = new SkuSnapshot(true, new StockLevels(0, 2, 0, 0, 0, 0), 2, [line, line with { Ordered = 2 }], []);

        Assert.Contains("o-1 already has an open line", Assert.Throws<ArgumentException>(() => snapshot.ToState(SkuState.DefaultHorizon)).Message);
    }
}
