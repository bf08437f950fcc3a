using Akka.Actor;
using Restock.Actors.Domain.Inventory;
using Restock.Actors.Engine.Hosting;
using Restock.Actors.Engine.Inventory;
using Restock.Actors.Tests.Support;
using Xunit.Abstractions;

namespace Restock.Actors.Tests.Inventory;

public sealed class SkuActorTests(ITestOutputHelper output)
    : EngineTestKit(output, "restock.inventory.snapshot-every = 1000000")
{
    private static DateTimeOffset InAnHour => DateTimeOffset.UtcNow.AddHours(1);

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Stock_survives_a_restart_of_the_actor_system(bool withSnapshot)
    {
        var snapshotEvery = withSnapshot ? 3 : 1_000_000;
        await using (var first = await RestockEngine.StartAsync(Db.Config($"restock.inventory.snapshot-every = {snapshotEvery}")).Within("the engine to start"))
        {
            var inventory = first.Inventory;
            await inventory.Execute("mug", new SetStock("a1", 10, "delivery", "shop-a"));
            await inventory.Execute("mug", new Reserve("o1", 3, InAnHour));
            await inventory.Execute("mug", new Reserve("o2", 2, InAnHour));
            await inventory.Execute("mug", new ConfirmPayment("o1"));
            await inventory.Execute("mug", new Reserve("o3", 1, InAnHour));
            await inventory.Execute("mug", new Release("o3"));

            // Seven events in six journal rows (the owner and the first stock are one write): snapshots after the 3rd
            // event (row 2) and the 6th (row 5); the older one is deleted once the newer is saved.
            await AwaitAssertAsync(() => Assert.Equal(
                withSnapshot ? "5" : "",
                string.Join(",", Db.Snapshots.Strings("SELECT sequence_number FROM snapshot WHERE persistence_id = 'sku-mug'"))),
                TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(100));
        }

        await using var second = await RestockEngine.StartAsync(Db.Config()).Within("the engine to start");
        var stock = await second.Inventory.GetStock("mug");
        Assert.Equal(new StockLevels(Available: 5, Reserved: 2, Committed: 3, Shipped: 0, Refunded: 0, Restocked: 0), stock.Levels);
        Assert.Equal("shop-a", stock.Owner);
        Assert.Equal(RejectionCode.NotOwner, (await second.Inventory.Execute("mug", new SetStock("b1", 99, "delivery", "shop-b"))).Rejection);

        // The recovered actor still knows its open lines and the ids it has seen.
        Assert.Equal(SkuOutcome.AlreadyDone, (await second.Inventory.Execute("mug", new Reserve("o1", 3, InAnHour))).Outcome);
        Assert.Equal(SkuOutcome.Done, (await second.Inventory.Execute("mug", new Ship("o1"))).Outcome);
        Assert.Equal(SkuOutcome.AlreadyDone, (await second.Inventory.Execute("mug", new SetStock("a1", 10, "delivery", "shop-a"))).Outcome);
        Assert.Equal(5, (await second.Inventory.GetStock("mug")).Levels.Available);
    }

    [Fact]
    public async Task The_line_a_refusal_freed_from_an_erp_restock_stays_free_after_a_restart()
    {
        await using (var first = await RestockEngine.StartAsync(Db.Config()).Within("the engine to start"))
        {
            var inventory = first.Inventory;
            await inventory.Execute("vase", new SetStock("a1", 10, "delivery", "shop-a"));
            foreach (var order in new[] { "o1", "o2" })
            {
                await inventory.Execute("vase", new Reserve(order, 2, InAnHour));
                await inventory.Execute("vase", new ConfirmPayment(order));
            }
            await inventory.Execute("vase", new Ship("o2"));
            await inventory.Execute("vase", new RestockRefund("r1", "o1", 1, RestockTrigger.Erp, "shop-a", "erp", DateTimeOffset.UtcNow));
            var refused = await inventory.Execute("vase", new RefundLine("r1", "o2", "shop-a", 1, false, 1, DateTimeOffset.UtcNow));
            Assert.Equal(RejectionCode.AlreadyShipped, refused.Rejection);
        }

        // The release was stored with the refusal: the recovered SKU lets o1 ship and restocks r1 no more.
        await using var second = await RestockEngine.StartAsync(Db.Config()).Within("the engine to start");
        Assert.Equal(SkuOutcome.Done, (await second.Inventory.Execute("vase", new Ship("o1"))).Outcome);
        Assert.Equal(SkuOutcome.AlreadyDone, (await second.Inventory.Execute("vase",
            new RestockRefund("r1", "o1", 1, RestockTrigger.Erp, "shop-a", "erp", DateTimeOffset.UtcNow))).Outcome);
        Assert.Equal(new StockLevels(Available: 7, Reserved: 0, Committed: 0, Shipped: 4, Refunded: 0, Restocked: 1),
            (await second.Inventory.GetStock("vase")).Levels);
    }

    [Fact]
    public async Task A_passed_payment_deadline_releases_the_reservation()
    {
        var engine = await RestockEngine.StartOnAsync(Sys).Within("the engine to start");
        await engine.Inventory.Execute("cap", new SetStock("a1", 4, "delivery"));
        await engine.Inventory.Execute("cap", new Reserve("paid", 1, DateTimeOffset.UtcNow.AddSeconds(1)));
        await engine.Inventory.Execute("cap", new ConfirmPayment("paid"));
        var reserved = await engine.Inventory.Execute("cap", new Reserve("unpaid", 3, DateTimeOffset.UtcNow.AddSeconds(1)));
        Assert.Equal(0, reserved.Levels.Available);

        await AwaitAssertAsync(async () =>
            Assert.Equal(3, (await engine.Inventory.GetStock("cap")).Levels.Available), TimeSpan.FromSeconds(10));
        var stock = await engine.Inventory.GetStock("cap");
        Assert.Equal((0, 1), (stock.Levels.Reserved, stock.Levels.Committed));
        var late = await engine.Inventory.Execute("cap", new ConfirmPayment("unpaid"));
        Assert.Equal(RejectionCode.AlreadyReleased, late.Rejection);
    }

    [Fact]
    public async Task A_payment_deadline_that_passes_while_the_node_is_down_releases_after_restart_without_being_asked()
    {
        await using (var first = await RestockEngine.StartAsync(Db.Config()).Within("the engine to start"))
        {
            await first.Inventory.Execute("hat", new SetStock("a1", 2, "delivery"));
            await first.Inventory.Execute("hat", new Reserve("o1", 2, DateTimeOffset.UtcNow.AddSeconds(2)));
        }
        await Task.Delay(TimeSpan.FromSeconds(2));

        await using var second = await RestockEngine.StartAsync(Db.Config()).Within("the engine to start");
        // Nobody sends the SKU a message: the remembered entity restarts, recovers and releases by itself.
        await AwaitAssertAsync(() => Assert.Equal(1, Db.Count(
            "SELECT COUNT(*) FROM journal WHERE persistence_id = 'sku-hat' AND manifest = 'sku.reservation-released'")),
            TimeSpan.FromSeconds(20), TimeSpan.FromMilliseconds(200));
        Assert.Equal(2, (await second.Inventory.GetStock("hat")).Levels.Available);
    }

    [Fact]
    public async Task A_burst_of_concurrent_reservations_never_oversells_and_is_group_committed()
    {
        var engine = await RestockEngine.StartOnAsync(Sys).Within("the engine to start");
        await engine.Inventory.Execute("console", new SetStock("a1", 500, "flash sale"));

        // 40 buyers' clients each fire 50 single-unit reservations at once: 2,000 requests for 500 units.
        var buyers = Enumerable.Range(0, 40).Select(buyer => Task.Run(() => Task.WhenAll(
            Enumerable.Range(0, 50).Select(i =>
                engine.Inventory.Execute("console", new Reserve($"b{buyer}-{i}", 1, InAnHour))))));
        var replies = (await Task.WhenAll(buyers)).SelectMany(r => r).ToList();

        Assert.Equal(500, replies.Count(r => r.Outcome == SkuOutcome.Done));
        Assert.Equal(1500, replies.Count(r => r.Rejection == RejectionCode.OutOfStock));
        Assert.All(replies, r => Assert.True(r.Levels.Available >= 0));
        var stock = await engine.Inventory.GetStock("console");
        Assert.Equal((0, 500), (stock.Levels.Available, stock.Levels.Reserved));

        var stats = await engine.Inventory.GetJournalStats("console");
        Output?.WriteLine($"{stats.CommandsDecided} commands, {stats.EventsWritten} events, {stats.BatchesWritten} journal writes");
        Assert.Equal(501, stats.EventsWritten);
        Assert.True(stats.BatchesWritten * 5 <= stats.EventsWritten,
            $"{stats.BatchesWritten} journal writes for {stats.EventsWritten} events: decisions were not batched");
    }

    [Fact]
    public async Task One_write_per_command_when_batching_is_turned_off()
    {
        await using var engine = await RestockEngine.StartAsync(Db.Config("restock.inventory.max-batch-size = 1")).Within("the engine to start");
        await engine.Inventory.Execute("pen", new SetStock("a1", 100, "delivery"));
        await Task.WhenAll(Enumerable.Range(0, 100).Select(i => engine.Inventory.Execute("pen", new Reserve($"o{i}", 1, InAnHour))));

        var stats = await engine.Inventory.GetJournalStats("pen");
        Assert.Equal((101, 101), (stats.EventsWritten, stats.BatchesWritten));
        Assert.Equal(0, (await engine.Inventory.GetStock("pen")).Levels.Available);
    }

    [Fact]
    public void A_reply_waits_for_the_write_of_its_own_decision_and_every_earlier_one()
    {
        var settings = InventorySettings.From(Sys.Settings.Config);
        var sku = Sys.ActorOf(SkuActor.Props("lamp", settings));
        sku.Tell(new SkuRequest("lamp", new SetStock("a1", 1, "delivery")), TestActor);
        sku.Tell(new SkuRequest("lamp", new Reserve("o1", 1, InAnHour)), TestActor);
        sku.Tell(new SkuRequest("lamp", new Reserve("o2", 1, InAnHour)), TestActor);
        sku.Tell(new GetStock("lamp"), TestActor);

        // The order of the replies is what is asserted; the first waits for a fresh system's first journal write, which
        // under the full suite's parallel load took longer than the test kit's default 3 s once.
        Assert.Equal(SkuOutcome.Done, ExpectMsg<SkuReply>(TimeSpan.FromSeconds(15)).Outcome);
        Assert.Equal(SkuOutcome.Done, ExpectMsg<SkuReply>().Outcome);
        Assert.Equal(RejectionCode.OutOfStock, ExpectMsg<SkuReply>().Rejection);
        Assert.Equal(1, ExpectMsg<SkuReply>().Levels.Reserved);
        Assert.Equal(2, Db.Count("SELECT COUNT(*) FROM journal WHERE persistence_id = 'sku-lamp'"));
    }

    [Fact]
    public async Task The_sqlite_journal_runs_in_wal_mode_with_full_synchronous_commits()
    {
        // A file of its own: this test kit's file is already prepared.
        await using var t = await TestEngine.StartAsync();
        Assert.Equal(["wal"], t.Database.Strings("PRAGMA journal_mode"));
        // 2 = FULL: a commit is on disk before the journal confirms it, so an acknowledged decision survives a power cut.
        Assert.Equal(["2"], t.Database.Strings("PRAGMA synchronous"));
    }
    [Fact]
    public async Task Fifty_thousand_reservations_overdue_after_a_restart_are_released_in_bounded_writes()
    {
        const int lines = 50_000;
        var settings = InventorySettings.From(Sys.Settings.Config);
        var clock = new TestClock(DateTimeOffset.UtcNow);
        var first = Sys.ActorOf(SkuActor.Props("sale", settings, clock));
        first.Tell(new SkuRequest("sale", new SetStock("a1", lines, "delivery")), TestActor);
        ExpectMsg<SkuReply>();
        var deadline = clock.GetUtcNow().AddMinutes(15);
        for (var i = 0; i < lines; i++)
            first.Tell(new SkuRequest("sale", new Reserve($"o{i}", 1, deadline.AddTicks(i))), TestActor);
        var replies = ReceiveN(lines, TimeSpan.FromSeconds(60)).Cast<SkuReply>().ToList();
        Assert.All(replies, r => Assert.Equal(SkuOutcome.Done, r.Outcome));
        Watch(first);
        Sys.Stop(first);
        ExpectTerminated(first);

        // The deadlines pass while the SKU is down (however long the reservations took to write); on recovery
        // it releases them, at most 1,000 per write.
        clock.Set(deadline.AddHours(1));
        var second = Sys.ActorOf(SkuActor.Props("sale", settings with { MaxBatchSize = 1_000 }, clock));
        await AwaitAssertAsync(async () => Assert.Equal(0, (await second.AskBounded<SkuReply>(new GetStock("sale"))).Levels.Reserved),
            TimeSpan.FromSeconds(60), TimeSpan.FromMilliseconds(500));

        var stats = await second.AskBounded<JournalStats>(new GetJournalStats("sale"));
        // On a busy machine the first deadlines can pass before the first actor stops: it released those itself.
        var releasedBeforeStop = stats.EventsReplayed - 1 - lines;
        Output?.WriteLine($"{stats.EventsWritten} events in {stats.BatchesWritten} writes, the largest {stats.LargestBatch}; " +
                          $"{releasedBeforeStop} released before the stop");
        Assert.InRange(releasedBeforeStop, 0, lines - 1);
        Assert.Equal(lines - releasedBeforeStop, stats.EventsWritten);
        Assert.InRange(stats.LargestBatch, 1, 1_000);
        Assert.Equal(lines, (await second.AskBounded<SkuReply>(new GetStock("sale"))).Levels.Available);
    }

    [Fact]
    public async Task A_sku_under_continuous_load_takes_snapshots_and_a_crash_replays_at_most_one_interval()
    {
        const int orders = 10_000;
        // Ids are forgotten at once, so the state stays small and the interval is snapshot-every.
        var settings = InventorySettings.From(Sys.Settings.Config) with
        {
            MaxBatchSize = 200, SnapshotEvery = 1_000, RememberIdsFor = TimeSpan.FromMilliseconds(1),
        };
        var sku = Sys.ActorOf(SkuActor.Props("busy", settings));
        var buyers = CreateTestProbe();
        sku.Tell(new SkuRequest("busy", new SetStock("a1", 10, "delivery")), buyers);
        // All sent at once: the SKU's queue of decisions waiting for the journal is never empty until the crash.
        for (var i = 0; i < orders; i++)
        {
            sku.Tell(new SkuRequest("busy", new Reserve($"o{i}", 1, InAnHour)), buyers);
            sku.Tell(new SkuRequest("busy", new Release($"o{i}")), buyers);
        }
        buyers.ReceiveN(1 + orders, TimeSpan.FromSeconds(60));
        Watch(sku);
        Sys.Stop(sku); // a system message: it overtakes the commands still queued, like a crash between two writes
        ExpectTerminated(sku);

        // A write in flight when the actor stopped may still land: wait until the journal stops growing.
        long journalEnd = 0, previous;
        do
        {
            previous = journalEnd;
            await Task.Delay(500);
            journalEnd = Db.Count("SELECT MAX(sequence_number) FROM journal WHERE persistence_id = 'sku-busy'");
        }
        while (journalEnd != previous);
        Assert.True(Db.Snapshots.Count("SELECT COALESCE(MAX(sequence_number), 0) FROM snapshot WHERE persistence_id = 'sku-busy'") > 0);

        var recovered = Sys.ActorOf(SkuActor.Props("busy", settings));
        var stock = await recovered.AskBounded<SkuReply>(new GetStock("busy"));
        var stats = await recovered.AskBounded<JournalStats>(new GetJournalStats("busy"));
        Output?.WriteLine($"journal ends at row {journalEnd}, recovered from the snapshot at row {stats.LastSnapshotAt} and {stats.EventsReplayed} events");
        // At most one interval (snapshot-every) plus the write that crossed it.
        Assert.InRange(stats.EventsReplayed, 0, 1_000 + 200);
        Assert.Equal(10, stock.Levels.Available + stock.Levels.Reserved);
        Assert.InRange(stock.Levels.Reserved, 0, 1);
    }

    [Fact]
    public async Task A_crash_of_a_growing_sku_under_continuous_load_replays_at_most_one_interval_and_loses_nothing_acknowledged()
    {
        const int sent = 20_000;
        var settings = InventorySettings.From(Sys.Settings.Config) with { MaxBatchSize = 200, SnapshotEvery = 1_000 };
        var sku = Sys.ActorOf(SkuActor.Props("busy", settings));
        var buyers = CreateTestProbe();
        sku.Tell(new SkuRequest("busy", new SetStock("a1", sent, "delivery")), buyers);
        // All sent at once: the SKU's queue of decisions waiting for the journal is never empty until the crash.
        for (var i = 0; i < sent; i++)
            sku.Tell(new SkuRequest("busy", new Reserve($"o{i}", 1, InAnHour)), buyers);
        var acknowledged = buyers.ReceiveN(1 + sent / 2, TimeSpan.FromSeconds(60)).Cast<SkuReply>().ToList();
        Watch(sku);
        Sys.Stop(sku); // a system message: it overtakes the commands still queued, like a crash between two writes
        ExpectTerminated(sku);

        // A write in flight when the actor stopped may still land: wait until the journal stops growing.
        long journalEnd = 0, previous;
        do
        {
            previous = journalEnd;
            await Task.Delay(500);
            journalEnd = Db.Count("SELECT MAX(sequence_number) FROM journal WHERE persistence_id = 'sku-busy'");
        }
        while (journalEnd != previous);
        Assert.True(Db.Snapshots.Count("SELECT COALESCE(MAX(sequence_number), 0) FROM snapshot WHERE persistence_id = 'sku-busy'") > 0);

        var recovered = Sys.ActorOf(SkuActor.Props("busy", settings));
        var stock = await recovered.AskBounded<SkuReply>(new GetStock("busy"));
        var stats = await recovered.AskBounded<JournalStats>(new GetJournalStats("busy"));
        Output?.WriteLine($"journal ends at row {journalEnd}, recovered from the snapshot at row {stats.LastSnapshotAt} and {stats.EventsReplayed} events");
        // The state grows by one entry per event here, so each interval is the size of the snapshot before it:
        // at most half of all events, plus the write that crossed it.
        Assert.InRange(stats.EventsReplayed, 0, stats.LastSnapshotAt == 0 ? 0 : stock.Levels.Reserved / 2 + 200);
        Assert.Equal(sent, stock.Levels.Available + stock.Levels.Reserved);
        Assert.InRange(stock.Levels.Reserved, acknowledged.Count - 1, sent);
        Assert.All(acknowledged, r => Assert.Equal(SkuOutcome.Done, r.Outcome));
        for (var i = 0; i < acknowledged.Count - 1; i++)
            Assert.Equal(SkuOutcome.AlreadyDone, (await recovered.AskBounded<SkuReply>(new SkuRequest("busy", new Reserve($"o{i}", 1, InAnHour)))).Outcome);
    }
}
