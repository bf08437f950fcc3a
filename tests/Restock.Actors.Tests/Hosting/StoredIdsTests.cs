using Akka.Actor;
using Akka.Configuration;
using Restock.Actors.Domain.Inventory;
using Restock.Actors.Engine.Hosting;
using Restock.Actors.Engine.Inventory;
using Restock.Actors.Tests.Support;

namespace Restock.Actors.Tests.Hosting;

/// <summary>
/// On SQLite the journal and the snapshot store know which persistence ids have rows, so a SKU never stored recovers
/// without a read. A SKU with rows must never be taken for a new one: not after a restart, not after it first wrote.
/// </summary>
public sealed class StoredIdsTests
{
    private static DateTimeOffset InAnHour => DateTimeOffset.UtcNow.AddHours(1);

    private static async Task WaitUntil(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException(what);
            await Task.Delay(20);
        }
    }

    [Fact]
    public async Task An_id_may_have_rows_until_the_ids_are_read_then_only_when_read_or_written()
    {
        var system = ActorSystem.Create("stored-ids");
        try
        {
            var read = new TaskCompletionSource<List<string>>();
            var ids = StoredIds.For(system, "table", _ => read.Task);
            ids.Writing("sku-written-while-reading");

            Assert.True(ids.MayHaveRows("sku-never-stored", CancellationToken.None));
            Assert.True(ids.MayHaveRows("sku-never-stored", CancellationToken.None));
            read.SetResult(["sku-stored", "sku-stored"]);
            await WaitUntil(() => ids.Ready, "the ids were not read");

            Assert.True(ids.MayHaveRows("sku-stored", CancellationToken.None));
            Assert.True(ids.MayHaveRows("sku-written-while-reading", CancellationToken.None));
            Assert.False(ids.MayHaveRows("sku-never-stored", CancellationToken.None));
            ids.Writing("sku-never-stored");
            Assert.True(ids.MayHaveRows("sku-never-stored", CancellationToken.None));
            Assert.Same(ids, StoredIds.For(system, "table", _ => throw new InvalidOperationException("read twice")));
        }
        finally
        {
            await system.Terminate();
        }
    }

    [Fact]
    public async Task An_id_may_have_rows_while_the_ids_cannot_be_read()
    {
        var system = ActorSystem.Create("stored-ids");
        try
        {
            var reads = 0;
            var ids = StoredIds.For(system, "table", _ =>
            {
                Interlocked.Increment(ref reads);
                return Task.FromException<List<string>>(new InvalidOperationException("no such table"));
            });

            Assert.True(ids.MayHaveRows("sku-a", CancellationToken.None));
            await WaitUntil(() => Volatile.Read(ref reads) == 1, "the ids were not asked for");
            await Task.Delay(100);
            Assert.True(ids.MayHaveRows("sku-a", CancellationToken.None));
            Assert.False(ids.Ready);
        }
        finally
        {
            await system.Terminate();
        }
    }

    [Fact]
    public void Only_a_sqlite_store_in_a_cluster_of_one_keeps_its_ids()
    {
        var on = ConfigurationFactory.ParseString("stored-ids-in-memory = on");
        var alone = ConfigurationFactory.ParseString("akka.cluster.seed-nodes = []");
        var withSeeds = ConfigurationFactory.ParseString("akka.cluster.seed-nodes = [\"akka.tcp://restock@10.0.0.5:4053\"]");

        Assert.True(BatchingJournal.StoredIdsKept(on, "SQLite.MS", alone));
        Assert.False(BatchingJournal.StoredIdsKept(on, "SQLite.MS", withSeeds));
        Assert.False(BatchingJournal.StoredIdsKept(on, "PostgreSQL.15", alone));
        Assert.False(BatchingJournal.StoredIdsKept(ConfigurationFactory.ParseString("stored-ids-in-memory = off"), "SQLite.MS", alone));
    }

    [Theory]
    [InlineData("on")]
    [InlineData("off")]
    public async Task Skus_stored_before_a_restart_recover_all_they_wrote_and_a_new_one_keeps_its_first_writes(string storedIds)
    {
        using var db = new TestDatabase();
        string[] overrides =
        [
            $"akka.persistence.journal.sql.stored-ids-in-memory = {storedIds}",
            $"akka.persistence.snapshot-store.sql.stored-ids-in-memory = {storedIds}",
            "restock.inventory.snapshot-every = 5",
        ];

        var first = ActorSystem.Create("restock", db.Config(overrides));
        try
        {
            var mug = Sku(first, "mug");
            await Done(mug, "mug", new SetStock("a1", 7, "delivery", "shop-a"));
            var jar = Sku(first, "jar");
            await Done(jar, "jar", new SetStock("a1", 100, "delivery", "shop-a"));
            for (var i = 0; i < 10; i++)
                await Done(jar, "jar", new Reserve($"o{i}", 1, InAnHour));
            await WaitUntil(() => db.Snapshots.Count("SELECT COUNT(*) FROM snapshot WHERE persistence_id = 'sku-jar'") > 0, "jar took no snapshot");
            await mug.GracefulStop(TimeSpan.FromSeconds(20), StopEntity.Instance);
            await jar.GracefulStop(TimeSpan.FromSeconds(20), StopEntity.Instance);
        }
        finally
        {
            await first.Terminate();
        }

        var second = ActorSystem.Create("restock", db.Config(overrides));
        try
        {
            // The stores read the ids when a recovery first asks; with them read, only ids never stored skip the reads.
            await Sku(second, "warm-up").AskBounded<SkuReply>(new GetStock("warm-up"), TimeSpan.FromSeconds(20));
            if (storedIds == "on") await WaitUntil(() => StoredIds.AllRead(second), "the stores did not read their ids");

            var mug = await Sku(second, "mug").AskBounded<SkuReply>(new GetStock("mug"), TimeSpan.FromSeconds(20));
            Assert.Equal((7L, "shop-a"), (mug.Levels.Available, mug.Owner));
            var jar = Sku(second, "jar");
            var jarStock = await jar.AskBounded<SkuReply>(new GetStock("jar"), TimeSpan.FromSeconds(20));
            Assert.Equal((90L, 10L), (jarStock.Levels.Available, jarStock.Levels.Reserved));
            Assert.True((await jar.AskBounded<JournalStats>(new GetJournalStats("jar"), TimeSpan.FromSeconds(20))).LastSnapshotAt > 0,
                "jar did not recover from its snapshot");
            Assert.Equal(SkuOutcome.AlreadyDone, (await jar.AskBounded<SkuReply>(new SkuRequest("jar", new Reserve("o3", 1, InAnHour)), TimeSpan.FromSeconds(20))).Outcome);

            var pen = Sku(second, "pen");
            var fresh = await pen.AskBounded<SkuReply>(new GetStock("pen"), TimeSpan.FromSeconds(20));
            Assert.Equal((0L, null), (fresh.Levels.Available, fresh.Owner));
            await Done(pen, "pen", new SetStock("a1", 3, "delivery", "shop-a"));
            await pen.GracefulStop(TimeSpan.FromSeconds(20), StopEntity.Instance);
            var again = await Sku(second, "pen").AskBounded<SkuReply>(new GetStock("pen"), TimeSpan.FromSeconds(20));
            Assert.Equal((3L, "shop-a"), (again.Levels.Available, again.Owner));
        }
        finally
        {
            await second.Terminate();
        }
    }

    [Fact]
    public async Task A_sku_written_by_another_node_of_the_cluster_on_the_same_file_is_not_taken_for_a_new_one()
    {
        using var db = new TestDatabase();
        var first = ActorSystem.Create("restock", db.Config());
        var second = ActorSystem.Create("restock", db.Config());
        try
        {
            // The first node has read its ids (the file is empty) before the second one joins and stores a SKU.
            await Sku(first, "warm-up").AskBounded<SkuReply>(new GetStock("warm-up"), TimeSpan.FromSeconds(20));
            await WaitUntil(() => StoredIds.AllRead(first), "the stores did not read their ids");
            await Akka.Cluster.Cluster.Get(first).JoinAsync(Akka.Cluster.Cluster.Get(first).SelfAddress);
            await Akka.Cluster.Cluster.Get(second).JoinAsync(Akka.Cluster.Cluster.Get(first).SelfAddress);

            var mug = Sku(second, "mug");
            await Done(mug, "mug", new SetStock("a1", 7, "delivery", "shop-a"));
            await mug.GracefulStop(TimeSpan.FromSeconds(20), StopEntity.Instance);
            await second.Terminate();

            // The SKU moved back (a handoff, the other node lost): the first node must recover what the other one wrote.
            var moved = await Sku(first, "mug").AskBounded<SkuReply>(new GetStock("mug"), TimeSpan.FromSeconds(20));
            Assert.Equal((7L, "shop-a"), (moved.Levels.Available, moved.Owner));
        }
        finally
        {
            await Task.WhenAll(first.Terminate(), second.Terminate());
        }
    }

    private static IActorRef Sku(ActorSystem system, string sku) =>
        system.ActorOf(SkuActor.Props(sku, InventorySettings.From(system.Settings.Config)));

    private static async Task Done(IActorRef actor, string sku, SkuCommand command) =>
        Assert.Equal(SkuOutcome.Done, (await actor.AskBounded<SkuReply>(new SkuRequest(sku, command), TimeSpan.FromSeconds(20))).Outcome);
}
