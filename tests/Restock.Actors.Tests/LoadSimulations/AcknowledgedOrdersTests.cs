using Restock.Actors.LoadTests.Running;

namespace Restock.Actors.Tests.LoadSimulations;

/// <summary>The runner's acknowledged orders: every one added is read back, in order, also while adds go on.</summary>
public class AcknowledgedOrdersTests
{
    private static TrackedOrder Order(int i) => new($"o{i}", "sku", "shop", 1, DateTimeOffset.UnixEpoch);

    [Fact]
    public void Every_order_added_is_read_back_in_order_across_chunks()
    {
        var orders = new AcknowledgedOrders();
        Assert.Empty(orders);
        for (var i = 0; i < 10_000; i++) orders.Add(Order(i));

        Assert.Equal(10_000, orders.Count);
        Assert.Equal(Enumerable.Range(0, 10_000).Select(i => $"o{i}"), orders.Select(o => o.Id));
    }

    [Fact]
    public void What_was_acknowledged_by_now_leaves_out_orders_added_afterwards()
    {
        var orders = new AcknowledgedOrders();
        for (var i = 0; i < 5_000; i++) orders.Add(Order(i));
        var now = orders.Now();
        for (var i = 5_000; i < 9_000; i++) orders.Add(Order(i));

        Assert.Equal(5_000, now.Count);
        Assert.Equal(Enumerable.Range(0, 5_000).Select(i => $"o{i}"), now.Select(o => o.Id));
        Assert.Equal(9_000, orders.Count());
    }

    [Fact]
    public async Task A_read_while_orders_are_added_sees_every_order_added_before_it()
    {
        var orders = new AcknowledgedOrders();
        var adders = Enumerable.Range(0, 4).Select(a => Task.Run(() =>
        {
            for (var i = 0; i < 20_000; i++) orders.Add(Order(a * 20_000 + i));
        })).ToArray();
        while (!adders.All(t => t.IsCompleted))
        {
            var before = orders.Count;
            var read = orders.ToList();
            Assert.True(read.Count >= before, $"{read.Count} read, {before} added before");
            Assert.DoesNotContain(null, read);
        }
        await Task.WhenAll(adders);

        Assert.Equal(80_000, orders.Count);
        Assert.Equal(80_000, orders.Select(o => o.Id).Distinct().Count());
    }
}
