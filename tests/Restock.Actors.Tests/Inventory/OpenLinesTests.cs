using CsCheck;
using Restock.Actors.Domain.Inventory;

namespace Restock.Actors.Tests.Inventory;

/// <summary>
/// The SKU's open lines are slots of values with their ids as bytes and a deadline heap naming slots: after any sequence
/// of opening, changing and closing lines they must answer exactly as a dictionary of the same lines would, the heap must
/// list exactly the unpaid lines earliest first, and memory must follow the open lines down again.
/// </summary>
public sealed class OpenLinesTests
{
    private static readonly DateTimeOffset Start = SkuStockPropertyTests.Start;

    private abstract record Step;

    private sealed record Open(int Id, bool Paid, int Minutes, int OffsetHours, long Ordered) : Step;

    private sealed record Pay(int Id) : Step;

    private sealed record Change(int Id, long Held, long Ahead) : Step;

    private sealed record Close(int Id) : Step;

    // Ids of varying lengths (up to the 128 allowed) from a small pool, so steps hit the same ids often.
    private static string IdOf(int i) => i % 5 == 0 ? $"order-{i}-" + new string('x', 100 + i % 28) : $"o{i}";

    private static Gen<Step> StepFrom(int pool) => Gen.OneOf<Step>(
        Gen.Select(Gen.Int[0, pool], Gen.Bool, Gen.Int[0, 20], Gen.Int[-5, 5], Gen.Long[1, 9], (i, paid, m, h, q) => new Open(i, paid, m, h, q)),
        Gen.Select(Gen.Int[0, pool], i => new Pay(i)),
        Gen.Select(Gen.Int[0, pool], Gen.Long[1, 9], Gen.Long[0, 3], (i, held, ahead) => new Change(i, held, ahead)),
        Gen.Select(Gen.Int[0, pool], i => new Close(i)));

    [Fact]
    public void Any_churn_answers_like_a_dictionary_and_lists_the_unpaid_lines_earliest_first()
    {
        Gen.Select(Gen.Int[1, 200], Gen.Int[0, 100_000]).SelectMany((pool, _) => StepFrom(pool).Array[1, 600].Select(steps => (pool, steps)))
            .Sample(t =>
            {
                var (pool, steps) = t;
                var table = new OpenLines(0);
                var model = new Dictionary<string, OrderLine>(StringComparer.Ordinal);
                foreach (var step in steps)
                {
                    Run(table, model, step);
                    AssertSame(table, model, pool);
                }
            }, iter: 200);
    }

    [Fact]
    public void Thousands_of_lines_opened_then_closed_leave_a_table_as_small_as_the_lines_still_open()
    {
        var table = new OpenLines(0);
        var model = new Dictionary<string, OrderLine>(StringComparer.Ordinal);
        var random = new Random(11);
        for (var i = 0; i < 20_000; i++) Run(table, model, new Open(i, random.Next(3) == 0, random.Next(600), 0, 1));
        var grown = table.Capacity;
        foreach (var i in Enumerable.Range(0, 20_000).OrderBy(_ => random.Next()).Take(19_990)) Run(table, model, new Close(i));
        AssertSame(table, model, 20_000);
        Assert.Equal(10, table.Count);
        Assert.True(table.Capacity.Slots <= 64 && table.Capacity.IdBytes <= 4_096, $"grown to {grown}, still holding {table.Capacity} for 10 lines");

        // Reopened after closing, the same ids are new lines with their new deadlines.
        for (var i = 0; i < 20_000; i++) Run(table, model, new Open(i, false, 1_000 + i % 50, 2, 3));
        AssertSame(table, model, 20_000);
    }

    [Fact]
    public void Reading_a_line_by_the_command_s_id_returns_that_string_and_allocates_nothing()
    {
        var table = new OpenLines(0);
        for (var i = 0; i < 1_000; i++) table.Add(new OrderLine($"o{i}", 1, 1, LineStatus.Reserved, Start.AddMinutes(i)));
        var id = "o500";
        Assert.True(table.TryGetValue(id, out var warm));
        var before = GC.GetAllocatedBytesForCurrentThread();
        var found = table.TryGetValue(id, out var line) && table.ContainsKey("o999") && !table.ContainsKey("o1000");
        Assert.Equal(before, GC.GetAllocatedBytesForCurrentThread());
        Assert.True(found);
        Assert.Same(id, line.OrderId);
        Assert.Equal(warm, line);
    }

    [Fact]
    public void Applying_reservations_and_payments_to_a_hot_SKU_allocates_nothing_but_its_tables_growth()
    {
        var state = SkuStock.Apply(SkuState.Empty(), new StockAdjusted("a1", 1_000_000, "count", Start));
        var reservations = Enumerable.Range(0, 400).Select(i => new StockReserved($"o{i}", 1, Start.AddMinutes(30 + i % 7), Start.AddSeconds(i))).ToArray();
        var payments = reservations.Select(r => new PaymentConfirmed(r.OrderId, 1, r.At)).ToArray();
        var (quiet, applied) = (0, 0);
        foreach (var e in reservations.Take(200).Concat<SkuEvent>(payments.Take(100)).Concat(reservations.Skip(200)).Concat(payments.Skip(100)))
        {
            var grown = Capacity(state);
            var before = GC.GetAllocatedBytesForCurrentThread();
            SkuStock.Apply(state, e);
            if (GC.GetAllocatedBytesForCurrentThread() == before) quiet++;
            if (Capacity(state) == grown) applied++;
        }
        // Every event that did not grow a table allocated nothing (a closure per event did before).
        Assert.True(applied == quiet, $"{quiet} quiet, {applied} without growth");
        Assert.True(quiet > 700, $"only {quiet} of 800 events applied without growing a table");
        Assert.Equal(new StockLevels(1_000_000 - 400, 0, 400, 0, 0, 0), state.Levels);
    }

    private static (int, int, int, int) Capacity(SkuState state) =>
        (state.OpenLines.Capacity.Slots, state.OpenLines.Capacity.IdBytes, state.PaymentDeadlines.Capacity, state.Remembered.Queued);

    private static void Run(OpenLines table, Dictionary<string, OrderLine> model, Step step)
    {
        switch (step)
        {
            case Open o when !model.ContainsKey(IdOf(o.Id)):
                var deadline = new DateTimeOffset((Start + TimeSpan.FromMinutes(o.Minutes)).UtcDateTime.Ticks + TimeSpan.FromHours(o.OffsetHours).Ticks,
                    TimeSpan.FromHours(o.OffsetHours));
                var line = new OrderLine(IdOf(o.Id), o.Ordered, o.Ordered, o.Paid ? LineStatus.Committed : LineStatus.Reserved, deadline);
                table.Add(line);
                model.Add(line.OrderId, line);
                return;
            case Open o:
                Assert.Throws<ArgumentException>(() => table.Add(model[IdOf(o.Id)]));
                return;
            case Pay p when model.TryGetValue(IdOf(p.Id), out var open) && open.Status == LineStatus.Reserved:
                table.Set(open.OrderId, open with { Status = LineStatus.Committed });
                model[open.OrderId] = open with { Status = LineStatus.Committed };
                return;
            case Change c when model.TryGetValue(IdOf(c.Id), out var open):
                table.Set(open.OrderId, open with { Held = c.Held, RestockedAhead = c.Ahead });
                model[open.OrderId] = open with { Held = c.Held, RestockedAhead = c.Ahead };
                return;
            case Close c:
                Assert.Equal(model.Remove(IdOf(c.Id), out var closed), table.Remove(IdOf(c.Id), out var removed));
                Assert.Equal(closed, removed);
                return;
        }
    }

    private static void AssertSame(OpenLines table, Dictionary<string, OrderLine> model, int pool)
    {
        Assert.Equal(model.Count, table.Count);
        for (var i = 0; i <= pool; i++)
        {
            var id = IdOf(i);
            Assert.Equal(model.TryGetValue(id, out var expected), table.TryGetValue(id, out var line));
            Assert.Equal(expected, line);
            Assert.Equal(expected.PaymentDeadline.Offset, line.PaymentDeadline.Offset);
        }
        AssertSameLinesAndDeadlines(table, model);
    }

    /// <summary>The table holds exactly the model's lines, and its deadlines are the model's unpaid lines, earliest first.</summary>
    internal static void AssertSameLinesAndDeadlines(OpenLines table, IReadOnlyDictionary<string, OrderLine> model)
    {
        Assert.Equal(model.Values.OrderBy(l => l.OrderId, StringComparer.Ordinal), table.Values.OrderBy(l => l.OrderId, StringComparer.Ordinal));
        var unpaid = model.Values.Where(l => l.Status == LineStatus.Reserved)
            .Select(l => new PaymentDue(l.PaymentDeadline, l.OrderId)).Order(PaymentDue.Order).ToList();
        Assert.Equal(unpaid, table.Deadlines.Due(DateTimeOffset.MaxValue, int.MaxValue));
        Assert.Equal(unpaid.Count, table.Deadlines.Count);
        Assert.Equal(unpaid.Count == 0 ? null : unpaid[0].Deadline, table.Deadlines.Next);
    }
}
