using CsCheck;
using Restock.Actors.Domain.Inventory;

namespace Restock.Actors.Tests.Inventory;

/// <summary>
/// A hot SKU's open lines grow by chunks and an index that moves into a larger table a slice at a time, and shrink again
/// by packing: across several of those steps, with lines opened, paid, changed, closed and expired in between, the table
/// must answer exactly as a dictionary of the same lines would, and expire the unpaid ones earliest first.
/// </summary>
public sealed class OpenLinesGrowthTests
{
    private static readonly DateTimeOffset Start = SkuStockPropertyTests.Start;

    private static string IdOf(int i) => i % 7 == 0 ? $"order-{i}-" + new string('x', 90 + i % 38) : $"o{i}";

    [Fact]
    public void Lines_opened_and_closed_across_several_growth_and_shrink_steps_answer_like_a_dictionary()
    {
        Gen.Int[0, int.MaxValue].Sample(seed =>
        {
            var random = new Random(seed);
            var table = new OpenLines(0);
            var model = new Lines();
            var (sawGrowing, sawPacked, highest) = (false, false, 0);
            var lastShape = (Growing: false, Slots: 0);
            // Up past several chunks of slots and heap entries, down to a few lines (packed), and up again.
            foreach (var target in new[] { 3 * OpenLines.ChunkSlots + 300, 40, 2 * PaymentDeadlines.ChunkEntries + 77, 5 })
            {
                var pool = Math.Max(64, 2 * target);
                while (Math.Abs(model.Count - target) > target / 10 + 2)
                {
                    var growing = model.Count < target;
                    // Shrinking, most steps pick an open line: ids drawn from the pool would rarely hit the few left.
                    var id = !growing && model.Count > 0 && random.Next(3) != 0 ? model.Any(random) : IdOf(random.Next(pool));
                    var roll = random.Next(100);
                    if (roll < (growing ? 70 : 20)) Open(table, model, id, random);
                    else if (roll < (growing ? 80 : 30)) Pay(table, model, id);
                    else if (roll < (growing ? 85 : 35)) Change(table, model, id, random);
                    else if (roll < (growing ? 97 : 90)) Close(table, model, id);
                    else Expire(table, model, Start.AddMinutes(random.Next(0, 200)), random.Next(1, 50));
                    var shape = (table.Index.Growing, table.Capacity.Slots);
                    sawGrowing |= shape.Growing;
                    highest = Math.Max(highest, shape.Slots);
                    sawPacked |= shape.Slots < highest;
                    Assert.Equal(model.TryGetValue(id, out var expected), table.TryGetValue(id, out var line));
                    Assert.Equal(expected, line);
                    // Whole-table checks where the table changed shape (a growth or packing step began or ended), and now
                    // and then between: each one sorts every line, too slow to run at every step of tens of thousands.
                    if (shape != lastShape || random.Next(5_000) == 0) AssertSame(table, model);
                    lastShape = shape;
                }
                AssertSame(table, model);
            }
            Assert.True(sawGrowing, "the index never grew into a second table");
            Assert.True(sawPacked, "the slots were never packed");
        }, iter: 4, seed: null);
    }

    [Fact]
    public void A_table_restored_with_many_lines_keeps_growing_and_shrinking_like_a_dictionary()
    {
        var random = new Random(3);
        var model = Enumerable.Range(0, OpenLines.ChunkSlots + 5)
            .Select(i => new OrderLine(IdOf(i), 2, 2, i % 3 == 0 ? LineStatus.Committed : LineStatus.Reserved, Start.AddMinutes(i % 90)))
            .Aggregate(new Lines(), (lines, l) => { lines.Add(l.OrderId, l); return lines; });
        var table = SkuState.Restore(true, StockLevels.Zero, 0, null, model.Values.ToArray(), [], RememberedIds.Empty(TimeSpan.FromHours(1)),
            SkuState.DefaultManualRestockWindow).OpenLines;
        AssertSame(table, model);
        for (var i = 0; i < 20_000; i++)
        {
            var id = IdOf(random.Next(8_000));
            if (i < 12_000) Open(table, model, id, random);
            else Close(table, model, id);
        }
        AssertSame(table, model);
    }

    [Fact]
    public void A_copy_keeps_the_lines_of_its_moment_while_the_table_grows_changes_and_packs_under_it()
    {
        Gen.Int[0, int.MaxValue].Sample(seed =>
        {
            var random = new Random(seed);
            var table = new OpenLines(0);
            var model = new Lines();
            var copies = new List<(OpenLinesCopy Copy, OrderLine[] Lines)>();
            foreach (var target in new[] { 2 * OpenLines.ChunkSlots + 10, 30, OpenLines.ChunkSlots + 100 })
            {
                var pool = Math.Max(64, 2 * target);
                while (Math.Abs(model.Count - target) > target / 10 + 2)
                {
                    var growing = model.Count < target;
                    var id = !growing && model.Count > 0 && random.Next(3) != 0 ? model.Any(random) : IdOf(random.Next(pool));
                    var roll = random.Next(100);
                    if (roll < (growing ? 75 : 10)) Open(table, model, id, random);
                    else if (roll < (growing ? 85 : 20)) Pay(table, model, id);
                    else if (roll < (growing ? 90 : 25)) Change(table, model, id, random);
                    else Close(table, model, id);
                    if (random.Next(2_500) == 0) copies.Add((table.Copy(), model.Values.ToArray()));
                }
            }
            copies.Add((table.Copy(), model.Values.ToArray()));
            foreach (var (copy, lines) in copies)
            {
                var expected = lines.OrderBy(l => l.OrderId, StringComparer.Ordinal).ToArray();
                Assert.Equal(expected.Length, copy.Count);
                Assert.Equal(expected, copy.OrderBy(l => l.OrderId, StringComparer.Ordinal));
                var (cursor, read) = (copy.Lines(), new List<OrderLine>());
                while (cursor.Next()) read.Add(cursor.Line(System.Text.Encoding.UTF8.GetString(cursor.IdBytes)));
                Assert.Equal(copy, read);
            }
        }, iter: 4, seed: null);
    }

    private static void Open(OpenLines table, Lines model, string id, Random random)
    {
        if (model.ContainsKey(id)) return;
        var offset = TimeSpan.FromHours(random.Next(-3, 4));
        var deadline = new DateTimeOffset(Start.UtcDateTime.Ticks + TimeSpan.FromMinutes(random.Next(0, 240)).Ticks + offset.Ticks, offset);
        var line = new OrderLine(id, 1 + random.Next(5), 1 + random.Next(5), random.Next(4) == 0 ? LineStatus.Committed : LineStatus.Reserved, deadline);
        table.Add(line);
        model.Add(id, line);
    }

    private static void Pay(OpenLines table, Lines model, string id)
    {
        if (!model.TryGetValue(id, out var open) || open.Status != LineStatus.Reserved) return;
        table.Set(id, open with { Status = LineStatus.Committed });
        model[id] = open with { Status = LineStatus.Committed };
    }

    private static void Change(OpenLines table, Lines model, string id, Random random)
    {
        if (!model.TryGetValue(id, out var open)) return;
        var changed = open with { Held = random.Next(0, 9), RestockedAhead = random.Next(0, 3) };
        table.Set(id, changed);
        model[id] = changed;
    }

    private static void Close(OpenLines table, Lines model, string id)
    {
        Assert.Equal(model.Remove(id, out var closed), table.Remove(id, out var removed));
        Assert.Equal(closed, removed);
    }

    /// <summary>What the SKU does at a payment deadline: the due unpaid lines, earliest first (then by id), closed.</summary>
    private static void Expire(OpenLines table, Lines model, DateTimeOffset now, int limit)
    {
        var expected = model.Due(now).Take(limit).ToList();
        var due = table.Deadlines.Due(now, limit);
        Assert.Equal(expected, due);
        foreach (var d in due) Close(table, model, d.OrderId);
    }

    private static void AssertSame(OpenLines table, Lines model)
    {
        Assert.Equal(model.Count, table.Count);
        foreach (var (id, expected) in model)
        {
            Assert.True(table.TryGetValue(id, out var line), $"{id} is open but not found");
            Assert.Equal(expected, line);
            Assert.Equal(expected.PaymentDeadline.Offset, line.PaymentDeadline.Offset);
        }
        OpenLinesTests.AssertSameLinesAndDeadlines(table, model);
    }

    /// <summary>
    /// The model: a dictionary of the open lines, their ids in a list to pick one at random, and the unpaid ones in deadline
    /// order (sorting every line at each expiry made the property tests take many minutes on a loaded machine).
    /// </summary>
    private sealed class Lines : Dictionary<string, OrderLine>
    {
        private readonly List<string> _ids = [];
        private readonly Dictionary<string, int> _at = new(StringComparer.Ordinal);
        private readonly SortedSet<PaymentDue> _unpaid = new(PaymentDue.Order);

        public Lines() : base(StringComparer.Ordinal) { }

        public new OrderLine this[string id]
        {
            get => base[id];
            set
            {
                Unpaid(base[id], remove: true);
                base[id] = value;
                Unpaid(value, remove: false);
            }
        }

        /// <summary>The unpaid lines due at <paramref name="now"/>, earliest first, then by id.</summary>
        public IEnumerable<PaymentDue> Due(DateTimeOffset now) => _unpaid.TakeWhile(d => d.Deadline <= now);

        public new void Add(string id, OrderLine line)
        {
            base.Add(id, line);
            Unpaid(line, remove: false);
            _at[id] = _ids.Count;
            _ids.Add(id);
        }

        public new bool Remove(string id, out OrderLine line)
        {
            if (!base.Remove(id, out line)) return false;
            Unpaid(line, remove: true);
            var at = _at[id];
            _at[_ids[^1]] = at;
            _ids[at] = _ids[^1];
            _ids.RemoveAt(_ids.Count - 1);
            _at.Remove(id);
            return true;
        }

        public string Any(Random random) => _ids[random.Next(_ids.Count)];

        private void Unpaid(OrderLine line, bool remove)
        {
            if (line.Status != LineStatus.Reserved) return;
            var due = new PaymentDue(line.PaymentDeadline, line.OrderId);
            if (remove) _unpaid.Remove(due);
            else _unpaid.Add(due);
        }
    }
}
