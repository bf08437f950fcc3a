using Npgsql;
using Restock.Actors.Domain.Inventory;
using Restock.Actors.Domain.Refunds;
using Restock.Actors.Engine.Ledger;
using Restock.Actors.Tests.Support;

namespace Restock.Actors.Tests.Ledger;

/// <summary>
/// After a singleton handoff (or a restart) two ledger projections may run at once for a moment: the old one's follow loop
/// finishes a write after the new one, reading the same journal, has written further. The late write must neither bring
/// back what came after it (a parked line re-armed since, a line restocked by hand since) nor move the stored offset back;
/// nor may a reconciliation pass that read the journal before the projection's last write.
/// </summary>
public static class LedgerWriteFence
{
    private static readonly DateTimeOffset At = DateTimeOffset.UtcNow;

    private static LineParked Parked(string sku) => new("r1", "o1", "shop", sku, 2, "NotPaid", "not paid yet", At, At);

    public static async Task A_late_write_of_an_old_projection_changes_nothing_and_leaves_the_offset(LedgerStore store)
    {
        await store.EnsureSchemaAsync();
        const string attention = LedgerProjection.AttentionName;
        const string ledger = LedgerProjection.Name;

        // The old projection read a parked line (offset 10) and a refund not restocked (offset 11), and stalls before writing.
        IReadOnlyList<LedgerStore.AttentionChange> oldAttention = [new(10, Parked("s1"))];
        IReadOnlyList<LedgerStore.Change> oldLedger =
            [new(11, "s1", new LineRefunded("r1", "o1", "shop", 2, RefundRestock.NotRestocked, 1, 8, At))];

        // The new projection writes the same and what followed: the line re-armed, the refund restocked by hand.
        await store.WriteAttentionAsync(attention, [.. oldAttention, new(20, new LinesRearmed("r1", "o1", ["s1"], At))]);
        await store.WriteAsync(ledger, [.. oldLedger, new(21, "s1", new RefundRestocked("r1", "o1", "shop", 2, RestockTrigger.Manual, "merchant", 1, 10, At))]);
        Assert.Equal(0, (await store.CountNeedingAttentionAsync()).Lines);
        Assert.Empty((await store.NotRestockedAsync(new LedgerQuery(ShopId: "shop"))).Entries);

        // The old projection's writes land now.
        Assert.Empty(await store.WriteAttentionAsync(attention, oldAttention));
        Assert.Empty(await store.WriteAsync(ledger, oldLedger));

        Assert.Equal(0, (await store.CountNeedingAttentionAsync()).Lines);
        Assert.Empty((await store.NotRestockedAsync(new LedgerQuery(ShopId: "shop"))).Entries);
        Assert.Equal(20, await store.ReadOffsetAsync(attention));
        Assert.Equal(21, await store.ReadOffsetAsync(ledger));
        Assert.Single((await store.SearchAsync(new LedgerQuery(ShopId: "shop"))).Entries);

        // A batch reaching past the stored offset writes only what lies beyond it.
        var written = await store.WriteAttentionAsync(attention, [.. oldAttention, new(30, Parked("s2"))]);
        Assert.Equal([30L], written.Select(c => c.Offset));
        Assert.Equal(1, (await store.CountNeedingAttentionAsync()).Lines);
        Assert.Equal(30, await store.ReadOffsetAsync(attention));
    }

    public static async Task A_late_read_past_of_an_old_projection_never_moves_it_back_nor_the_lists_offsets(LedgerStore store)
    {
        await store.EnsureSchemaAsync();
        await store.WriteAttentionAsync(LedgerProjection.AttentionName, [new(5, Parked("s1"))]);

        // The new projection has read past 30; the old one's loop, still running after the handoff, records 20.
        await store.StoreReadPastAsync(LedgerProjection.ReadPastName, 30);
        await store.StoreReadPastAsync(LedgerProjection.ReadPastName, 20);
        Assert.Equal(30, await store.ReadOffsetAsync(LedgerProjection.ReadPastName));
        await store.StoreReadPastAsync(LedgerProjection.ReadPastName, 40);
        Assert.Equal(40, await store.ReadOffsetAsync(LedgerProjection.ReadPastName));

        // The lists' own offsets, which the write fence and the reconciliation go by, stay where their writes put them.
        Assert.Equal(5, await store.ReadOffsetAsync(LedgerProjection.AttentionName));
        Assert.Equal(0, await store.ReadOffsetAsync(LedgerProjection.Name));
    }

    public static async Task A_reconciliation_that_read_the_list_before_a_re_arm_does_not_list_the_line_again(LedgerStore store)
    {
        await store.EnsureSchemaAsync();
        const string attention = LedgerProjection.AttentionName;
        const string reconciled = LedgerProjection.AttentionReconciledName;
        IReadOnlyList<LedgerStore.AttentionChange> parked = [new(10, Parked("s1"))];
        await store.WriteAttentionAsync(attention, parked);

        // A reconciliation pass reads the journal up to the list's offset (10); the projection then writes the re-arm.
        await store.WriteAttentionAsync(attention, [new(20, new LinesRearmed("r1", "o1", ["s1"], At))]);
        Assert.Equal(0, (await store.RepairAttentionAsync(reconciled, checkedUpTo: 10, readUpTo: 10, parked)).Rows);
        Assert.Equal(0, (await store.CountNeedingAttentionAsync()).Lines);
        Assert.Equal(0, await store.ReadOffsetAsync(reconciled));

        // The next pass reads both and finds the list right.
        Assert.Equal(0, (await store.RepairAttentionAsync(reconciled, checkedUpTo: 20, readUpTo: 20,
            [.. parked, new(20, new LinesRearmed("r1", "o1", ["s1"], At))])).Rows);
        Assert.Equal(0, (await store.CountNeedingAttentionAsync()).Lines);
        Assert.Equal(20, await store.ReadOffsetAsync(reconciled));
    }
}

public sealed class LedgerWriteFenceTests
{
    [Fact]
    public async Task A_late_write_of_an_old_projection_changes_nothing_and_leaves_the_offset()
    {
        using var db = new TestDatabase();
        await LedgerWriteFence.A_late_write_of_an_old_projection_changes_nothing_and_leaves_the_offset(new LedgerStore(db.ConnectionString, sqlite: true));
    }

    [Fact]
    public async Task A_late_read_past_of_an_old_projection_never_moves_it_back_nor_the_lists_offsets()
    {
        using var db = new TestDatabase();
        await LedgerWriteFence.A_late_read_past_of_an_old_projection_never_moves_it_back_nor_the_lists_offsets(new LedgerStore(db.ConnectionString, sqlite: true));
    }

    [Fact]
    public async Task A_reconciliation_that_read_the_list_before_a_re_arm_does_not_list_the_line_again()
    {
        using var db = new TestDatabase();
        await LedgerWriteFence.A_reconciliation_that_read_the_list_before_a_re_arm_does_not_list_the_line_again(new LedgerStore(db.ConnectionString, sqlite: true));
    }
}

/// <summary>The same on PostgreSQL. Needs a server (<c>.ci/postgres</c>, RESTOCK_TEST_POSTGRES).</summary>
public sealed class LedgerWriteFencePostgresTests : PostgresTest
{
    [SkippableFact]
    public async Task A_late_write_of_an_old_projection_changes_nothing_and_leaves_the_offset()
    {
        SkipWithoutServer();
        await LedgerWriteFence.A_late_write_of_an_old_projection_changes_nothing_and_leaves_the_offset(new LedgerStore(Database.ConnectionString, sqlite: false));
    }

    [SkippableFact]
    public async Task A_late_read_past_of_an_old_projection_never_moves_it_back_nor_the_lists_offsets()
    {
        SkipWithoutServer();
        await LedgerWriteFence.A_late_read_past_of_an_old_projection_never_moves_it_back_nor_the_lists_offsets(
            new LedgerStore(Database.ConnectionString, sqlite: false));
    }

    [SkippableFact]
    public async Task A_reconciliation_that_read_the_list_before_a_re_arm_does_not_list_the_line_again()
    {
        SkipWithoutServer();
        await LedgerWriteFence.A_reconciliation_that_read_the_list_before_a_re_arm_does_not_list_the_line_again(
            new LedgerStore(Database.ConnectionString, sqlite: false));
    }

    /// <summary>
    /// On PostgreSQL a reconciliation pass and the projection write at once. A pass that looked for a refunded line's
    /// restock just before the projection committed the merchant's restock of it must not leave the line on the
    /// "not restocked" list (where it would offer a second restock).
    /// </summary>
    [SkippableFact]
    public async Task A_reconciliation_racing_the_write_of_a_restock_by_hand_leaves_the_line_off_the_not_restocked_list()
    {
        SkipWithoutServer();
        var at = DateTimeOffset.UtcNow;
        var store = new LedgerStore(Database.ConnectionString, sqlite: false);
        await store.EnsureSchemaAsync();
        var refunded = new LedgerStore.Change(11, "s1", new LineRefunded("r1", "o1", "shop", 2, RefundRestock.NotRestocked, 1, 8, at));
        await store.WriteAsync(LedgerProjection.Name, [refunded]);

        // The projection's write of the restock by hand (offset 21), held open before it commits.
        await using var projection = new NpgsqlConnection(Database.ConnectionString);
        await projection.OpenAsync();
        await using var write = await projection.BeginTransactionAsync();
        foreach (var sql in new[]
                 {
                     $"SELECT last_ordering FROM ledger_offset WHERE projection = '{LedgerProjection.Name}' FOR UPDATE",
                     "INSERT INTO restock_ledger (shop_id, order_id, refund_id, sku_id, quantity, stock_before, stock_after, trigger_kind, " +
                     "setting_version, at_ms) VALUES ('shop', 'o1', 'r1', 's1', 2, 8, 10, 'Manual', 1, 0)",
                     "DELETE FROM not_restocked WHERE refund_id = 'r1' AND sku_id = 's1'",
                     $"UPDATE ledger_offset SET last_ordering = 21 WHERE projection = '{LedgerProjection.Name}'",
                 })
        {
            await using var command = new NpgsqlCommand(sql, projection, write);
            await command.ExecuteNonQueryAsync();
        }

        // A pass that read the journal up to 11 repairs meanwhile; it waits on the open write, which then commits.
        var repair = store.RepairAsync(LedgerProjection.ReconciledName, 11, [refunded]);
        await using (var watch = new NpgsqlConnection(Database.ConnectionString))
        {
            await watch.OpenAsync();
            await using var waiting = new NpgsqlCommand(
                "SELECT COUNT(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()", watch);
            for (var i = 0; i < 600 && Convert.ToInt64(await waiting.ExecuteScalarAsync()) == 0; i++) await Task.Delay(50);
        }
        await write.CommitAsync();
        await repair;

        Assert.Single((await store.SearchAsync(new LedgerQuery(ShopId: "shop"))).Entries);
        Assert.Empty((await store.NotRestockedAsync(new LedgerQuery(ShopId: "shop"))).Entries);
    }

    /// <summary>
    /// A reconciliation pass that repairs a restock the projection is about to write, while the projection's write holds
    /// its offset: both must finish (neither may be chosen as a deadlock's victim), and the restock be in the ledger once.
    /// </summary>
    [SkippableFact]
    public async Task A_reconciliation_and_the_projection_writing_the_same_restock_at_once_both_finish()
    {
        SkipWithoutServer();
        var at = DateTimeOffset.UtcNow;
        var store = new LedgerStore(Database.ConnectionString, sqlite: false);
        await store.EnsureSchemaAsync();
        LedgerStore.Change Restocked(long offset, string refund) =>
            new(offset, "s1", new LineRefunded(refund, "o1", "shop", 2, RefundRestock.Restocked, 1, 10, at));
        LedgerStore.Change NotRestocked(long offset, string refund) =>
            new(offset, "s1", new LineRefunded(refund, "o1", "shop", 2, RefundRestock.NotRestocked, 1, 8, at));

        // Another transaction holds the ledger row of r0, so the projection's write below stops there, its offset locked.
        await using var other = new NpgsqlConnection(Database.ConnectionString);
        await other.OpenAsync();
        await using var holding = await other.BeginTransactionAsync();
        await using (var insert = new NpgsqlCommand(
                         "INSERT INTO restock_ledger (shop_id, order_id, refund_id, sku_id, quantity, stock_before, stock_after, trigger_kind, " +
                         "setting_version, at_ms) VALUES ('shop', 'o0', 'r0', 's1', 1, 0, 1, 'Auto', 1, 0)", other, holding))
            await insert.ExecuteNonQueryAsync();
        var projection = store.WriteAsync(LedgerProjection.Name, [Restocked(10, "r0"), Restocked(11, "r1")]);
        await WaitForLockWaits(1);
        // A pass repairs r1 (and a refund not restocked, so that it looks at the projection's offset) meanwhile.
        var repair = store.RepairAsync(LedgerProjection.ReconciledName, 12, [Restocked(11, "r1"), NotRestocked(12, "r2")]);
        await WaitForLockWaits(2);
        await holding.RollbackAsync();

        await Task.WhenAll(projection, repair);
        Assert.Equal(["r1", "r0"], (await store.SearchAsync(new LedgerQuery(ShopId: "shop"))).Entries.Select(e => e.RefundId));
        Assert.Equal(["r2"], (await store.NotRestockedAsync(new LedgerQuery(ShopId: "shop"))).Entries.Select(e => e.RefundId));
    }

    private async Task WaitForLockWaits(int count)
    {
        await using var watch = new NpgsqlConnection(Database.ConnectionString);
        await watch.OpenAsync();
        await using var waiting = new NpgsqlCommand(
            "SELECT COUNT(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()", watch);
        for (var i = 0; i < 600 && Convert.ToInt64(await waiting.ExecuteScalarAsync()) < count; i++) await Task.Delay(50);
    }
}
