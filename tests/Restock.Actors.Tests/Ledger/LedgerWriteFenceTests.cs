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

    public static async Task A_reconciliation_that_read_the_list_before_a_re_arm_does_not_list_the_line_again(LedgerStore store)
    {
        await store.EnsureSchemaAsync();
        const string attention = LedgerProjection.AttentionName;
        const string reconciled = LedgerProjection.AttentionReconciledName;
        IReadOnlyList<LedgerStore.AttentionChange> parked = [new(10, Parked("s1"))];
        await store.WriteAttentionAsync(attention, parked);

        // A reconciliation pass reads the journal up to the list's offset (10); the projection then writes the re-arm.
        await store.WriteAttentionAsync(attention, [new(20, new LinesRearmed("r1", "o1", ["s1"], At))]);
        Assert.Equal(0, await store.RepairAttentionAsync(reconciled, checkedUpTo: 10, listedUpTo: 10, parked));
        Assert.Equal(0, (await store.CountNeedingAttentionAsync()).Lines);
        Assert.Equal(0, await store.ReadOffsetAsync(reconciled));

        // The next pass reads both and finds the list right.
        Assert.Equal(0, await store.RepairAttentionAsync(reconciled, checkedUpTo: 20, listedUpTo: 20,
            [.. parked, new(20, new LinesRearmed("r1", "o1", ["s1"], At))]));
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
    public async Task A_reconciliation_that_read_the_list_before_a_re_arm_does_not_list_the_line_again()
    {
        SkipWithoutServer();
        await LedgerWriteFence.A_reconciliation_that_read_the_list_before_a_re_arm_does_not_list_the_line_again(
            new LedgerStore(Database.ConnectionString, sqlite: false));
    }
}
