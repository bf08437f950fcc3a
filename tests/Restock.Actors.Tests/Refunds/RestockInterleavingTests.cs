using Restock.Actors.Domain.Inventory;
using Restock.Actors.Domain.Refunds;
using Restock.Actors.Domain.Shops;
using Restock.Actors.Engine.Inventory;
using Restock.Actors.Engine.Ledger;
using Restock.Actors.Tests.Support;
using Xunit.Abstractions;

namespace Restock.Actors.Tests.Refunds;

/// <summary>
/// Seeded random interleavings of reserve, pay, ship, refunds (delivered several times, some at once), switch
/// and ERP-flag changes, ERP and manual restocks, through the whole engine. Whatever the order: no oversell, no
/// refunded unit restocked twice, and the ledger agrees with the stock.
/// </summary>
public sealed class RestockInterleavingTests(ITestOutputHelper output)
{
    private static readonly string[] Skus = ["k1", "k2", "k3"];
    private static readonly string[] Shops = ["north", "south"];
    private const long InitialStock = 25;

    [Theory]
    [InlineData(20261126)]
    [InlineData(7)]
    public async Task No_oversell_no_double_restock_and_a_ledger_that_matches_the_stock(int seed)
    {
        output.WriteLine($"seed {seed}");
        var random = new Random(seed);
        // Refunds of unpaid orders are retried, then parked: a short retry time lets the run end.
        await using var t = await TestEngine.StartAsync("restock.refunds.retry-for = 1s", "restock.refunds.longest-retry-delay = 200ms");
        var inventory = t.Engine.Inventory;
        foreach (var sku in Skus) await t.Stock(OwnerOf(sku), sku, InitialStock);

        var orders = new List<(string Order, string Sku, string Shop, long Qty)>();
        var refunds = new List<RefundRequest>();
        var erpAhead = new List<RefundRequest>();
        long reservedUnits = 0;
        var refundNo = 0;

        for (var step = 0; step < 150; step++)
        {
            var batch = Enumerable.Range(0, 1 + random.Next(4)).Select(_ => NextOperation()).ToList();
            await Task.WhenAll(batch.Select(op => op()));
        }
        foreach (var refund in erpAhead) await Submit(refund);
        foreach (var refund in refunds.DistinctBy(r => r.RefundId)) await t.Answered(refund.OrderId, refund.RefundId);

        var restocked = 0L;
        foreach (var sku in Skus)
        {
            var l = await t.Levels(sku);
            output.WriteLine($"{sku}: {l}");
            Assert.True(l.Available >= 0);
            Assert.Equal(InitialStock + l.Restocked, l.Available + l.Reserved + l.Committed + l.Shipped + l.Refunded);
            Assert.True(l.Restocked <= l.Refunded, "a refunded unit came back twice");
            restocked += l.Restocked;
        }
        Assert.True(Interlocked.Read(ref reservedUnits) <= Skus.Length * InitialStock + restocked, "oversold");

        var ledger = new List<RestockEntry>();
        foreach (var shop in Shops) ledger.AddRange(await t.AllPages(new LedgerQuery(ShopId: shop)));
        for (var wait = 0; ledger.Sum(e => e.Quantity) < restocked && wait < 100; wait++)
        {
            await Task.Delay(100);
            ledger.Clear();
            foreach (var shop in Shops) ledger.AddRange(await t.AllPages(new LedgerQuery(ShopId: shop)));
        }
        Assert.Equal(ledger.Count, ledger.Select(e => (e.RefundId, e.SkuId)).Distinct().Count());
        foreach (var sku in Skus)
            Assert.Equal((await t.Levels(sku)).Restocked, ledger.Where(e => e.SkuId == sku).Sum(e => e.Quantity));
        output.WriteLine($"{orders.Count} orders, {refunds.Count} refund deliveries, {ledger.Count} restocks in the ledger");
        return;

        Func<Task> NextOperation()
        {
            var roll = random.Next(100);
            var sku = Skus[random.Next(Skus.Length)];
            var shop = Shops[random.Next(Shops.Length)];
            if (roll < 30 || orders.Count == 0)
            {
                var order = ($"o{orders.Count}", sku, OwnerOf(sku), (long)random.Next(1, 4));
                orders.Add(order);
                return async () =>
                {
                    var reply = await inventory.Execute(order.sku, new Reserve(order.Item1, order.Item4, TestEngine.InAnHour));
                    if (reply.Outcome == SkuOutcome.Done) Interlocked.Add(ref reservedUnits, order.Item4);
                };
            }
            var (o, s, sh, q) = orders[random.Next(orders.Count)];
            if (roll < 50) return () => inventory.Execute(s, new ConfirmPayment(o));
            if (roll < 55) return () => inventory.Execute(s, new Ship(o));
            if (roll < 75)
            {
                var refund = new RefundRequest($"r{refundNo++}", o, sh, [new RefundedLine(s, random.Next(1, (int)q + 1))], DateTimeOffset.UtcNow);
                refunds.Add(refund);
                var copies = 1 + random.Next(3);
                return () => Task.WhenAll(Enumerable.Range(0, copies).Select(_ => Submit(refund)));
            }
            if (roll < 80 && refunds.Count > 0)
            {
                var again = refunds[random.Next(refunds.Count)];
                return () => Submit(again);
            }
            if (roll < 86) return () => t.Engine.Shops.Execute(shop,
                new SetAutoRestock(random.Next(2) == 0, SettingOrigin.Merchant, "merchant", "toggle", random.Next(2) == 0, DateTimeOffset.UtcNow));
            if (roll < 89) return () => t.Engine.Shops.Execute(shop, new SetErpRestocks(random.Next(2) == 0, "merchant", "toggle", DateTimeOffset.UtcNow));
            if (roll < 95)
            {
                // The ERP restocks a refund it will report later, or one the engine may already have handled.
                var ahead = new RefundRequest($"r{refundNo++}", o, sh, [new RefundedLine(s, random.Next(1, (int)q + 1))], DateTimeOffset.UtcNow);
                var target = refunds.Count > 0 && random.Next(2) == 0 ? refunds[random.Next(refunds.Count)] : ahead;
                if (target == ahead) erpAhead.Add(ahead);
                var line = target.Lines[0];
                return () => inventory.Execute(line.SkuId,
                    new RestockRefund(target.RefundId, target.OrderId, line.Quantity, RestockTrigger.Erp, target.ShopId, "erp", DateTimeOffset.UtcNow));
            }
            if (refunds.Count == 0) return () => Task.CompletedTask;
            var manual = refunds[random.Next(refunds.Count)];
            return () => inventory.Execute(manual.Lines[0].SkuId,
                new RestockRefund(manual.RefundId, null, null, RestockTrigger.Manual, manual.ShopId, "merchant", DateTimeOffset.UtcNow));
        }

        string OwnerOf(string sku) => Shops[Array.IndexOf(Skus, sku) % Shops.Length];

        async Task Submit(RefundRequest refund)
        {
            lock (refunds) if (!refunds.Contains(refund)) refunds.Add(refund);
            await t.Engine.Refunds.Submit(refund);
        }
    }
}
