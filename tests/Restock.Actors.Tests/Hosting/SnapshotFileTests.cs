using Akka.Configuration;
using Microsoft.Data.Sqlite;
using Restock.Actors.Domain.Inventory;
using Restock.Actors.Engine.Hosting;
using Restock.Actors.Engine.Inventory;
using Restock.Actors.Tests.Support;

namespace Restock.Actors.Tests.Hosting;

/// <summary>
/// On SQLite the snapshots live in a file of their own beside the journal's (SQLite has one writer per file: a large
/// SKU's snapshot writes held every journal write). A database written while they shared the journal's file is moved
/// over at start, before any SKU runs, and recovers from its snapshots, not by replaying everything. The two files keep
/// one id: a snapshots' file paired with another journal is refused rather than give a SKU events that are in no journal.
/// </summary>
public sealed class SnapshotFileTests : IDisposable
{
    private const string Sku = "mug";
    private readonly TestDatabase _db = new();

    public void Dispose() => _db.Dispose();

    private static Config Sqlite(string journal, string? snapshots = null, params string[] overrides) => RestockConfig.Load(name => name switch
    {
        "RESTOCK_CONNECTION_STRING" => journal,
        "RESTOCK_SNAPSHOT_CONNECTION_STRING" => snapshots,
        _ => null,
    }, overrides);

    [Fact]
    public void The_snapshots_file_lies_beside_the_journals_unless_set_on_its_own()
    {
        var folder = Path.Combine(Path.GetTempPath(), "restock-tests", "shop-7");
        Assert.Equal($"Data Source={Path.Combine(folder, "restock.snapshots.db")}",
            Sqlite($"Data Source={Path.Combine(folder, "restock.db")}").GetString(RestockConfig.SnapshotConnectionString));
        Assert.Equal("Data Source=restock.snapshots.db;Cache=Shared", Sqlite("Data Source=restock.db;Cache=Shared").GetString(RestockConfig.SnapshotConnectionString));
        Assert.Equal("Data Source=restock.snapshots.db", RestockConfig.Load(_ => null).GetString(RestockConfig.SnapshotConnectionString));
        // Nothing to put a file beside: as before, the journal's.
        Assert.Equal("Data Source=:memory:", Sqlite("Data Source=:memory:").GetString(RestockConfig.SnapshotConnectionString));
        Assert.Equal("Data Source=file:restock.db?mode=rwc", Sqlite("Data Source=file:restock.db?mode=rwc").GetString(RestockConfig.SnapshotConnectionString));
        Assert.Equal("Data Source=FILE:restock.db?mode=rwc", Sqlite("Data Source=FILE:restock.db?mode=rwc").GetString(RestockConfig.SnapshotConnectionString));

        Assert.Equal("Data Source=/disk2/snapshots.db", Sqlite("Data Source=restock.db", "Data Source=/disk2/snapshots.db").GetString(RestockConfig.SnapshotConnectionString));
        Assert.Equal("Data Source=/disk3/s.db", Sqlite("Data Source=restock.db", "Data Source=/disk2/snapshots.db",
            $"{RestockConfig.SnapshotConnectionString} = \"Data Source=/disk3/s.db\"").GetString(RestockConfig.SnapshotConnectionString));
    }

    [Fact]
    public void On_postgresql_the_snapshots_stay_in_the_journals_database()
    {
        const string server = "Host=db;Port=5432;Database=shop;Username=restock;Password=secret";
        var config = RestockConfig.Load(name => name switch
        {
            "RESTOCK_JOURNAL" => "postgresql",
            "RESTOCK_CONNECTION_STRING" => server,
            _ => null,
        });
        Assert.Equal(server, config.GetString(RestockConfig.SnapshotConnectionString));
        Assert.Equal(server, config.GetString("akka.persistence.query.journal.sql.connection-string"));
    }

    [Fact]
    public async Task A_skus_snapshot_is_stored_in_the_snapshots_file_and_none_in_the_journals()
    {
        await using (var engine = await Start(_db.Config("restock.inventory.snapshot-every = 20")))
        {
            await Sell(engine, 30);
            await SnapshotStoredIn(_db.Snapshots);
        }
        Assert.Equal(0, SnapshotsIn(new SqliteFile(_db.Path)));
    }

    [Fact]
    public async Task An_explicit_snapshot_connection_string_is_honoured()
    {
        using var elsewhere = new TestDatabase();
        await using (var engine = await Start(_db.Config("restock.inventory.snapshot-every = 20",
                         $"{RestockConfig.SnapshotConnectionString} = \"Data Source={elsewhere.Path}\"")))
        {
            await Sell(engine, 30);
            await SnapshotStoredIn(new SqliteFile(elsewhere.Path));
        }
        Assert.Equal(0, SnapshotsIn(_db.Snapshots));
        Assert.Equal(0, SnapshotsIn(new SqliteFile(_db.Path)));
    }

    [Fact]
    public async Task A_database_of_the_one_file_layout_recovers_from_its_snapshot_after_the_upgrade()
    {
        var snapshotAt = await WriteWithSnapshotsInTheJournalsFile();

        await using (var engine = await Start(_db.Config()))
            await AssertRecoveredFrom(engine, snapshotAt);
        Assert.Equal(0, SnapshotsIn(new SqliteFile(_db.Path)));
        Assert.Equal(snapshotAt, _db.Snapshots.Count($"SELECT MAX(sequence_number) FROM snapshot WHERE persistence_id = '{SkuActor.PersistenceIdFor(Sku)}'"));
    }

    [Fact]
    public async Task A_crash_between_copying_the_snapshots_and_deleting_the_old_rows_recovers_once_and_leaves_one_copy()
    {
        var snapshotAt = await WriteWithSnapshotsInTheJournalsFile();
        await using (await Start(_db.Config()))
        {
        }
        var moved = Rows(_db.Snapshots);
        // What a crash after the copy's commit and before the old rows' delete leaves: every row in both files.
        using (var journal = new SqliteConnection(_db.ConnectionString + ";Pooling=False"))
        {
            journal.Open();
            using var copyBack = journal.CreateCommand();
            copyBack.CommandText = "ATTACH DATABASE $file AS snapshots_file; INSERT INTO main.snapshot SELECT * FROM snapshots_file.snapshot;";
            copyBack.Parameters.AddWithValue("$file", _db.Snapshots.Path);
            copyBack.ExecuteNonQuery();
        }
        Assert.Equal(moved, Rows(new SqliteFile(_db.Path)));

        await using (var engine = await Start(_db.Config()))
        {
            await AssertRecoveredFrom(engine, snapshotAt);
            Assert.Equal(moved, Rows(_db.Snapshots));
        }
        Assert.Equal(0, SnapshotsIn(new SqliteFile(_db.Path)));
    }

    [Fact]
    public async Task Snapshots_are_moved_by_column_name_into_a_table_that_lists_its_columns_in_another_order()
    {
        var snapshotAt = await WriteWithSnapshotsInTheJournalsFile();
        var columns = new SqliteFile(_db.Path).Strings("SELECT name || ' ' || type || '|' || pk FROM pragma_table_info('snapshot')")
            .Select(column => column.Split('|')).ToList();
        var keys = columns.Where(column => column[1] != "0").OrderBy(column => column[1]).Select(column => column[0].Split(' ')[0]).ToList();
        Assert.NotEmpty(keys);
        _db.Snapshots.Execute($"CREATE TABLE snapshot ({string.Join(", ", columns.Select(column => column[0]).Reverse())}, PRIMARY KEY ({string.Join(", ", keys)}))");

        await using (var engine = await Start(_db.Config()))
            await AssertRecoveredFrom(engine, snapshotAt);
    }

    [Fact]
    public async Task A_crash_after_stamping_the_journal_in_the_upgrade_still_moves_and_recovers_from_the_snapshot()
    {
        var snapshotAt = await WriteWithSnapshotsInTheJournalsFile();
        // What a crash after the journal's id was committed and before the move's commit leaves.
        new SqliteFile(_db.Path).Execute($"CREATE TABLE {JournalStore.DatabaseIdTable} (id TEXT NOT NULL); INSERT INTO {JournalStore.DatabaseIdTable} VALUES ('before-the-crash')");

        await using (var engine = await Start(_db.Config()))
            await AssertRecoveredFrom(engine, snapshotAt);
        Assert.Equal(["before-the-crash"], IdsIn(_db.Snapshots));
    }

    [Fact]
    public async Task A_fresh_pair_starts_again_and_recovers_from_its_snapshot()
    {
        await using (var engine = await Start(_db.Config("restock.inventory.snapshot-every = 20")))
        {
            await Sell(engine, 30);
            await SnapshotStoredIn(_db.Snapshots);
        }
        var snapshotAt = _db.Snapshots.Count($"SELECT MAX(sequence_number) FROM snapshot WHERE persistence_id = '{SkuActor.PersistenceIdFor(Sku)}'");

        await using (var engine = await Start(_db.Config("restock.inventory.snapshot-every = 20")))
            await AssertRecoveredFrom(engine, snapshotAt);
        var journalId = Assert.Single(IdsIn(new SqliteFile(_db.Path)));
        Assert.Equal([journalId], IdsIn(_db.Snapshots));
    }

    [Fact]
    public async Task A_snapshots_file_whose_journal_was_deleted_is_refused_and_left_as_it_was()
    {
        await using (var engine = await Start(_db.Config("restock.inventory.snapshot-every = 20")))
        {
            await Sell(engine, 30);
            await SnapshotStoredIn(_db.Snapshots);
        }
        var rows = Rows(_db.Snapshots);
        var id = IdsIn(_db.Snapshots);
        DeleteFile(_db.Path);

        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => Start(_db.Config()));
        Assert.Contains(_db.Snapshots.Path, refused.Message);
        Assert.Contains(_db.Path, refused.Message);
        Assert.Contains("delete", refused.Message);
        Assert.Equal(rows, Rows(_db.Snapshots));
        Assert.Equal(id, IdsIn(_db.Snapshots));
        // Refused before the new journal's file was stamped: restoring the old one over it, or deleting the snapshots' file, is all it takes.
        Assert.Equal(0, new SqliteFile(_db.Path).Count("SELECT count(*) FROM sqlite_master"));
    }

    [Fact]
    public async Task A_deleted_snapshots_file_replays_every_sku_from_the_journal()
    {
        await using (var engine = await Start(_db.Config("restock.inventory.snapshot-every = 20")))
        {
            await Sell(engine, 30);
            await SnapshotStoredIn(_db.Snapshots);
        }
        DeleteFile(_db.Snapshots.Path);

        await using (var engine = await Start(_db.Config()))
        {
            var stock = await engine.Inventory.GetStock(Sku).Within("the SKU's stock");
            Assert.Equal((70L, 30L), (stock.Levels.Available, stock.Levels.Reserved));
            var stats = await engine.Inventory.GetJournalStats(Sku).Within("the SKU's journal stats");
            Assert.Equal(0, stats.LastSnapshotAt);
            Assert.True(stats.EventsReplayed >= 31, $"replayed {stats.EventsReplayed} events");
        }
        Assert.Equal(IdsIn(new SqliteFile(_db.Path)), IdsIn(_db.Snapshots));
    }

    private static void DeleteFile(string path)
    {
        SqliteConnection.ClearAllPools();
        foreach (var suffix in new[] { "", "-wal", "-shm" })
            File.Delete(path + suffix);
    }

    private static IReadOnlyList<string> IdsIn(SqliteFile file) => file.Strings($"SELECT id FROM {JournalStore.DatabaseIdTable}");

    /// <summary>The previous layout (snapshots set to the journal's file): 31 commands, snapshots every 20; returns the latest snapshot's sequence number.</summary>
    private async Task<long> WriteWithSnapshotsInTheJournalsFile()
    {
        var journal = new SqliteFile(_db.Path);
        await using (var engine = await Start(_db.Config("restock.inventory.snapshot-every = 20", $"{RestockConfig.SnapshotConnectionString} = \"{_db.ConnectionString}\"")))
        {
            await Sell(engine, 30);
            await SnapshotStoredIn(journal);
        }
        Assert.False(File.Exists(_db.Snapshots.Path), "the one-file layout made a snapshots' file");
        var snapshotAt = journal.Count($"SELECT COALESCE(MAX(sequence_number), 0) FROM snapshot WHERE persistence_id = '{SkuActor.PersistenceIdFor(Sku)}'");
        Assert.InRange(snapshotAt, 10, 31);
        return snapshotAt;
    }

    /// <summary>The SKU's state, recovered from its snapshot at <paramref name="snapshotAt"/> and the events after it only.</summary>
    private async Task AssertRecoveredFrom(RestockEngine engine, long snapshotAt)
    {
        var journalEnd = _db.Count($"SELECT MAX(sequence_number) FROM journal WHERE persistence_id = '{SkuActor.PersistenceIdFor(Sku)}'");
        var stock = await engine.Inventory.GetStock(Sku).Within("the SKU's stock");
        Assert.Equal((70L, 30L), (stock.Levels.Available, stock.Levels.Reserved));
        var stats = await engine.Inventory.GetJournalStats(Sku).Within("the SKU's journal stats");
        Assert.Equal((snapshotAt, journalEnd - snapshotAt), (stats.LastSnapshotAt, stats.EventsReplayed));
        Assert.Equal(SkuOutcome.AlreadyDone, (await engine.Inventory.Execute(Sku, new Reserve("o7", 1, DateTimeOffset.UtcNow.AddDays(1)))).Outcome);
    }

    private static Task<RestockEngine> Start(Config config) => RestockEngine.StartAsync(config).Within("the engine to start");

    private static async Task Sell(RestockEngine engine, int orders)
    {
        Assert.True((await engine.Inventory.Execute(Sku, new SetStock("a1", 100, "delivery", "shop-a"))).Succeeded);
        for (var i = 0; i < orders; i++)
            Assert.Equal(SkuOutcome.Done, (await engine.Inventory.Execute(Sku, new Reserve($"o{i}", 1, DateTimeOffset.UtcNow.AddDays(1)))).Outcome);
    }

    /// <summary>
    /// Waits for the SKU's snapshot head in <paramref name="file"/>: a snapshot is saved after the write it follows is
    /// confirmed, so after the answers; and its part (the ids remembered since the previous one) is saved before its head,
    /// in a write of its own, so a row of any kind may be that part while the head is still being saved.
    /// </summary>
    private static async Task SnapshotStoredIn(SqliteFile file)
    {
        for (var waited = 0; HeadsIn(file) == 0; waited += 100)
        {
            Assert.True(waited < 30_000, $"no snapshot in {file.Path}");
            await Task.Delay(100);
        }
    }

    private static long HeadsIn(SqliteFile file) =>
        SnapshotsIn(file) == 0 ? 0 : file.Count($"SELECT count(*) FROM snapshot WHERE persistence_id = '{SkuActor.PersistenceIdFor(Sku)}'");

    /// <summary>The snapshot rows in a file (none when it has no snapshot table).</summary>
    private static long SnapshotsIn(SqliteFile file) =>
        !File.Exists(file.Path) || file.Count("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'snapshot'") == 0
            ? 0
            : file.Count("SELECT count(*) FROM snapshot");

    private static IReadOnlyList<string> Rows(SqliteFile file) =>
        file.Strings("SELECT persistence_id || '|' || sequence_number || '|' || hex(snapshot) FROM snapshot ORDER BY persistence_id, sequence_number");
}
