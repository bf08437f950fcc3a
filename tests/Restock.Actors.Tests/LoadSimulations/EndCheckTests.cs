using Restock.Actors.LoadTests.Running;
using Restock.Actors.LoadTests.Scenarios;
using Restock.Actors.LoadTests.Targets;

namespace Restock.Actors.Tests.LoadSimulations;

/// <summary>
/// The runner's end checks against an engine that breaks them on purpose: a unit sold beyond the stock and an acknowledged
/// reservation forgotten are reported, and an engine that keeps its word is not blamed.
/// </summary>
public class EndCheckTests
{
    private static readonly Scenario Sale = Catalog.Find("promo-mix")! with
    {
        Skus = 3,
        Shops = 2,
        StockPerSku = 1_000,
        MaxQuantity = 2,
        Mix = new OperationMix(Reserve: 50, Pay: 20, Cancel: 10, Ship: 10, Refund: 10),
        RefundCopies = 2,
    };

    private static async Task<IReadOnlyList<InvariantResult>> RunAsync(Scenario scenario, FakeEngine engine, int steps)
    {
        var workload = new Workload(scenario, engine, new Metrics());
        await workload.SetUpAsync();
        var random = new Random(5);
        for (var i = 0; i < steps; i++) await workload.StepAsync(random);
        return await Invariants.CheckAsync(engine, workload, scenario, seed: 1, _ => { });
    }

    private static long Violations(IReadOnlyList<InvariantResult> results, string name) => results.Single(r => r.Name == name).Violations;

    [Fact]
    public async Task An_engine_that_keeps_every_acknowledged_change_passes_every_check()
    {
        var engine = new FakeEngine();
        var results = await RunAsync(Sale, engine, 2_000);

        Assert.All(results, r => Assert.True(r.Held, $"{r.Name}: {r.Violations}"));
        // Every order the runner re-sent is one it had sent: the ids it keeps as numbers come back as the same strings.
        Assert.True(engine.Repeats > 0);
        Assert.True(engine.Refunds.Count > 0 && engine.Paid.Count > 0);
    }

    [Fact]
    public async Task Units_acknowledged_beyond_the_stock_are_reported_as_oversold()
    {
        // Every reserve of one unit acknowledged, 8 of them on a SKU of 5 units.
        var scenario = Sale with { Skus = 1, Shops = 1, StockPerSku = 5, MaxQuantity = 1, Mix = new OperationMix(Reserve: 1) };
        var results = await RunAsync(scenario, new FakeEngine(), 8);

        Assert.Equal(3, Violations(results, "oversold"));
        Assert.Equal(0, Violations(results, "lost-acks"));
    }

    [Fact]
    public async Task Units_paid_then_cancelled_or_refunded_no_longer_count_as_held()
    {
        var scenario = Sale with { Skus = 1, Shops = 1, StockPerSku = 5, MaxQuantity = 1, Mix = new OperationMix(Reserve: 1) };
        var engine = new FakeEngine();
        var workload = new Workload(scenario, engine, new Metrics());
        await workload.SetUpAsync();
        var random = new Random(5);
        for (var i = 0; i < 8; i++) await workload.StepAsync(random);
        workload.Acknowledged[0].MarkCancelled();
        workload.Acknowledged[1].MarkUncertain();
        workload.Acknowledged[2].MarkPaid();
        workload.Acknowledged[2].Refunded(1);

        var results = await Invariants.CheckAsync(engine, workload, scenario, seed: 1, _ => { });
        Assert.Equal(0, Violations(results, "oversold"));
    }

    [Fact]
    public async Task An_acknowledged_reservation_the_engine_no_longer_knows_is_reported_as_lost()
    {
        var engine = new FakeEngine { ForgetOne = true };
        var results = await RunAsync(Sale, engine, 500);

        Assert.Equal(1, Violations(results, "lost-acks"));
        Assert.Equal(0, Violations(results, "oversold"));
    }

    [Fact]
    public async Task In_a_long_run_a_seeded_sample_of_acknowledged_reservations_is_checked()
    {
        var scenario = Sale with { Skus = 1, Shops = 1, StockPerSku = 1_000_000, MaxQuantity = 1, Mix = new OperationMix(Reserve: 1) };
        var workload = new Workload(scenario, new FakeEngine(), new Metrics());
        for (var i = 1; i <= Invariants.MaxAckChecks + 5_000; i++)
            workload.Acknowledged.Add(new TrackedOrder(i, sku: 0, shop: 0, quantity: 1, DateTimeOffset.UtcNow));

        var sample = Invariants.AckSample(workload, seed: 3);
        Assert.Equal(Invariants.MaxAckChecks, sample.Select(o => o.Number).Distinct().Count());
        Assert.Equal(sample.Select(o => o.Number), Invariants.AckSample(workload, seed: 3).Select(o => o.Number));
        Assert.Contains(sample, o => o.Number > Invariants.MaxAckChecks);
    }

    [Fact]
    public async Task Each_refund_is_sent_for_the_paid_order_it_credits_on_that_order_s_sku_and_shop()
    {
        // The oversold check counts an order's refunded units off its held units: a refund credited to another order than
        // the one the engine refunded would hide units sold beyond the stock.
        var engine = new FakeEngine();
        var workload = new Workload(Sale, engine, new Metrics());
        await workload.SetUpAsync();
        var random = new Random(5);
        for (var i = 0; i < 2_000; i++) await workload.StepAsync(random);

        Assert.NotEmpty(engine.RefundsSent);
        var credited = 0;
        for (var i = 0; i < workload.Acknowledged.Count; i++)
        {
            var order = workload.Acknowledged[i];
            var orderId = workload.OrderId(order.Number);
            var sent = engine.RefundsSent.Where(r => r.Order == orderId).ToList();
            if (order.RefundedUnits == 0)
            {
                Assert.Empty(sent);
                continue;
            }
            credited++;
            Assert.Equal(Sale.RefundCopies, sent.Count);
            Assert.All(sent, r =>
            {
                Assert.Equal(workload.RefundId(order.Number), r.RefundId);
                Assert.Equal(workload.Skus[order.Sku], r.Sku);
                Assert.Equal(workload.Shops[order.Shop], r.Shop);
                Assert.Equal(engine.ShopOf[r.Sku], r.Shop);
                Assert.Equal(order.RefundedUnits, r.Quantity);
                Assert.True(r.Quantity <= engine.ReservedQuantity(orderId));
                Assert.Contains(orderId, engine.Paid);
            });
        }
        Assert.Equal(engine.RefundsSent.Select(r => r.Order).Distinct().Count(), credited);
    }
}
