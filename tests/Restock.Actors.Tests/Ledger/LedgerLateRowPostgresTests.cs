using Akka.Persistence.Sql.Config;
using Npgsql;
using Restock.Actors.Domain.Inventory;
using Restock.Actors.Domain.Refunds;
using Restock.Actors.Engine.Hosting;
using Restock.Actors.Engine.Ledger;
using Restock.Actors.Tests.Support;

namespace Restock.Actors.Tests.Ledger;

/// <summary>
/// On PostgreSQL a journal row can commit after the projection gave its gap up (the gap window passed while its write was
/// still in flight): the reconciliation must find it even when its list never writes again, as the "needs attention" list
/// seldom does. Needs a server (<c>.ci/postgres</c>, RESTOCK_TEST_POSTGRES).
/// </summary>
public sealed class LedgerLateRowPostgresTests : PostgresTest
{
    [SkippableFact]
    public async Task A_refund_row_committed_after_its_gap_was_given_up_is_repaired_without_a_later_write_to_its_list()
    {
        SkipWithoutServer();
        var connectionString = Database.ConnectionString;
        // batch-size 1: the read-past offset is stored at every move, so the test sees when the projection is past the rows.
        await using var engine = await RestockEngine.StartAsync(RestockConfig.Load(name => name switch
        {
            "RESTOCK_JOURNAL" => "postgresql",
            "RESTOCK_CONNECTION_STRING" => connectionString,
            "RESTOCK_SINGLE_NODE" => "on",
            _ => null,
        }, ["restock.ledger.reconcile-every = 0s", "restock.ledger.gap-window = 1s", "restock.ledger.batch-size = 1"])).Within("the engine to start");
        await engine.Inventory.Execute("pg-mug", new SetStock("a1", 5, "delivery", "shop"));

        // A SKU's refund (restocked) and a coordinator's parked line take their orderings and commit later.
        var at = DateTimeOffset.UtcNow;
        await using var late = new NpgsqlConnection(connectionString);
        await late.OpenAsync();
        await using var write = await late.BeginTransactionAsync();
        var refunded = await Insert(engine, late, write, "sku-pg-late", ILedgerEvent.Tag,
            new LineRefunded("r-late", "o-late", "shop", 2, RefundRestock.Restocked, 1, 7, at));
        var parked = await Insert(engine, late, write, "refunds-o-parked", IRefundAttentionEvent.Tag,
            new LineParked("r-parked", "o-parked", "shop", "pg-mug", 1, "NotPaid", "not paid yet", at, at));

        // Rows above them commit; the projection gives the gap up after its window and reads past it.
        for (var i = 0; i < 3; i++)
            await engine.Inventory.Execute("pg-mug", new SetStock($"a{i + 2}", 5 + i, "delivery", "shop"));
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (await engine.Ledger.ReadOffsetAsync(LedgerProjection.ReadPastName) <= parked)
        {
            Assert.True(DateTime.UtcNow < deadline, "the projection did not read past the rows still being written");
            await Task.Delay(100);
        }
        await write.CommitAsync();
        Assert.True(await engine.Ledger.ReadOffsetAsync(LedgerProjection.Name) < refunded);
        Assert.True(await engine.Ledger.ReadOffsetAsync(LedgerProjection.AttentionName) < parked);

        var reconciled = await engine.ReconcileLedgerAsync(TimeSpan.FromSeconds(20));
        Assert.Equal(["r-late"], reconciled.Repaired.Select(c => ((LineRefunded)c.Event).RefundId));
        var entry = Assert.Single((await engine.Ledger.SearchAsync(new LedgerQuery(SkuId: "pg-late"))).Entries);
        Assert.Equal(("o-late", 2L, RestockTrigger.Auto), (entry.OrderId, entry.Quantity, entry.Trigger));
        Assert.Equal(1, reconciled.AttentionRepaired);
        var listed = Assert.Single((await engine.Ledger.NeedsAttentionAsync(new LedgerQuery(ShopId: "shop"))).Entries);
        Assert.Equal(("o-parked", "r-parked", "pg-mug"), (listed.OrderId, listed.RefundId, listed.SkuId));
    }

    /// <summary>Writes <paramref name="payload"/> as the journal plugin would, tagged; its ordering.</summary>
    private static async Task<long> Insert(RestockEngine engine, NpgsqlConnection connection, NpgsqlTransaction transaction,
        string persistenceId, string tag, object payload)
    {
        var separator = new JournalConfig(engine.System.Settings.Config.GetConfig("akka.persistence.journal.sql")).PluginConfig.TagSeparator;
        var serializer = engine.System.Serialization.FindSerializerFor(payload);
        await using var command = new NpgsqlCommand(
            """
            INSERT INTO journal (persistence_id, sequence_number, deleted, tags, message, manifest, identifier, writer_uuid, created)
            VALUES (@pid, 1, false, @tags, @message, @manifest, @identifier, 'test', @created)
            RETURNING ordering
            """, connection, transaction);
        command.Parameters.AddWithValue("pid", persistenceId);
        command.Parameters.AddWithValue("tags", separator + tag + separator);
        command.Parameters.AddWithValue("message", serializer.ToBinary(payload));
        command.Parameters.AddWithValue("manifest", Akka.Serialization.Serialization.ManifestFor(serializer, payload));
        command.Parameters.AddWithValue("identifier", serializer.Identifier);
        command.Parameters.AddWithValue("created", DateTime.UtcNow.Ticks);
        return (long)(await command.ExecuteScalarAsync())!;
    }
}
