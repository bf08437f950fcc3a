using Akka.Actor;
using Akka.Event;
using Restock.Actors.Domain.Inventory;
using Restock.Actors.Engine.Ledger;
using Restock.Actors.Tests.Support;

namespace Restock.Actors.Tests.Ledger;

public sealed class RestockLedgerTests
{
    [Fact]
    public async Task A_restock_the_projection_skipped_is_found_by_the_reconciliation_and_written_once()
    {
        await using var t = await TestEngine.StartAsync("restock.ledger.reconcile-every = 0s");
        await t.Switch("shop", true);
        await t.Stock("shop", "a", 10);
        await t.PaidOrder("a", "o1", 2);
        await t.Refund("shop", "o1", "r1", ("a", 1));
        await t.PaidOrder("a", "o2", 2);
        await t.Refund("shop", "o2", "r2", ("a", 2));
        Assert.Equal(2, (await t.Ledger(new LedgerQuery(SkuId: "a"), 2)).Count);

        // What a journal gap the projection gave up on leaves behind: a restock in the journal, none in the ledger.
        t.Database.Execute("DELETE FROM restock_ledger WHERE refund_id = 'r1'");
        var first = await t.Engine.ReconcileLedgerAsync(TimeSpan.FromSeconds(20));
        var repaired = Assert.Single(first.Repaired);
        Assert.Equal(("r1", "a"), (((LineRefunded)repaired.Event).RefundId, repaired.SkuId));
        var entries = await t.AllPages(new LedgerQuery(SkuId: "a"));
        Assert.Equal(["r1", "r2"], entries.Select(e => e.RefundId).Order());
        Assert.Equal(1, entries.Single(e => e.RefundId == "r1").Quantity);

        var second = await t.Engine.ReconcileLedgerAsync(TimeSpan.FromSeconds(20));
        Assert.Empty(second.Repaired);
        Assert.Equal(2, (await t.AllPages(new LedgerQuery(SkuId: "a"))).Count);
    }

    [Fact]
    public async Task Every_restock_lands_once_even_when_the_projection_stops_mid_stream_and_searches_page_without_gaps()
    {
        // The projection is run by hand here, with tiny batches, so it can be stopped between two of them.
        await using var t = await TestEngine.StartAsync("restock.ledger.projection = off", "restock.ledger.batch-size = 3");
        var system = t.Engine.System;
        var settings = LedgerSettings.From(system.Settings.Config);
        await t.Switch("shop", true);
        await t.Stock("shop", "a", 100);
        await t.Stock("shop", "b", 100);

        async Task RefundOrders(int from, int to)
        {
            for (var i = from; i < to; i++)
            {
                var sku = i % 3 == 0 ? "b" : "a";
                await t.PaidOrder(sku, $"o{i}", 2);
                await t.Refund("shop", $"o{i}", $"r{i}", (sku, 1 + i % 2));
            }
        }

        await RefundOrders(0, 20);
        var projection = system.ActorOf(LedgerProjection.Props(t.Engine.Ledger, settings));
        await t.Ledger(new LedgerQuery(ShopId: "shop"), 6);
        system.Stop(projection);
        await RefundOrders(20, 40);
        system.ActorOf(LedgerProjection.Props(t.Engine.Ledger, settings));

        var all = await t.Ledger(new LedgerQuery(ShopId: "shop", Limit: 7), 40);
        Assert.Equal(40, all.Count);
        Assert.Equal(40, all.Select(e => (e.RefundId, e.SkuId)).Distinct().Count());
        Assert.Equal(all.Select(e => e.LedgerId).OrderByDescending(id => id), all.Select(e => e.LedgerId));

        foreach (var sku in new[] { "a", "b" })
        {
            var bySku = await t.AllPages(new LedgerQuery(SkuId: sku, Limit: 4));
            Assert.Equal(all.Where(e => e.SkuId == sku).Select(e => e.LedgerId), bySku.Select(e => e.LedgerId));
            Assert.Equal((await t.Levels(sku)).Restocked, bySku.Sum(e => e.Quantity));
            Assert.All(bySku, e => Assert.Equal(e.StockBefore + e.Quantity, e.StockAfter));
        }

        var byOrder = await t.AllPages(new LedgerQuery(OrderId: "o7"));
        var entry = Assert.Single(byOrder);
        Assert.Equal(("r7", "a", 2L, RestockTrigger.Auto), (entry.RefundId, entry.SkuId, entry.Quantity, entry.Trigger));

        var window = await t.AllPages(new LedgerQuery(ShopId: "shop", From: entry.At, To: entry.At.AddMilliseconds(1)));
        Assert.Contains(window, e => e.LedgerId == entry.LedgerId);
        Assert.Empty(await t.AllPages(new LedgerQuery(ShopId: "other-shop")));
    }

    [Fact]
    public async Task A_restarted_projection_resumes_near_the_journals_end_when_no_refund_was_written_since_and_misses_nothing_after()
    {
        // The projection is run by hand here, so it can be stopped and started again on the same journal.
        await using var t = await TestEngine.StartAsync("restock.ledger.projection = off", "restock.ledger.batch-size = 3");
        var system = t.Engine.System;
        var settings = LedgerSettings.From(system.Settings.Config);
        await t.Switch("shop", true);
        await t.Stock("shop", "a", 100);
        var projection = system.ActorOf(LedgerProjection.Props(t.Engine.Ledger, settings));
        for (var i = 0; i < 10; i++)
            await t.PaidOrder("a", $"o{i}", 1);

        // Journal rows without a refund (no ledger or needs-attention event) are read once: the offsets stored let a restart
        // begin at most a batch (3 rows) before the journal's end, not at its start.
        var end = t.Database.Count("SELECT MAX(ordering) FROM journal");
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (await t.Engine.Ledger.ReadOffsetAsync(LedgerProjection.ReadPastName) < end - settings.BatchSize)
        {
            Assert.True(DateTime.UtcNow < deadline, $"no stored offset came within {settings.BatchSize} rows of the journal's end ({end})");
            await Task.Delay(50);
        }
        Assert.True(await projection.GracefulStop(TimeSpan.FromSeconds(20)));

        await t.Refund("shop", "o3", "r3", ("a", 1));
        var logs = Inbox.Create(system);
        system.EventStream.Subscribe(logs.Receiver, typeof(Info));
        system.ActorOf(LedgerProjection.Props(t.Engine.Ledger, settings));
        Assert.True(ResumedAfter(logs) >= end - settings.BatchSize, "the restarted projection began reading near the journal's start");
        var entry = Assert.Single(await t.Ledger(new LedgerQuery(SkuId: "a"), 1));
        Assert.Equal(("o3", "r3", 1L), (entry.OrderId, entry.RefundId, entry.Quantity));
    }

    /// <summary>The journal offset a starting projection logs it resumes after.</summary>
    private static long ResumedAfter(Inbox logs)
    {
        const string starts = "Restock ledger projection starts after journal offset ";
        while (true)
        {
            var text = ((Info)logs.Receive(TimeSpan.FromSeconds(20))).Message.ToString()!;
            if (text.StartsWith(starts, StringComparison.Ordinal))
                return long.Parse(text[starts.Length..text.IndexOf(',', starts.Length)]);
        }
    }
}
