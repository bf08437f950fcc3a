using Akka.Actor;
using Akka.Persistence;
using Akka.Persistence.Query;
using Akka.Persistence.Sql.Query;
using Akka.Streams;
using Akka.Streams.Dsl;
using Restock.Actors.Domain.Inventory;
using Restock.Actors.Engine.Hosting;
using Restock.Actors.Engine.Inventory;
using Restock.Actors.Tests.Support;
using Xunit.Abstractions;

namespace Restock.Actors.Tests.Inventory;

/// <summary>
/// A group-committed write is one journal row (a batch of events); rows written before batches existed hold one event
/// each. Both recover, alone or mixed, and the restock ledger sees every restock of a batch exactly once.
/// </summary>
public sealed class SkuJournalRowTests(ITestOutputHelper output) : EngineTestKit(output, "restock.inventory.snapshot-every = 1000000")
{
    private static readonly DateTimeOffset At = DateTimeOffset.UtcNow;
    private static DateTimeOffset InAnHour => DateTimeOffset.UtcNow.AddHours(1);

    private InventorySettings Settings => InventorySettings.From(Sys.Settings.Config);

    /// <summary>Writes events the way the SKU actor stored them before batches: one journal row per event.</summary>
    private void WriteSingleEventRows(string skuId, params object[] events)
    {
        var journal = Persistence.Instance.Apply(Sys).JournalFor(null);
        var writes = events.Select((e, i) => (IPersistentEnvelope)new AtomicWrite(
            new Persistent(e, i + 1, SkuActor.PersistenceIdFor(skuId), writerGuid: "before-batches"))).ToList();
        journal.Tell(new WriteMessages(writes, TestActor, 1));
        // The journal's first write also creates its tables: give it the time a busy machine needs.
        ExpectMsg<WriteMessagesSuccessful>(TimeSpan.FromSeconds(30));
        for (var i = 0; i < events.Length; i++) ExpectMsg<WriteMessageSuccess>(TimeSpan.FromSeconds(30));
    }

    private static SkuEvent[] OldHistory =>
    [
        new SkuOwnerRecorded("shop-a"),
        new StockAdjusted("a1", 100, "delivery", At, 100),
        new StockReserved("o1", 3, At.AddHours(1), At),
        new PaymentConfirmed("o1", 3, At),
        new StockReserved("o2", 2, At.AddHours(1), At),
    ];

    /// <summary>Sends <paramref name="count"/> reservations at once, so they are decided while earlier writes are in flight.</summary>
    private void ReserveAtOnce(IActorRef sku, string skuId, int count)
    {
        for (var i = 0; i < count; i++)
            sku.Tell(new SkuRequest(skuId, new Reserve($"new-{i}", 1, InAnHour)), TestActor);
        Assert.All(ReceiveN(count, TimeSpan.FromSeconds(30)).Cast<SkuReply>(), r => Assert.Equal(SkuOutcome.Done, r.Outcome));
    }

    private async Task<IActorRef> Restart(IActorRef sku, string skuId)
    {
        Watch(sku);
        Sys.Stop(sku);
        ExpectTerminated(sku);
        var recovered = Sys.ActorOf(SkuActor.Props(skuId, Settings));
        await recovered.AskBounded<SkuReply>(new GetStock(skuId));
        return recovered;
    }

    private long Rows(string skuId, string manifest) =>
        Db.Count($"SELECT COUNT(*) FROM journal WHERE persistence_id = 'sku-{skuId}' AND manifest = '{manifest}'");

    [Fact]
    public async Task A_sku_recovers_from_rows_of_one_event_each_written_before_batches()
    {
        WriteSingleEventRows("old", OldHistory);

        var sku = Sys.ActorOf(SkuActor.Props("old", Settings));
        var stock = await sku.AskBounded<SkuReply>(new GetStock("old"));
        Assert.Equal((95L, 2L, 3L, "shop-a"), (stock.Levels.Available, stock.Levels.Reserved, stock.Levels.Committed, stock.Owner));
        Assert.Equal(SkuOutcome.AlreadyDone, (await sku.AskBounded<SkuReply>(new SkuRequest("old", new Reserve("o2", 2, InAnHour)))).Outcome);
        Assert.Equal(5, (await sku.AskBounded<JournalStats>(new GetJournalStats("old"))).EventsReplayed);
    }

    [Fact]
    public async Task A_group_committed_write_is_one_row_and_a_sku_recovers_from_such_rows()
    {
        var sku = Sys.ActorOf(SkuActor.Props("new", Settings));
        sku.Tell(new SkuRequest("new", new SetStock("a1", 100, "delivery", "shop-a")), TestActor);
        ExpectMsg<SkuReply>();
        ReserveAtOnce(sku, "new", 60);
        var stats = await sku.AskBounded<JournalStats>(new GetJournalStats("new"));

        Assert.Equal(stats.BatchesWritten, Db.Count("SELECT COUNT(*) FROM journal WHERE persistence_id = 'sku-new'"));
        Assert.True(Rows("new", "sku.event-batch.v2") > 0);
        sku = await Restart(sku, "new");
        var stock = await sku.AskBounded<SkuReply>(new GetStock("new"));
        Assert.Equal((40L, 60L, "shop-a"), (stock.Levels.Available, stock.Levels.Reserved, stock.Owner));
        Assert.Equal(62, (await sku.AskBounded<JournalStats>(new GetJournalStats("new"))).EventsReplayed);
        for (var i = 0; i < 60; i++)
            Assert.Equal(SkuOutcome.AlreadyDone, (await sku.AskBounded<SkuReply>(new SkuRequest("new", new Reserve($"new-{i}", 1, InAnHour)))).Outcome);
    }

    [Fact]
    public async Task A_sku_recovers_from_old_single_event_rows_followed_by_batch_rows()
    {
        WriteSingleEventRows("mixed", OldHistory);
        var sku = Sys.ActorOf(SkuActor.Props("mixed", Settings));
        ReserveAtOnce(sku, "mixed", 50);
        Assert.True(Rows("mixed", "sku.event-batch.v2") > 0);

        sku = await Restart(sku, "mixed");
        var stock = await sku.AskBounded<SkuReply>(new GetStock("mixed"));
        Assert.Equal((45L, 52L, 3L), (stock.Levels.Available, stock.Levels.Reserved, stock.Levels.Committed));
        Assert.Equal(55, (await sku.AskBounded<JournalStats>(new GetJournalStats("mixed"))).EventsReplayed);
        Assert.Equal(SkuOutcome.AlreadyDone, (await sku.AskBounded<SkuReply>(new SkuRequest("mixed", new Reserve("o1", 3, InAnHour)))).Outcome);
        Assert.Equal(SkuOutcome.AlreadyDone, (await sku.AskBounded<SkuReply>(new SkuRequest("mixed", new Reserve("new-49", 1, InAnHour)))).Outcome);
    }

    /// <summary>
    /// Batch rows stored as JSON (manifest "sku.event-batch", before the binary layout) recover, before and beside rows
    /// of the binary layout.
    /// </summary>
    [Fact]
    public async Task A_sku_recovers_from_json_batch_rows_followed_by_binary_batch_rows()
    {
        var at = "2026-11-26T10:00:00+00:00";
        WriteSingleEventRows("json", new SkuEventBatch(OldHistory));
        Db.Execute($$"""
            UPDATE journal SET manifest = 'sku.event-batch', message = CAST('{"events":[
              {"$manifest":"sku.owner-recorded","shopId":"shop-a"},
              {"$manifest":"sku.stock-adjusted","adjustmentId":"a1","delta":100,"reason":"delivery","at":"{{at}}","setTo":100},
              {"$manifest":"sku.stock-reserved","orderId":"o1","quantity":3,"paymentDeadline":"2026-11-26T19:00:00+08:00","at":"{{at}}"},
              {"$manifest":"sku.payment-confirmed","orderId":"o1","quantity":3,"at":"{{at}}"},
              {"$manifest":"sku.stock-reserved","orderId":"o2","quantity":2,"paymentDeadline":"2099-01-01T00:00:00+00:00","at":"{{at}}"}]}' AS BLOB)
            WHERE persistence_id = 'sku-json' AND sequence_number = 1
            """);
        var sku = Sys.ActorOf(SkuActor.Props("json", Settings));
        ReserveAtOnce(sku, "json", 50);
        Assert.Equal(1, Rows("json", "sku.event-batch"));
        Assert.True(Rows("json", "sku.event-batch.v2") > 0);

        sku = await Restart(sku, "json");
        var stock = await sku.AskBounded<SkuReply>(new GetStock("json"));
        Assert.Equal((45L, 52L, 3L, "shop-a"), (stock.Levels.Available, stock.Levels.Reserved, stock.Levels.Committed, stock.Owner));
        Assert.Equal(55, (await sku.AskBounded<JournalStats>(new GetJournalStats("json"))).EventsReplayed);
        Assert.Equal(SkuOutcome.AlreadyDone, (await sku.AskBounded<SkuReply>(new SkuRequest("json", new Reserve("o2", 2, InAnHour)))).Outcome);
        Assert.Equal(SkuOutcome.AlreadyDone, (await sku.AskBounded<SkuReply>(new SkuRequest("json", new Reserve("new-49", 1, InAnHour)))).Outcome);
    }

    [Fact]
    public async Task The_restock_ledger_and_tag_queries_see_each_restock_written_in_a_batch_exactly_once()
    {
        const int orders = 40;
        var engine = await RestockEngine.StartOnAsync(Sys).Within("the engine to start");
        var sku = Sys.ActorOf(SkuActor.Props("tent", Settings));
        sku.Tell(new SkuRequest("tent", new SetStock("a1", 100, "delivery", "shop-a")), TestActor);
        for (var i = 0; i < orders; i++)
        {
            sku.Tell(new SkuRequest("tent", new Reserve($"o{i}", 1, InAnHour)), TestActor);
            sku.Tell(new SkuRequest("tent", new ConfirmPayment($"o{i}")), TestActor);
        }
        // Refunds and manual restocks sent at once: most are decided while an earlier write is in flight, so they share rows.
        for (var i = 0; i < orders; i++)
            sku.Tell(new SkuRequest("tent", new RefundLine($"r{i}", $"o{i}", "shop-a", 1, Restock: i % 2 == 0, 1, At)), TestActor);
        for (var i = 1; i < orders; i += 2)
            sku.Tell(new SkuRequest("tent", new RestockRefund($"r{i}", null, null, RestockTrigger.Manual, "shop-a", "merchant:ann", At)), TestActor);
        Assert.All(ReceiveN(1 + 2 * orders + orders + orders / 2, TimeSpan.FromSeconds(30)).Cast<SkuReply>(),
            r => Assert.Equal(SkuOutcome.Done, r.Outcome));
        Assert.True(Db.Count("SELECT COUNT(*) FROM journal WHERE persistence_id = 'sku-tent' AND manifest = 'sku.event-batch.v2' AND tags LIKE '%restock%'") > 0,
            "no batch row holds refund events");

        var rows = await PersistenceQuery.Get(Sys).ReadJournalFor<SqlReadJournal>("akka.persistence.query.journal.sql")
            .CurrentEventsByTag(ILedgerEvent.Tag, Offset.NoOffset())
            .RunWith(Sink.Seq<EventEnvelope>(), Sys.Materializer());
        // A tagged row holds the whole write: the reservations decided in it too, which readers of the tag skip.
        var tagged = rows.SelectMany(row => SkuEventBatch.Expand(row.Event)).OfType<ILedgerEvent>().ToList();
        Assert.Equal(Enumerable.Range(0, orders).Select(i => $"r{i}").Order(), tagged.OfType<LineRefunded>().Select(e => e.RefundId).Order());
        Assert.Equal(Enumerable.Range(0, orders).Where(i => i % 2 == 1).Select(i => $"r{i}").Order(),
            tagged.OfType<RefundRestocked>().Select(e => e.RefundId).Order());

        await AwaitAssertAsync(() => Assert.Equal(orders, Db.Count("SELECT COUNT(*) FROM restock_ledger WHERE sku_id = 'tent'")),
            TimeSpan.FromSeconds(20), TimeSpan.FromMilliseconds(200));
        Assert.Equal(orders, Db.Count("SELECT COUNT(DISTINCT refund_id) FROM restock_ledger WHERE sku_id = 'tent'"));
        Assert.Equal(orders, Db.Count("SELECT SUM(quantity) FROM restock_ledger WHERE sku_id = 'tent'"));
        Assert.Equal(0, Db.Count("SELECT COUNT(*) FROM not_restocked WHERE sku_id = 'tent'"));
        Assert.Equal(orders, (await sku.AskBounded<SkuReply>(new GetStock("tent"))).Levels.Restocked);
        GC.KeepAlive(engine);
    }
}
