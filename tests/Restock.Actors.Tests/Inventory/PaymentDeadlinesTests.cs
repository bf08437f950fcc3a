using Restock.Actors.Domain.Inventory;

namespace Restock.Actors.Tests.Inventory;

/// <summary>
/// Payment deadlines are kept in a heap that leaves the entries of paid and released lines behind: expiry must still
/// release exactly the unpaid lines that are due, earliest first, each once.
/// </summary>
public sealed class PaymentDeadlinesTests
{
    private static readonly DateTimeOffset Start = SkuStockPropertyTests.Start;

    private static SkuState Run(SkuState state, SkuCommand command) => SkuStock.Decide(state, command with { ReceivedAt = state.Remembered.Clock > Start ? state.Remembered.Clock : Start }) switch
    {
        Accepted a => SkuStock.ApplyAll(state, a.Events),
        Rejected r => throw new InvalidOperationException($"{command} was rejected: {r}"),
        _ => state,
    };

    private static List<string> DueOrders(SkuState state, DateTimeOffset now) =>
        state.OpenLines.Values.Where(l => l.Status == LineStatus.Reserved && l.PaymentDeadline <= now)
            .Select(l => new PaymentDue(l.PaymentDeadline, l.OrderId)).Order(PaymentDue.Order).Select(d => d.OrderId).ToList();

    [Fact]
    public void Expiry_releases_only_unpaid_lines_earliest_first_after_thousands_were_paid_or_cancelled()
    {
        var random = new Random(7);
        var state = Run(SkuState.Empty(), new SetStock("a1", 10_000, "count"));
        // Deadlines mostly increasing, some out of order, several lines sharing one.
        var orders = Enumerable.Range(0, 6_000).Select(i => (Id: $"o{i:D5}", Deadline: Start.AddSeconds(i / 3 + (random.Next(10) == 0 ? -random.Next(600) : 0) + 600))).ToList();
        foreach (var (id, deadline) in orders) state = Run(state, new Reserve(id, 1, deadline));
        foreach (var (id, _) in orders.Where((_, i) => i % 3 != 0).OrderBy(_ => random.Next()))
            state = Run(state, random.Next(4) == 0 ? new Release(id) : new ConfirmPayment(id));

        var released = new List<string>();
        for (var now = Start.AddSeconds(600); now <= Start.AddSeconds(3_000); now = now.AddSeconds(150))
        {
            var expected = DueOrders(state, now).Take(100).ToList();
            var decision = SkuStock.Decide(state, new ExpireReservations(now, 100) { ReceivedAt = now });
            var events = SkuStockPropertyTests.Stored(decision);
            Assert.Equal(expected, events.Cast<ReservationReleased>().Select(e => e.OrderId).ToList());
            released.AddRange(expected);
            state = SkuStock.ApplyAll(state, events);
            SkuStockPropertyTests.AssertInvariants(state);
        }
        Assert.Equal(released.Count, released.Distinct().Count());
        Assert.Equal(DueOrders(state, DateTimeOffset.MaxValue).Count, state.Levels.Reserved);
    }

    [Fact]
    public void An_order_id_reserved_again_once_forgotten_with_the_same_deadline_expires_once()
    {
        var deadline = Start.AddHours(5);
        var state = Run(SkuState.Empty(TimeSpan.FromHours(1)), new SetStock("a1", 10, "count"));
        state = Run(state, new Reserve("early", 1, Start.AddHours(4)));
        state = Run(state, new Reserve("o1", 1, deadline));
        state = Run(state, new Release("o1")); // its entry stays behind "early"'s in the heap
        state = SkuStock.Apply(state, new StockAdjusted("a2", 1, "count", Start.AddHours(2))); // o1 is forgotten
        Assert.Equal("new", SkuOutcome(SkuStock.Decide(state, new Reserve("o1", 1, deadline))));
        state = Run(state, new Reserve("o1", 1, deadline));

        var events = SkuStockPropertyTests.Stored(SkuStock.Decide(state, new ExpireReservations(deadline) { ReceivedAt = deadline }));
        Assert.Equal(["early", "o1"], events.Cast<ReservationReleased>().Select(e => e.OrderId));
        state = SkuStock.ApplyAll(state, events);
        Assert.Null(state.NextPaymentDeadline());
        Assert.Equal(new StockLevels(11, 0, 0, 0, 0, 0), state.Levels);
    }

    private static string SkuOutcome(Decision decision) => decision is Accepted { Events.Count: > 0 } ? "new" : decision.ToString()!;
}
