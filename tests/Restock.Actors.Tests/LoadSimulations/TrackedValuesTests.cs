using Restock.Actors.LoadTests.Running;

namespace Restock.Actors.Tests.LoadSimulations;

/// <summary>The runner's acknowledged orders: every one added is read back, in order, also while adds go on, and changed in place.</summary>
public class TrackedValuesTests
{
    private static TrackedOrder Order(int i) => new(i, sku: 0, shop: 0, quantity: 1, DateTimeOffset.UnixEpoch);

    [Fact]
    public void Every_order_added_is_read_back_in_order_across_chunks()
    {
        var orders = new TrackedValues<TrackedOrder>();
        Assert.Equal(0, orders.Count);
        for (var i = 0; i < 30_000; i++) Assert.Equal(i, orders.Add(Order(i)));

        Assert.Equal(30_000, orders.Count);
        Assert.Equal(Enumerable.Range(0, 30_000).Select(i => (long)i), orders.Now().Values().Select(o => o.Number));
    }

    [Fact]
    public void What_was_acknowledged_by_now_leaves_out_orders_added_afterwards()
    {
        var orders = new TrackedValues<TrackedOrder>();
        for (var i = 0; i < 5_000; i++) orders.Add(Order(i));
        var now = orders.Now();
        for (var i = 5_000; i < 9_000; i++) orders.Add(Order(i));

        Assert.Equal(5_000, now.Count);
        Assert.Equal(Enumerable.Range(0, 5_000).Select(i => (long)i), now.Values().Select(o => o.Number));
        Assert.Throws<ArgumentOutOfRangeException>(() => now[5_000]);
        Assert.Equal(9_000, orders.Now().Values().Count());
    }

    [Fact]
    public void An_order_changed_through_its_index_is_changed_where_it_is_kept()
    {
        var orders = new TrackedValues<TrackedOrder>();
        var index = orders.Add(new TrackedOrder(7, sku: 2, shop: 1, quantity: 3, DateTimeOffset.UnixEpoch));
        orders[index].MarkPaid();
        orders[index].Refunded(2);

        var kept = orders.Now().Values().Single();
        Assert.True(kept.Paid);
        Assert.Equal(2, kept.RefundedUnits);
        Assert.Equal(1, kept.HeldAt(DateTimeOffset.UtcNow));
    }

    [Fact]
    public async Task A_read_while_orders_are_added_sees_every_order_added_before_it()
    {
        var orders = new TrackedValues<TrackedOrder>();
        var adders = Enumerable.Range(0, 4).Select(a => Task.Run(() =>
        {
            for (var i = 0; i < 20_000; i++) orders.Add(Order(a * 20_000 + i + 1));
        })).ToArray();
        while (!adders.All(t => t.IsCompleted))
        {
            var before = orders.Count;
            var read = orders.Now().Values().ToList();
            Assert.True(read.Count >= before, $"{read.Count} read, {before} added before");
            // Number 0 is no order's: a slot read before its value was written.
            Assert.DoesNotContain(read, o => o.Number == 0);
        }
        await Task.WhenAll(adders);

        Assert.Equal(80_000, orders.Count);
        Assert.Equal(80_000, orders.Now().Values().Select(o => o.Number).Distinct().Count());
    }
}
