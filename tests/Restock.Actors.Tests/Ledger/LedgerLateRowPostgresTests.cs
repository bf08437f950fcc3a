using System.Diagnostics.Metrics;
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
/// seldom does; a line a pass lists is counted as parked, once; and a restart must not read again (and count again) a row a
/// pass repaired. Needs a server (<c>.ci/postgres</c>, RESTOCK_TEST_POSTGRES).
/// </summary>
public sealed class LedgerLateRowPostgresTests : PostgresTest
{
    [SkippableFact]
    public async Task A_refund_row_committed_after_its_gap_was_given_up_is_repaired_without_a_later_write_to_its_list()
    {
        SkipWithoutServer();
        var connectionString = Database.ConnectionString;
        // batch-size 1: the read-past offset is stored at every move, so the test sees when the projection is past the rows.
        await using var engine = await StartAsync(connectionString, "restock.ledger.batch-size = 1");
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

    [SkippableFact]
    public async Task A_refund_row_repaired_past_the_stored_read_past_offset_is_neither_read_nor_counted_again_after_a_restart()
    {
        SkipWithoutServer();
        var connectionString = Database.ConnectionString;
        // The meter is the process's: only this refund's lag counts (it is dated 2003, no other test's is).
        var at = new DateTimeOffset(2003, 7, 19, 13, 37, 0, TimeSpan.Zero);
        var counted = 0;
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == RestockMetrics.MeterName && instrument.Name == "restock.ledger.projection_lag") l.EnableMeasurementEvents(instrument);
        };
        listener.SetMeasurementEventCallback<double>((_, lag, _, _) =>
        {
            if (Math.Abs(lag - (DateTimeOffset.UtcNow - at).TotalMilliseconds) < TimeSpan.FromDays(1).TotalMilliseconds) Interlocked.Increment(ref counted);
        });
        listener.Start();

        long refunded;
        // The default batch-size: the follow loop stores its read-past offset every 1000 rows, far beyond this test's.
        await using (var engine = await StartAsync(connectionString))
        {
            await engine.Inventory.Execute("pg-mug", new SetStock("a1", 5, "delivery", "shop"));
            await using var late = new NpgsqlConnection(connectionString);
            await late.OpenAsync();
            await using var write = await late.BeginTransactionAsync();
            refunded = await Insert(engine, late, write, "sku-pg-late", ILedgerEvent.Tag,
                new LineRefunded("r-late", "o-late", "shop", 2, RefundRestock.Restocked, 1, 7, at));
            // Only the needs-attention list is written above it: the ledger's offset stays below the refund.
            await ParkAsync(engine, connectionString, "o-above");
            await write.CommitAsync();
            Assert.True(await engine.Ledger.ReadOffsetAsync(LedgerProjection.Name) < refunded);

            await RepairedAsync(engine, r => r.Repaired.Any(c => c.Event is LineRefunded { RefundId: "r-late" }));
            Assert.True(await engine.Ledger.ReadOffsetAsync(LedgerProjection.ReadPastName) >= refunded,
                "a restart would resume below the repaired refund and write it again");
        }

        await using var restarted = await StartAsync(connectionString);
        // Once a line parked after the restart is listed, the projection has read the ledger's rows up to it.
        await ParkAsync(restarted, connectionString, "o-after");
        Assert.Single((await restarted.Ledger.SearchAsync(new LedgerQuery(SkuId: "pg-late"))).Entries);
        Assert.Equal(1, Volatile.Read(ref counted));
    }

    [SkippableFact]
    public async Task A_parked_line_repaired_past_the_stored_read_past_offset_is_counted_once_and_not_read_again_after_a_restart()
    {
        SkipWithoutServer();
        var connectionString = Database.ConnectionString;
        // The meter is the process's: only this line's reason counts (no other test parks a line for it).
        const string reason = "NotPaidLate";
        var counted = 0;
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == RestockMetrics.MeterName && instrument.Name == "restock.refunds.parked_lines") l.EnableMeasurementEvents(instrument);
        };
        listener.SetMeasurementEventCallback<long>((_, lines, tags, _) =>
        {
            foreach (var tag in tags)
                if (tag is { Key: "reason", Value: reason }) Interlocked.Add(ref counted, (int)lines);
        });
        listener.Start();

        long parked;
        await using (var engine = await StartAsync(connectionString))
        {
            await engine.Inventory.Execute("pg-mug", new SetStock("a1", 5, "delivery", "shop"));
            var at = DateTimeOffset.UtcNow;
            await using var late = new NpgsqlConnection(connectionString);
            await late.OpenAsync();
            await using var write = await late.BeginTransactionAsync();
            parked = await Insert(engine, late, write, "refunds-o-parked", IRefundAttentionEvent.Tag,
                new LineParked("r-parked", "o-parked", "shop", "pg-mug", 1, reason, "not paid yet", at, at));

            // Only the ledger is written above it: the needs-attention list's offset stays below the parked line.
            await InsertCommittedAsync(engine, connectionString, "sku-pg-above", ILedgerEvent.Tag,
                new LineRefunded("r-above", "o-above", "shop", 1, RefundRestock.Restocked, 1, 3, at));
            await UntilAsync(async () => (await engine.Ledger.SearchAsync(new LedgerQuery(OrderId: "o-above"))).Entries.Count == 1,
                "the projection did not read past the row still being written");
            await write.CommitAsync();
            Assert.True(await engine.Ledger.ReadOffsetAsync(LedgerProjection.AttentionName) < parked);

            await RepairedAsync(engine, r => r.AttentionRepaired == 1);
            Assert.True(await engine.Ledger.ReadOffsetAsync(LedgerProjection.ReadPastName) >= parked,
                "a restart would resume below the repaired parked line and write it again");
            Assert.Equal(1, Volatile.Read(ref counted));
        }

        await using var restarted = await StartAsync(connectionString);
        // Once a line parked after the restart is listed, the projection has read the list's rows up to it.
        await ParkAsync(restarted, connectionString, "o-after");
        Assert.Single((await restarted.Ledger.NeedsAttentionAsync(new LedgerQuery(OrderId: "o-parked"))).Entries);
        Assert.Equal(1, Volatile.Read(ref counted));
        // Nor by the restarted projection's next pass.
        await restarted.ReconcileLedgerAsync(TimeSpan.FromSeconds(20));
        Assert.Single((await restarted.Ledger.NeedsAttentionAsync(new LedgerQuery(OrderId: "o-parked"))).Entries);
        Assert.Equal(1, Volatile.Read(ref counted));
    }

    private static Task<RestockEngine> StartAsync(string connectionString, params string[] overrides) =>
        RestockEngine.StartAsync(RestockConfig.Load(name => name switch
        {
            "RESTOCK_JOURNAL" => "postgresql",
            "RESTOCK_CONNECTION_STRING" => connectionString,
            "RESTOCK_SINGLE_NODE" => "on",
            _ => null,
        }, ["restock.ledger.reconcile-every = 0s", "restock.ledger.gap-window = 1s", .. overrides])).Within("the engine to start");

    /// <summary>
    /// Commits a line parked for <paramref name="orderId"/> and waits until it is listed: the projection has then read both
    /// lists up to it (the gap under a row still being written given up after its window).
    /// </summary>
    private static async Task ParkAsync(RestockEngine engine, string connectionString, string orderId)
    {
        var at = DateTimeOffset.UtcNow;
        await InsertCommittedAsync(engine, connectionString, "refunds-" + orderId, IRefundAttentionEvent.Tag,
            new LineParked("r-" + orderId, orderId, "shop", "pg-mug", 1, "NotPaid", "not paid yet", at, at));
        await UntilAsync(async () => (await engine.Ledger.NeedsAttentionAsync(new LedgerQuery(OrderId: orderId))).Entries.Count == 1,
            "the projection did not read past the row still being written");
    }

    /// <summary>Writes <paramref name="payload"/> as <see cref="Insert"/> does, committed at once.</summary>
    private static async Task InsertCommittedAsync(RestockEngine engine, string connectionString, string persistenceId, string tag, object payload)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        await Insert(engine, connection, transaction, persistenceId, tag, payload);
        await transaction.CommitAsync();
    }

    /// <summary>
    /// Reconciles until a pass finds what <paramref name="repaired"/> looks for: the follow loop notes where it has read
    /// past just after its writes, so the first pass may still stop below the row.
    /// </summary>
    private static async Task RepairedAsync(RestockEngine engine, Func<LedgerProjection.Reconciled, bool> repaired)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!repaired(await engine.ReconcileLedgerAsync(TimeSpan.FromSeconds(20))))
        {
            Assert.True(DateTime.UtcNow < deadline, "no reconciliation pass repaired the row");
            await Task.Delay(100);
        }
    }

    private static async Task UntilAsync(Func<Task<bool>> done, string failure)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!await done())
        {
            Assert.True(DateTime.UtcNow < deadline, failure);
            await Task.Delay(100);
        }
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
