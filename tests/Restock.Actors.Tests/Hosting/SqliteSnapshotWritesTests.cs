using Akka.Actor;
using Akka.Persistence;
using Restock.Actors.Engine.Hosting;
using Restock.Actors.Tests.Support;
using Xunit.Abstractions;

namespace Restock.Actors.Tests.Hosting;

/// <summary>
/// On SQLite the engine saves snapshots itself, in turn with the journal's writes: the rows must be the ones
/// Akka.Persistence.Sql stores, loaded back by it, and the engine's writes to one file must never overlap.
/// </summary>
public sealed class SqliteSnapshotWritesTests(ITestOutputHelper output) : EngineTestKit(output)
{
    // A store's first write creates its tables: on a busy machine that can take longer than TestKit's 3 s default.
    private static readonly TimeSpan FirstWrite = TimeSpan.FromSeconds(30);

    private const string PluginStore = "akka.persistence.snapshot-store.sql.class = \"Akka.Persistence.Sql.Snapshot.SqlSnapshotStore, Akka.Persistence.Sql\"";

    private static readonly DateTime At = new(2026, 11, 27, 8, 0, 0, DateTimeKind.Utc);

    private static void SaveAll(ActorSystem system, TestProbeOrKit replyTo)
    {
        var store = Persistence.Instance.Apply(system).SnapshotStoreFor(null);
        store.Tell(new SaveSnapshot(new SnapshotMetadata("shop-a", 7, At), "seven"), replyTo.Ref);
        replyTo.Expect<SaveSnapshotSuccess>(FirstWrite);
        store.Tell(new SaveSnapshot(new SnapshotMetadata("shop-a", 9, At.AddSeconds(1)), 9L), replyTo.Ref);
        replyTo.Expect<SaveSnapshotSuccess>(FirstWrite);
        // Saved again at the same sequence number: replaced, as the plugin does.
        store.Tell(new SaveSnapshot(new SnapshotMetadata("shop-a", 9, At.AddSeconds(2)), 99L), replyTo.Ref);
        replyTo.Expect<SaveSnapshotSuccess>(FirstWrite);
        store.Tell(new SaveSnapshot(new SnapshotMetadata("shop-b", 3, At), "three"), replyTo.Ref);
        replyTo.Expect<SaveSnapshotSuccess>(FirstWrite);
    }

    /// <summary>Either a TestKit or one of its probes, for <see cref="SaveAll"/>.</summary>
    private sealed record TestProbeOrKit(IActorRef Ref, Func<TimeSpan, object> Receive)
    {
        public void Expect<T>(TimeSpan within) => Assert.IsType<T>(Receive(within));
    }

    [Fact]
    public async Task Snapshots_saved_here_equal_the_plugins_and_load_back()
    {
        SaveAll(Sys, new TestProbeOrKit(TestActor, within => ReceiveOne(within)!));

        using var pluginDb = new TestDatabase();
        var plugin = ActorSystem.Create("restock", pluginDb.Config(PluginStore));
        try
        {
            var probe = CreateTestProbe(plugin);
            SaveAll(plugin, new TestProbeOrKit(probe.Ref, within => probe.ReceiveOne(within)!));
        }
        finally
        {
            await plugin.Terminate();
        }
        const string rows = "SELECT persistence_id || '|' || sequence_number || '|' || created || '|' || hex(snapshot) || '|' || " +
                            "manifest || '|' || serializer_id FROM snapshot ORDER BY persistence_id, sequence_number";
        Assert.Equal(3, Db.Snapshots.Strings(rows).Count);
        Assert.Equal(pluginDb.Snapshots.Strings(rows), Db.Snapshots.Strings(rows));

        var store = Persistence.Instance.Apply(Sys).SnapshotStoreFor(null);
        store.Tell(new LoadSnapshot("shop-a", SnapshotSelectionCriteria.Latest, long.MaxValue), TestActor);
        var loaded = ExpectMsg<LoadSnapshotResult>(FirstWrite).Snapshot;
        Assert.Equal((9L, 99L), (loaded.Metadata.SequenceNr, (long)loaded.Snapshot));

        store.Tell(new DeleteSnapshots("shop-a", new SnapshotSelectionCriteria(8)), TestActor);
        ExpectMsg<DeleteSnapshotsSuccess>(FirstWrite);
        Assert.Equal(["shop-a|9", "shop-b|3"], Db.Snapshots.Strings("SELECT persistence_id || '|' || sequence_number FROM snapshot ORDER BY persistence_id"));
    }

    [Fact]
    public async Task A_journal_write_waiting_while_older_snapshots_are_deleted_is_stored_before_the_delete_ends()
    {
        var store = Persistence.Instance.Apply(Sys).SnapshotStoreFor(null);
        for (var sequenceNr = 1; sequenceNr <= 6; sequenceNr++)
        {
            store.Tell(new SaveSnapshot(new SnapshotMetadata("shop-a", sequenceNr, At), new string('x', 100_000)), TestActor);
            ExpectMsg<SaveSnapshotSuccess>(FirstWrite);
        }
        store.Tell(new SaveSnapshot(new SnapshotMetadata("shop-b", 3, At), "three"), TestActor);
        ExpectMsg<SaveSnapshotSuccess>(FirstWrite);

        // Writes of the engine's to the snapshots' file, one always waiting for the turn while the delete runs (as the journal's
        // do under load), each seeing how many of the rows to delete are still there when its turn comes.
        const string left = "SELECT COUNT(*) FROM snapshot WHERE persistence_id = 'shop-a' AND sequence_number <= 5";
        var seen = new List<long>();
        var deleted = false;
        var writing = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var writes = Task.Run(async () =>
        {
            while (!Volatile.Read(ref deleted))
            {
                await SqliteWriter.RunOnWriterThreadAsync(Db.Snapshots.ConnectionString, () => seen.Add(Db.Snapshots.Count(left)), CancellationToken.None);
                writing.TrySetResult();
            }
        });
        // The delete starts once the writes run, not before (on a starved pool the loop could start after the delete ended).
        await writing.Task;
        store.Tell(new DeleteSnapshots("shop-a", new SnapshotSelectionCriteria(5)), TestActor);
        ExpectMsg<DeleteSnapshotsSuccess>(FirstWrite);
        Volatile.Write(ref deleted, true);
        await writes;

        // A write had its turn while some of the five rows were gone and others not: between the delete's steps.
        Assert.Contains(seen, n => n is > 0 and < 5);
        Assert.Equal(["shop-a|6", "shop-b|3"], Db.Snapshots.Strings("SELECT persistence_id || '|' || sequence_number FROM snapshot ORDER BY persistence_id"));
    }

    [Fact]
    public async Task Writes_to_one_file_take_turns_and_writes_to_another_file_do_not_wait_for_them()
    {
        using var other = new TestDatabase();
        var firstHolds = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var order = new List<string>();

        var first = SqliteWriter.RunAsync(Db.ConnectionString, async () =>
        {
            lock (order) order.Add("first started");
            await firstHolds.Task;
            lock (order) order.Add("first done");
        }, CancellationToken.None);
        // The same file named with other settings is still the same file.
        var second = SqliteWriter.RunAsync(Db.ConnectionString + ";Pooling=False", () =>
        {
            lock (order) order.Add("second started");
            return Task.CompletedTask;
        }, CancellationToken.None);
        await SqliteWriter.RunAsync(other.ConnectionString, () =>
        {
            lock (order) order.Add("other file");
            return Task.CompletedTask;
        }, CancellationToken.None);

        Assert.False(second.IsCompleted);
        firstHolds.SetResult();
        await Task.WhenAll(first, second);
        Assert.Equal(["first started", "other file", "first done", "second started"], order);
    }
}
