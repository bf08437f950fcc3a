using Akka.Actor;
using Npgsql;
using Restock.Actors.LoadTests.Targets;
using Restock.Actors.Domain.Inventory;
using Restock.Actors.Domain.Refunds;
using Restock.Actors.Domain.Shops;
using Restock.Actors.Engine.Hosting;
using Restock.Actors.Engine.Ledger;
using Restock.Actors.Tests.Support;
namespace Restock.Actors.Tests.Hosting;

/// <summary>
/// The scale-out journal: the same engine on PostgreSQL, including the ledger's own tables and offset. Needs a
/// server: <c>.ci/postgres</c> starts one and prints the connection string to put in RESTOCK_TEST_POSTGRES.
/// </summary>
public sealed class PostgresJournalTests : PostgresTest
{
    private string ConnectionString => Database.ConnectionString;

    private Task<RestockEngine> Start(params string[] overrides) => RestockEngine.StartAsync(RestockConfig.Load(name => name switch
    {
        "RESTOCK_JOURNAL" => "postgresql",
        "RESTOCK_CONNECTION_STRING" => ConnectionString,
        "RESTOCK_SINGLE_NODE" => "on",
        _ => null,
    }, ["restock.refunds.retry-for = 0s", .. overrides])).Within("the engine to start");

    [SkippableFact]
    public async Task Stock_refunds_and_the_restock_ledger_survive_a_restart_on_postgresql()
    {
        SkipWithoutServer();
        var inAnHour = DateTimeOffset.UtcNow.AddHours(1);

        await using (var first = await Start())
        {
            await first.Shops.Execute("pg-shop", new SetAutoRestock(true, SettingOrigin.Merchant, "merchant:ann", "test", false, DateTimeOffset.UtcNow));
            await first.Inventory.Execute("pg-mug", new SetStock("a1", 5, "delivery"));
            await first.Inventory.Execute("pg-mug", new Reserve("o1", 3, inAnHour));
            await first.Inventory.Execute("pg-mug", new ConfirmPayment("o1"));
            await first.Refunds.Submit(new RefundRequest("r1", "o1", "pg-shop", [new RefundedLine("pg-mug", 2)], DateTimeOffset.UtcNow));
            await Eventually(async () => (await first.Ledger.SearchAsync(new LedgerQuery(OrderId: "o1"))).Entries.Count == 1);
            var entry = (await first.Ledger.SearchAsync(new LedgerQuery(OrderId: "o1"))).Entries.Single();
            Assert.Equal((2L, 2L, 4L, RestockTrigger.Auto), (entry.Quantity, entry.StockBefore, entry.StockAfter, entry.Trigger));
        }

        await using var second = await Start();
        Assert.Equal(new StockLevels(4, 0, 1, 0, 2, 2), (await second.Inventory.GetStock("pg-mug")).Levels);
        await second.Refunds.Submit(new RefundRequest("r2", "o1", "pg-shop", [new RefundedLine("pg-mug", 1)], DateTimeOffset.UtcNow));
        await Eventually(async () => (await second.Ledger.SearchAsync(new LedgerQuery(SkuId: "pg-mug"))).Entries.Count == 2);
        Assert.Equal(3, (await second.Ledger.SearchAsync(new LedgerQuery(SkuId: "pg-mug"))).Entries.Sum(e => e.Quantity));
        Assert.Equal(5, (await second.Inventory.GetStock("pg-mug")).Levels.Available);

        // A restock the projection skipped (a journal gap it gave up on) comes back with the reconciliation, once.
        await using (var connection = new NpgsqlConnection(ConnectionString))
        {
            await connection.OpenAsync();
            await using var delete = new NpgsqlCommand("DELETE FROM restock_ledger WHERE refund_id = 'r2'", connection);
            Assert.Equal(1, await delete.ExecuteNonQueryAsync());
        }
        var reconciled = await second.ReconcileLedgerAsync(TimeSpan.FromSeconds(20));
        Assert.Equal("r2", ((LineRefunded)Assert.Single(reconciled.Repaired).Event).RefundId);
        Assert.Equal(3, (await second.Ledger.SearchAsync(new LedgerQuery(SkuId: "pg-mug"))).Entries.Sum(e => e.Quantity));
        Assert.Empty((await second.ReconcileLedgerAsync(TimeSpan.FromSeconds(20))).Repaired);

        // A refund of an order the SKU has never seen is parked at once (no retry time here) and listed.
        await second.Refunds.Submit(new RefundRequest("r3", "o-unknown", "pg-shop", [new RefundedLine("pg-mug", 1)], DateTimeOffset.UtcNow));
        await Eventually(async () => (await second.Ledger.NeedsAttentionAsync(new LedgerQuery(ShopId: "pg-shop"))).Entries.Count == 1);
        var parked = (await second.Ledger.NeedsAttentionAsync(new LedgerQuery(ShopId: "pg-shop"))).Entries.Single();
        Assert.Equal(("o-unknown", "r3", nameof(RejectionCode.UnknownOrderLine)), (parked.OrderId, parked.RefundId, parked.Code));
    }

    /// <summary>Remembered ids in snapshot chunks on PostgreSQL: written, read back in one query, and the SKU recovers from them.</summary>
    [SkippableFact]
    public async Task A_sku_recovers_from_snapshot_chunks_on_postgresql()
    {
        SkipWithoutServer();
        string[] overrides = ["restock.inventory.snapshot-every = 20", "restock.inventory.max-batch-size = 10"];
        var inADay = DateTimeOffset.UtcNow.AddDays(1);
        await using (var first = await Start(overrides))
        {
            await first.Inventory.Execute("pg-chunky", new SetStock("a1", 100, "delivery"));
            for (var i = 0; i < 100; i++)
            {
                await first.Inventory.Execute("pg-chunky", new Reserve($"o{i}", 1, inADay));
                await first.Inventory.Execute("pg-chunky", new Release($"o{i}"));
            }
        }
        await using (var connection = new NpgsqlConnection(ConnectionString))
        {
            await connection.OpenAsync();
            await using var chunks = new NpgsqlCommand("SELECT count(*) FROM snapshot WHERE persistence_id = 'parts#sku-pg-chunky'", connection);
            Assert.True((long)(await chunks.ExecuteScalarAsync())! > 1);
        }

        await using var second = await Start(overrides);
        Assert.Equal(new StockLevels(100, 0, 0, 0, 0, 0), (await second.Inventory.GetStock("pg-chunky")).Levels);
        Assert.InRange((await second.Inventory.GetJournalStats("pg-chunky")).EventsReplayed, 0, 20);
        for (var i = 0; i < 100; i++)
            Assert.Equal(Restock.Actors.Engine.Inventory.SkuOutcome.AlreadyDone, (await second.Inventory.Execute("pg-chunky", new Release($"o{i}"))).Outcome);
    }

    /// <summary>
    /// A head whose open lines are kept in parts on PostgreSQL: written before the head, the parts of the head before it
    /// deleted once it is stored, read back with the store's own query, and the SKU recovers from them.
    /// </summary>
    [SkippableFact]
    public async Task A_sku_recovers_its_open_lines_from_snapshot_parts_on_postgresql()
    {
        SkipWithoutServer();
        string[] overrides = ["restock.inventory.snapshot-every = 17000", "restock.inventory.max-batch-size = 2000"];
        var inADay = DateTimeOffset.UtcNow.AddDays(1);
        await using (var first = await Start(overrides))
        {
            await first.Inventory.Execute("pg-parted", new SetStock("a1", 100_000, "delivery"));
            // Heads after ~17,000 and ~34,000 events, in two and three parts.
            await Task.WhenAll(Enumerable.Range(0, 40_000).Select(i => first.Inventory.Execute("pg-parted", new Reserve($"o{i}", 1, inADay))));

            await using var connection = new NpgsqlConnection(ConnectionString);
            await connection.OpenAsync();
            // The second head is saved after its events' write, its parts first, and the SKU then deletes the first head.
            var heads = new List<(long SequenceNr, string Manifest)>();
            var keys = new List<long>();
            for (var i = 0; ; i++)
            {
                heads.Clear();
                keys.Clear();
                await using (var read = new NpgsqlCommand("SELECT sequence_number, manifest FROM snapshot WHERE persistence_id = 'sku-pg-parted'", connection))
                await using (var rows = await read.ExecuteReaderAsync())
                    while (await rows.ReadAsync()) heads.Add((rows.GetInt64(0), rows.GetString(1)));
                await using (var read = new NpgsqlCommand("SELECT sequence_number FROM snapshot WHERE persistence_id = 'pieces#sku-pg-parted' ORDER BY sequence_number", connection))
                await using (var rows = await read.ExecuteReaderAsync())
                    while (await rows.ReadAsync()) keys.Add(rows.GetInt64(0));
                // Settled: one head, and exactly its own three parts (a later save may have written its first part already).
                if ((heads.Count == 1 && keys.SequenceEqual(Enumerable.Range(0, 3).Select(p => BatchedRecoverySnapshotStore.PieceKey(heads[0].SequenceNr, p)))) || i == 300) break;
                await Task.Delay(100);
            }
            var (head, manifest) = Assert.Single(heads);
            // Under the manifest of heads with parts (a build before them fails to read it instead of losing the lines).
            Assert.Equal("sku.snapshot.v2.line-parts", manifest);
            // Only its own parts: the first head's two went once it was stored.
            Assert.Equal(Enumerable.Range(0, 3).Select(i => BatchedRecoverySnapshotStore.PieceKey(head, i)), keys);
        }

        await using var second = await Start(overrides);
        Assert.Equal(new StockLevels(60_000, 40_000, 0, 0, 0, 0), (await second.Inventory.GetStock("pg-parted")).Levels);
        Assert.InRange((await second.Inventory.GetJournalStats("pg-parted")).EventsReplayed, 0, 7_000);
        foreach (var i in new[] { 0, 16_998, 33_000, 39_999 })
            Assert.Equal(Restock.Actors.Engine.Inventory.SkuOutcome.Done, (await second.Inventory.Execute("pg-parted", new ConfirmPayment($"o{i}"))).Outcome);
    }

    /// <summary>
    /// A damaged snapshot head on PostgreSQL: a SKU's is passed over (its journal replays, its stock exact), any other
    /// entity's still fails its load.
    /// </summary>
    [SkippableFact]
    public async Task A_skus_damaged_snapshot_head_is_passed_over_on_postgresql()
    {
        SkipWithoutServer();
        string[] overrides = ["restock.inventory.snapshot-every = 20", "restock.inventory.max-batch-size = 10"];
        var inADay = DateTimeOffset.UtcNow.AddDays(1);
        await using (var first = await Start(overrides))
        {
            await first.Inventory.Execute("pg-bent", new SetStock("a1", 100, "delivery"));
            for (var i = 0; i < 100; i++)
            {
                await first.Inventory.Execute("pg-bent", new Reserve($"o{i}", 1, inADay));
                await first.Inventory.Execute("pg-bent", new Release($"o{i}"));
            }
        }
        var heads = new List<(long SequenceNr, byte[] Bytes)>();
        await using (var connection = new NpgsqlConnection(ConnectionString))
        {
            await connection.OpenAsync();
            // Every head of the SKU: the last digit of its available units changed (e.g. 100 read as 101), refused by its checksum.
            await using (var read = new NpgsqlCommand("SELECT sequence_number, snapshot FROM snapshot WHERE persistence_id = 'sku-pg-bent'", connection))
            await using (var rows = await read.ExecuteReaderAsync())
                while (await rows.ReadAsync()) heads.Add((rows.GetInt64(0), (byte[])rows.GetValue(1)));
            Assert.NotEmpty(heads);
            foreach (var (sequenceNr, bytes) in heads)
            {
                var at = bytes.AsSpan().IndexOf("\"available\":"u8) + "\"available\":"u8.Length;
                Assert.True(at > 20);
                while (char.IsAsciiDigit((char)bytes[at + 1])) at++;
                bytes[at] ^= 1;
                await using var write = new NpgsqlCommand("UPDATE snapshot SET snapshot = @b WHERE persistence_id = 'sku-pg-bent' AND sequence_number = @s", connection);
                write.Parameters.AddWithValue("b", bytes);
                write.Parameters.AddWithValue("s", sequenceNr);
                Assert.Equal(1, await write.ExecuteNonQueryAsync());
            }
        }

        await using var second = await Start(overrides);
        Assert.Equal(new StockLevels(100, 0, 0, 0, 0, 0), (await second.Inventory.GetStock("pg-bent")).Levels);
        Assert.True((await second.Inventory.GetJournalStats("pg-bent")).EventsReplayed >= 200);
        for (var i = 0; i < 100; i++)
            Assert.Equal(Restock.Actors.Engine.Inventory.SkuOutcome.AlreadyDone, (await second.Inventory.Execute("pg-bent", new Release($"o{i}"))).Outcome);

        // The same damage under another entity's id fails its load.
        var store = Akka.Persistence.Persistence.Instance.Apply(second.System).SnapshotStoreFor(null);
        await using (var connection = new NpgsqlConnection(ConnectionString))
        {
            await connection.OpenAsync();
            await using var copy = new NpgsqlCommand("INSERT INTO snapshot (persistence_id, sequence_number, created, snapshot, manifest, serializer_id) " +
                                                     "SELECT 'shop-pg-bent', sequence_number, created, snapshot, manifest, serializer_id FROM snapshot " +
                                                     $"WHERE persistence_id = 'sku-pg-bent' AND sequence_number = {heads.Max(h => h.SequenceNr)}", connection);
            Assert.Equal(1, await copy.ExecuteNonQueryAsync());
        }
        var loaded = await store.Ask<object>(new Akka.Persistence.LoadSnapshot("shop-pg-bent", Akka.Persistence.SnapshotSelectionCriteria.Latest, long.MaxValue),
            TimeSpan.FromSeconds(20));
        Assert.Contains("checksum", Assert.IsType<Akka.Persistence.LoadSnapshotFailed>(loaded).Cause.ToString());
    }

    private static async Task Eventually(Func<Task<bool>> done)
    {
        for (var i = 0; !await done(); i++)
        {
            Assert.True(i < 200, "the ledger did not catch up within 20 s");
            await Task.Delay(100);
        }
    }
}
