using Akka.Actor;
using Akka.Persistence;
using Restock.Actors.Domain.Inventory;
using Restock.Actors.Engine.Inventory;
using Restock.Actors.Tests.Support;
using Xunit.Abstractions;

namespace Restock.Actors.Tests.Hosting;

/// <summary>
/// The engine's snapshot store reads a snapshot's row with a query of its own, not the plugin's: whatever the criteria, it
/// must load the snapshot Akka.Persistence.Sql's own store loads from the same rows.
/// </summary>
public sealed class SnapshotLoadTests(ITestOutputHelper output) : EngineTestKit(output)
{
    private static readonly TimeSpan FirstRead = TimeSpan.FromSeconds(30);

    private const string PluginStore = "akka.persistence.snapshot-store.sql.class = \"Akka.Persistence.Sql.Snapshot.SqlSnapshotStore, Akka.Persistence.Sql\"";

    private static readonly DateTime At = new(2026, 11, 27, 8, 0, 0, DateTimeKind.Utc);

    public static TheoryData<string, long, int> Criteria => new()
    {
        // persistence id, highest sequence number, seconds after At as the latest time (-1: any time)
        { "sku-a", long.MaxValue, -1 },
        { "sku-a", 8, -1 },
        { "sku-a", 7, -1 },
        { "sku-a", 2, -1 },
        { "sku-a", long.MaxValue, 1 },
        { "sku-a", long.MaxValue, 0 },
        { "sku-a", 8, 2 },
        { "sku-a", 9, 0 },
        { "sku-b", long.MaxValue, -1 },
        { "sku-never-saved", long.MaxValue, -1 },
    };

    [Theory]
    [MemberData(nameof(Criteria))]
    public async Task A_snapshot_loads_as_the_plugin_loads_it(string persistenceId, long maxSequenceNr, int maxSecondsAfter)
    {
        var store = Persistence.Instance.Apply(Sys).SnapshotStoreFor(null);
        foreach (var (id, sequenceNr, at, snapshot) in new (string, long, DateTime, object)[]
                 {
                     ("sku-a", 3, At, Stocked(3)), ("sku-a", 7, At.AddSeconds(1), Stocked(7)), ("sku-a", 9, At.AddSeconds(2), Stocked(9)), ("sku-b", 4, At, Stocked(4)),
                 })
        {
            store.Tell(new SaveSnapshot(new SnapshotMetadata(id, sequenceNr, at), snapshot), TestActor);
            ExpectMsg<SaveSnapshotSuccess>(FirstRead);
        }
        var criteria = new SnapshotSelectionCriteria(maxSequenceNr, maxSecondsAfter < 0 ? DateTime.MaxValue : At.AddSeconds(maxSecondsAfter));

        var plugin = ActorSystem.Create("restock", Db.Config(PluginStore));
        try
        {
            var probe = CreateTestProbe(plugin);
            Persistence.Instance.Apply(plugin).SnapshotStoreFor(null).Tell(new LoadSnapshot(persistenceId, criteria, long.MaxValue), probe.Ref);
            var expected = probe.ExpectMsg<LoadSnapshotResult>(FirstRead).Snapshot;

            store.Tell(new LoadSnapshot(persistenceId, criteria, long.MaxValue), TestActor);
            var loaded = ExpectMsg<LoadSnapshotResult>(FirstRead).Snapshot;

            Assert.Equal(Describe(expected), Describe(loaded));
            if (persistenceId == "sku-a" && maxSequenceNr == long.MaxValue && maxSecondsAfter < 0) Assert.Equal("sku-a 9 " + At.AddSeconds(2).Ticks + " stocked 9", Describe(loaded));
        }
        finally
        {
            await plugin.Terminate();
        }
    }

    /// <summary>A row as other tools write it: the snapshot's type by name, serialized by the serializer bound to that type.</summary>
    private void StoreByTypeName(string persistenceId, long sequenceNr, object snapshot)
    {
        var payload = Convert.ToHexString(Sys.Serialization.FindSerializerForType(snapshot.GetType()).ToBinary(snapshot));
        Db.Snapshots.Execute("INSERT INTO snapshot (persistence_id, sequence_number, created, snapshot, manifest, serializer_id) " +
                             $"VALUES ('{persistenceId}', {sequenceNr}, {At.Ticks}, X'{payload}', '{snapshot.GetType().AssemblyQualifiedName}', NULL)");
    }

    [Fact]
    public void A_row_without_a_serializer_id_is_read_as_the_plugin_reads_it()
    {
        var store = Persistence.Instance.Apply(Sys).SnapshotStoreFor(null);
        store.Tell(new SaveSnapshot(new SnapshotMetadata("shop-a", 3, At), 3L), TestActor);
        ExpectMsg<SaveSnapshotSuccess>(FirstRead);
        StoreByTypeName("shop-a", 5, 5L);

        store.Tell(new LoadSnapshot("shop-a", SnapshotSelectionCriteria.Latest, long.MaxValue), TestActor);

        Assert.Equal("shop-a 5 " + At.Ticks + " 5", Describe(ExpectMsg<LoadSnapshotResult>(FirstRead).Snapshot));
    }

    /// <summary>Snapshots of types other than a SKU's, each read back whole by the serializer bound to its type.</summary>
    public static TheoryData<object> OtherTypes => new() { 5L, "five", new byte[] { 0x7B, 0x7D } };

    [Theory]
    [MemberData(nameof(OtherTypes))]
    public void A_skus_row_without_a_serializer_id_naming_another_type_is_passed_over(object snapshot)
    {
        var store = Persistence.Instance.Apply(Sys).SnapshotStoreFor(null);
        store.Tell(new SaveSnapshot(new SnapshotMetadata("sku-a", 3, At), Stocked(3)), TestActor);
        ExpectMsg<SaveSnapshotSuccess>(FirstRead);
        // Loaded, the SKU would ignore it and replay only the events after 5: events 4 and 5 would be missed.
        StoreByTypeName("sku-a", 5, snapshot);

        store.Tell(new LoadSnapshot("sku-a", SnapshotSelectionCriteria.Latest, long.MaxValue), TestActor);

        Assert.Equal("sku-a 3 " + At.Ticks + " stocked 3", Describe(ExpectMsg<LoadSnapshotResult>(FirstRead).Snapshot));
    }

    [Theory]
    [InlineData(4)]
    [InlineData(0)]
    public void A_skus_row_whose_serializer_id_reads_it_as_another_type_is_passed_over(int serializerId)
    {
        var store = Persistence.Instance.Apply(Sys).SnapshotStoreFor(null);
        store.Tell(new SaveSnapshot(new SnapshotMetadata("sku-a", 3, At), Stocked(3)), TestActor);
        ExpectMsg<SaveSnapshotSuccess>(FirstRead);
        // A serializer id damaged to Akka's byte-array (4) or null (0) serializer, its manifest gone, reads any bytes (as a
        // byte[] or as nothing): loaded, the SKU would ignore it and replay only the events after 5.
        Db.Snapshots.Execute("INSERT INTO snapshot (persistence_id, sequence_number, created, snapshot, manifest, serializer_id) " +
                             $"VALUES ('sku-a', 5, {At.Ticks}, X'7B7D', '', {serializerId})");

        store.Tell(new LoadSnapshot("sku-a", SnapshotSelectionCriteria.Latest, long.MaxValue), TestActor);

        Assert.Equal("sku-a 3 " + At.Ticks + " stocked 3", Describe(ExpectMsg<LoadSnapshotResult>(FirstRead).Snapshot));
    }

    /// <summary>A row of a SKU snapshot's head damaged in its layout (a byte no layout starts with), stored under <paramref name="persistenceId"/>.</summary>
    private void StoreDamagedHead(string persistenceId, long sequenceNr)
    {
        var serializer = Sys.Serialization.FindSerializerForType(typeof(Restock.Actors.Engine.Inventory.SkuSnapshot));
        Db.Snapshots.Execute("INSERT INTO snapshot (persistence_id, sequence_number, created, snapshot, manifest, serializer_id) " +
                             $"VALUES ('{persistenceId}', {sequenceNr}, {At.Ticks}, X'09000000007B7D', 'sku.snapshot.v2', {serializer.Identifier})");
    }

    [Fact]
    public void A_skus_damaged_snapshot_is_passed_over_for_the_one_before_it()
    {
        var store = Persistence.Instance.Apply(Sys).SnapshotStoreFor(null);
        store.Tell(new SaveSnapshot(new SnapshotMetadata("sku-dented", 3, At), Stocked(3)), TestActor);
        ExpectMsg<SaveSnapshotSuccess>(FirstRead);
        StoreDamagedHead("sku-dented", 9);

        store.Tell(new LoadSnapshot("sku-dented", SnapshotSelectionCriteria.Latest, long.MaxValue), TestActor);

        // A SKU never deletes its events: the journal replays from the snapshot before (or from the first event if none).
        Assert.Equal("sku-dented 3 " + At.Ticks + " stocked 3", Describe(ExpectMsg<LoadSnapshotResult>(FirstRead).Snapshot));
    }

    [Theory]
    [InlineData("not base64!")]
    [InlineData("AWQ=")]
    public void A_skus_older_json_snapshot_damaged_inside_its_open_lines_is_passed_over(string chunk)
    {
        var store = Persistence.Instance.Apply(Sys).SnapshotStoreFor(null);
        store.Tell(new SaveSnapshot(new SnapshotMetadata("sku-dented", 3, At), Stocked(3)), TestActor);
        ExpectMsg<SaveSnapshotSuccess>(FirstRead);
        // A head of the JSON-only form (before the binary layout) whose JSON is whole but whose open lines' chunk is not
        // base64, or counts an id longer than the chunk: damage found past the JSON reader's own checks.
        var json = "{\"isKnown\":true,\"levels\":{\"available\":7},\"stocked\":10,\"openLines\":[\"" + chunk + "\"],\"refunds\":[]}";
        var serializer = Sys.Serialization.FindSerializerForType(typeof(Restock.Actors.Engine.Inventory.SkuSnapshot));
        Db.Snapshots.Execute("INSERT INTO snapshot (persistence_id, sequence_number, created, snapshot, manifest, serializer_id) " +
                             $"VALUES ('sku-dented', 9, {At.Ticks}, X'{Convert.ToHexString(System.Text.Encoding.UTF8.GetBytes(json))}', 'sku.snapshot', {serializer.Identifier})");

        store.Tell(new LoadSnapshot("sku-dented", SnapshotSelectionCriteria.Latest, long.MaxValue), TestActor);

        Assert.Equal("sku-dented 3 " + At.Ticks + " stocked 3", Describe(ExpectMsg<LoadSnapshotResult>(FirstRead).Snapshot));
    }

    [Fact]
    public void A_skus_only_snapshot_damaged_leaves_its_whole_journal_to_replay()
    {
        var store = Persistence.Instance.Apply(Sys).SnapshotStoreFor(null);
        // Another SKU's first, so that the store has made its table.
        store.Tell(new SaveSnapshot(new SnapshotMetadata("sku-whole", 3, At), Stocked(3)), TestActor);
        ExpectMsg<SaveSnapshotSuccess>(FirstRead);
        StoreDamagedHead("sku-dented", 9);

        store.Tell(new LoadSnapshot("sku-dented", SnapshotSelectionCriteria.Latest, long.MaxValue), TestActor);

        Assert.Equal("none", Describe(ExpectMsg<LoadSnapshotResult>(FirstRead).Snapshot));
    }

    [Fact]
    public void A_skus_row_without_a_serializer_id_is_passed_over_when_the_plugin_cannot_read_it()
    {
        var store = Persistence.Instance.Apply(Sys).SnapshotStoreFor(null);
        store.Tell(new SaveSnapshot(new SnapshotMetadata("sku-a", 3, At), Stocked(3)), TestActor);
        ExpectMsg<SaveSnapshotSuccess>(FirstRead);
        // A SKU head as another tool writes a row: its type by name. The engine's serializer reads a SKU snapshot by its
        // manifests only, so reading it by its type fails (SerializationException, "unknown manifest").
        var type = typeof(Restock.Actors.Engine.Inventory.SkuSnapshot);
        var head = Restock.Actors.Engine.Inventory.SkuRecoveryRehearsal.Run(Sys.Serialization).Heads[0];
        var payload = Convert.ToHexString(Sys.Serialization.FindSerializerForType(type).ToBinary(head));
        Db.Snapshots.Execute("INSERT INTO snapshot (persistence_id, sequence_number, created, snapshot, manifest, serializer_id) " +
                             $"VALUES ('sku-a', 5, {At.Ticks}, X'{payload}', '{type.AssemblyQualifiedName}', NULL)");

        store.Tell(new LoadSnapshot("sku-a", SnapshotSelectionCriteria.Latest, long.MaxValue), TestActor);

        Assert.Equal("sku-a 3 " + At.Ticks + " stocked 3", Describe(ExpectMsg<LoadSnapshotResult>(FirstRead).Snapshot));
    }

    /// <summary>Rows as another tool writes them (the type by name) whose name or bytes do not read back here.</summary>
    public static TheoryData<string, string> UnreadableByName => new()
    {
        // manifest, payload (hex)
        { "Restock.Actors.Engine.Inventory.NoSuchSnapshot, Restock.Actors.Engine", "7B7D" },
        { "Restock.Actors.Engine.Inventory.SkuSnapshot, No.Such.Assembly", "7B7D" },
        { "System.Int64, Bad=Assembly=Name", "35" },
        { "Restock Actors [[", "7B7D" },
        { "", "7B7D" },
        { typeof(long).AssemblyQualifiedName!, "FF00FF" },
    };

    [Theory]
    [MemberData(nameof(UnreadableByName))]
    public void A_skus_row_without_a_serializer_id_whose_type_or_bytes_do_not_read_is_passed_over(string manifest, string payload)
    {
        var store = Persistence.Instance.Apply(Sys).SnapshotStoreFor(null);
        store.Tell(new SaveSnapshot(new SnapshotMetadata("sku-a", 3, At), Stocked(3)), TestActor);
        ExpectMsg<SaveSnapshotSuccess>(FirstRead);
        Db.Snapshots.Execute("INSERT INTO snapshot (persistence_id, sequence_number, created, snapshot, manifest, serializer_id) " +
                             $"VALUES ('sku-a', 5, {At.Ticks}, X'{payload}', '{manifest}', NULL)");

        store.Tell(new LoadSnapshot("sku-a", SnapshotSelectionCriteria.Latest, long.MaxValue), TestActor);

        Assert.Equal("sku-a 3 " + At.Ticks + " stocked 3", Describe(ExpectMsg<LoadSnapshotResult>(FirstRead).Snapshot));
    }

    [Fact]
    public void A_skus_row_whose_serializer_refuses_its_bytes_with_an_error_of_its_own_is_passed_over()
    {
        var store = Persistence.Instance.Apply(Sys).SnapshotStoreFor(null);
        store.Tell(new SaveSnapshot(new SnapshotMetadata("sku-a", 3, At), Stocked(3)), TestActor);
        ExpectMsg<SaveSnapshotSuccess>(FirstRead);
        // Akka's serializer of a long, given one byte of eight, throws ArgumentException rather than SerializationException.
        var serializer = Sys.Serialization.FindSerializerForType(typeof(long));
        Db.Snapshots.Execute("INSERT INTO snapshot (persistence_id, sequence_number, created, snapshot, manifest, serializer_id) " +
                             $"VALUES ('sku-a', 5, {At.Ticks}, X'35', '', {serializer.Identifier})");

        store.Tell(new LoadSnapshot("sku-a", SnapshotSelectionCriteria.Latest, long.MaxValue), TestActor);

        Assert.Equal("sku-a 3 " + At.Ticks + " stocked 3", Describe(ExpectMsg<LoadSnapshotResult>(FirstRead).Snapshot));
    }

    [Fact]
    public void A_database_error_while_a_skus_snapshot_is_read_fails_its_load_rather_than_passing_it_over()
    {
        var store = Persistence.Instance.Apply(Sys).SnapshotStoreFor(null);
        store.Tell(new SaveSnapshot(new SnapshotMetadata("sku-a", 3, At), Stocked(3)), TestActor);
        ExpectMsg<SaveSnapshotSuccess>(FirstRead);
        // Only damage is passed over: a snapshot that cannot be read now (here its table is gone) is no reason to replay
        // the SKU's whole journal without it.
        Db.Snapshots.Execute("ALTER TABLE snapshot RENAME TO snapshot_elsewhere");

        store.Tell(new LoadSnapshot("sku-a", SnapshotSelectionCriteria.Latest, long.MaxValue), TestActor);

        Assert.Contains("no such table", ExpectMsg<LoadSnapshotFailed>(FirstRead).Cause.ToString());
    }

    [Theory]
    [InlineData("shop-dented")]
    [InlineData("refunds-dented")]
    [InlineData("/system/sharding/skuCoordinator")]
    [InlineData("/sharding/skuShard-0")]
    public void A_damaged_snapshot_of_any_other_entity_fails_its_load(string persistenceId)
    {
        var store = Persistence.Instance.Apply(Sys).SnapshotStoreFor(null);
        store.Tell(new SaveSnapshot(new SnapshotMetadata(persistenceId, 3, At), "three"), TestActor);
        ExpectMsg<SaveSnapshotSuccess>(FirstRead);
        StoreDamagedHead(persistenceId, 9);

        store.Tell(new LoadSnapshot(persistenceId, SnapshotSelectionCriteria.Latest, long.MaxValue), TestActor);

        // Its events may be deleted, or its state depend on the snapshot: recovering without it could lose what it knew.
        Assert.Contains("a damaged SKU snapshot", ExpectMsg<LoadSnapshotFailed>(FirstRead).Cause.ToString());
    }

    private static string Describe(SelectedSnapshot? s) =>
        s is null ? "none" : $"{s.Metadata.PersistenceId} {s.Metadata.SequenceNr} {s.Metadata.Timestamp.Ticks} {(s.Snapshot is SkuSnapshot sku ? $"stocked {sku.Stocked}" : s.Snapshot)}";

    /// <summary>A SKU's snapshot told apart by what it has stocked: a SKU's rows must read back as its snapshot type.</summary>
    private static SkuSnapshot Stocked(long units) =>
        SkuSnapshot.From(SkuStock.Apply(SkuState.Empty(), new StockAdjusted("a1", units, "count", At)));
}
