using Restock.Actors.Domain.Inventory;

namespace Restock.Actors.Tests.Inventory;

/// <summary>
/// The remembered ids change in place, and a copy (a snapshot's) is a view of the same log: each copy must keep
/// answering for exactly what it saw, whatever the original or another copy remembered or forgot since.
/// </summary>
public sealed class RememberedIdsTests
{
    private static readonly DateTimeOffset Start = SkuStockPropertyTests.Start;

    private static RememberedIds At(RememberedIds ids, TimeSpan after) => ids.Tick(Start + after);

    private static bool Knows(RememberedIds ids, string orderId) => ids.Lines.TryGetValue(orderId, out _);

    /// <summary>
    /// 100,000 SKUs may be active on a node (goal: at most 4 KB each): a SKU stocked once, remembering one adjustment,
    /// must not reserve room for many. Bytes allocated on this thread, not timings: the same on any machine.
    /// </summary>
    [Fact]
    public void A_sku_stocked_once_takes_a_few_hundred_bytes_not_room_for_many_ids()
    {
        const int skus = 1_000;
        var states = new SkuState[skus];
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < skus; i++)
            states[i] = SkuStock.Apply(SkuState.Empty(), new StockAdjusted("initial", 10, "set", Start, 10));
        var perSku = (GC.GetAllocatedBytesForCurrentThread() - before) / skus;

        Assert.All(states, s => Assert.Equal(10, s.Levels.Available));
        Assert.InRange(perSku, 1, 1_000);
    }

    [Fact]
    public void A_copy_keeps_its_ids_after_the_original_remembers_and_forgets()
    {
        var ids = At(RememberedIds.Empty(TimeSpan.FromHours(1)), TimeSpan.Zero);
        for (var i = 0; i < 100; i++) ids = ids.Line($"o{i}", Finish.LineReleased, i + 1);
        var earlier = ids.Copy();

        var later = At(ids, TimeSpan.FromHours(2)).Forget((Start + TimeSpan.FromHours(1)).UtcTicks, 0, _ => false);
        for (var i = 100; i < 5_000; i++) later = later.Line($"o{i}", Finish.LineShipped, 1);

        Assert.Equal(100, earlier.Lines.Count);
        Assert.True(Knows(earlier, "o0") && Knows(earlier, "o99") && !Knows(earlier, "o100"));
        Assert.True(earlier.Lines.TryGetValue("o42", out var f) && f is { Finish: Finish.LineReleased, Amount: 43 });
        Assert.Equal(4_900, later.Lines.Count);
        Assert.True(!Knows(later, "o0") && Knows(later, "o100") && Knows(later, "o4999"));
    }

    [Fact]
    public void Two_copies_of_one_remember_apart()
    {
        var root = At(RememberedIds.Empty(TimeSpan.FromHours(1)), TimeSpan.Zero).Line("shared", Finish.LineShipped, 1);
        var left = root.Copy().Line("left", Finish.LineReleased, 1).Adjustment("a-left", Finish.StockAdjusted, 5);
        var right = root.Copy().Line("right", Finish.LineRefunded, 2);

        Assert.True(Knows(left, "shared") && Knows(left, "left") && !Knows(left, "right"));
        Assert.True(Knows(right, "shared") && Knows(right, "right") && !Knows(right, "left"));
        Assert.True(left.Adjustments.ContainsKey("a-left") && !right.Adjustments.ContainsKey("a-left"));
        Assert.Equal((2, 1, 2, 0), (left.Lines.Count, left.Adjustments.Count, right.Lines.Count, right.Adjustments.Count));
        Assert.False(left.Lines.ContainsKey("a-left"));
        Assert.True(Knows(root, "shared") && !Knows(root, "left") && !Knows(root, "right"));
    }

    [Fact]
    public void Ids_remembered_over_many_horizons_are_forgotten_and_the_log_stays_bounded()
    {
        var ids = RememberedIds.Empty(TimeSpan.FromMinutes(10));
        var largest = 0;
        for (var minute = 0; minute < 600; minute++)
        {
            ids = At(ids, TimeSpan.FromMinutes(minute));
            ids = ids.Forget(ids.Clock.UtcTicks - ids.Horizon.Ticks, ids.Clock.UtcTicks, _ => false);
            for (var i = 0; i < 50; i++) ids = ids.Line($"m{minute}-{i}", Finish.LineReleased, 1);
            largest = Math.Max(largest, ids.Queued);
        }

        Assert.Equal(11 * 50, ids.Lines.Count);
        Assert.True(Knows(ids, "m599-0") && Knows(ids, "m589-49") && !Knows(ids, "m588-49"));
        Assert.Equal(11 * 50, largest);
    }

    [Fact]
    public void An_id_remembered_again_counts_once_and_its_latest_fingerprint_answers()
    {
        var ids = RememberedIds.Empty(TimeSpan.FromHours(1))
            .Remember(IdKind.OrderLine, "o1", new Fingerprint(Finish.LineShipped, 2, 0))
            .Remember(IdKind.OrderLine, "o1", new Fingerprint(Finish.LineRefunded, 3, 0));

        Assert.Equal(1, ids.Lines.Count);
        Assert.Equal(2, ids.Queued);
        Assert.True(ids.Lines.TryGetValue("o1", out var f) && f is { Finish: Finish.LineRefunded, Amount: 3 });
        Assert.Equal([KeyValuePair.Create("o1", f)], ids.Lines);

        // Forgetting the older entry leaves the id (its time was unknown: its horizon starts now).
        ids = At(ids, TimeSpan.FromHours(5));
        ids = ids.Forget(ids.Clock.UtcTicks - ids.Horizon.Ticks, ids.Clock.UtcTicks, _ => false);
        Assert.True(ids.Lines.TryGetValue("o1", out f) && f is { Finish: Finish.LineRefunded, Amount: 3 } && f.AtTicks == ids.Clock.UtcTicks);
        Assert.Equal(1, ids.Lines.Count);
    }

    /// <summary>
    /// An id is hashed from its UTF-8 bytes, whether it comes as a string (a command's) or as stored bytes (a snapshot's):
    /// every id restored from columns is found by its string and counts once when remembered again, whatever its length
    /// (odd or even, longer than the stack's 256 bytes) or characters (stored ids from before the id rule may be any).
    /// </summary>
    [Fact]
    public void Ids_restored_from_stored_bytes_are_found_by_their_strings_whatever_their_length_or_characters()
    {
        string[] idsGiven = ["a", "ab", "abc", "done-00000001", "done-00000002", "done-0000001", "done-0000002", "é", "ëé", "日本語-id",
            "x\u00e9y", new string('z', 300), new string('z', 301), "z\u00e9" + new string('z', 299)];
        var original = RememberedIds.Empty(TimeSpan.FromHours(1)).Tick(Start);
        foreach (var id in idsGiven) original.Line(id, Finish.LineReleased, id.Length);
        original.Adjustment("ab", Finish.StockAdjusted, -2);
        var range = original.Range(original.FirstPosition);
        var ends = new int[range.Count];
        for (int i = 0, end = 0; i < range.Count; i++) ends[i] = end += range.Id(i).Length;

        var restored = RememberedIds.Restore(original.Horizon, original.Clock, range.Count, range.IdBytes.ToArray(), ends, range.Kinds.ToArray(),
            range.Finishes.ToArray(), range.Amounts.ToArray(), range.AtTicks.ToArray());

        foreach (var id in idsGiven)
            Assert.True(restored.Lines.TryGetValue(id, out var f) && f.Amount == id.Length, id);
        Assert.True(restored.Adjustments.TryGetValue("ab", out var adjusted) && adjusted.Amount == -2);
        Assert.False(restored.Lines.ContainsKey("done-00000003") || restored.Lines.ContainsKey("abcd") || restored.Adjustments.ContainsKey("a"));
        foreach (var id in idsGiven) restored.Line(id, Finish.LineShipped, 1);
        Assert.Equal(idsGiven.Length, restored.Lines.Count);
        Assert.All(idsGiven, id => Assert.True(restored.Lines.TryGetValue(id, out var f) && f.Finish == Finish.LineShipped, id));
    }

    /// <summary>
    /// A restore of many ids (the index's build fetches slots ahead of the id it places): an id stored twice answers with
    /// its latest entry and counts once, refunds are not found as lines or adjustments, and the same id of two kinds
    /// stays apart, as a plain dictionary of the same entries says.
    /// </summary>
    [Fact]
    public void Many_ids_restored_answer_as_a_dictionary_of_their_latest_entries()
    {
        var random = new Random(20);
        var original = RememberedIds.Empty(TimeSpan.FromHours(1)).Tick(Start);
        var model = new Dictionary<(IdKind, string), long>();
        for (var i = 0; i < 20_000; i++)
        {
            var id = $"id-{random.Next(12_000)}";
            switch (random.Next(10))
            {
                case 0:
                    original.Refund(id);
                    break;
                case 1:
                    original.Adjustment(id, Finish.StockAdjusted, i);
                    model[(IdKind.Adjustment, id)] = i;
                    break;
                default:
                    original.Line(id, Finish.LineReleased, i);
                    model[(IdKind.OrderLine, id)] = i;
                    break;
            }
        }
        var range = original.Range(original.FirstPosition);
        var ends = new int[range.Count];
        for (int i = 0, end = 0; i < range.Count; i++) ends[i] = end += range.Id(i).Length;

        var restored = RememberedIds.Restore(original.Horizon, original.Clock, range.Count, range.IdBytes.ToArray(), ends, range.Kinds.ToArray(),
            range.Finishes.ToArray(), range.Amounts.ToArray(), range.AtTicks.ToArray());

        Assert.Equal(model.Keys.Count(k => k.Item1 == IdKind.OrderLine), restored.Lines.Count);
        Assert.Equal(model.Keys.Count(k => k.Item1 == IdKind.Adjustment), restored.Adjustments.Count);
        for (var n = 0; n < 12_000; n++)
        {
            var id = $"id-{n}";
            Assert.Equal(model.TryGetValue((IdKind.OrderLine, id), out var line) ? line : (long?)null,
                restored.Lines.TryGetValue(id, out var f) ? f.Amount : (long?)null);
            Assert.Equal(model.TryGetValue((IdKind.Adjustment, id), out var adjustment) ? adjustment : (long?)null,
                restored.Adjustments.TryGetValue(id, out f) ? f.Amount : (long?)null);
        }
    }
}
