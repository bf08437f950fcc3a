using Restock.Actors.Domain.Inventory;
using Restock.Actors.Engine.Inventory;
using Restock.Actors.Engine.Ledger;
using Restock.Actors.Tests.Support;

namespace Restock.Actors.Tests.Ledger;

/// <summary>
/// The ledger reads the journal itself: a restock's row is read once every row below it is there, so a batch that commits
/// late (PostgreSQL makes orderings visible out of order) still lands once and in journal order, and a row that never
/// comes (a rolled-back write) holds the ledger back only for the gap window. Gaps are made by moving a journal row out
/// of the table and back, on the test's own clock.
/// </summary>
public sealed class JournalTailTests
{
    private static async Task<TestEngine> RefundedSix(params string[] overrides)
    {
        var t = await TestEngine.StartAsync(["restock.ledger.projection = off", .. overrides]);
        await t.Switch("shop", true);
        await t.Stock("shop", "a", 100);
        for (var i = 0; i < 6; i++)
        {
            await t.PaidOrder("a", $"o{i}", 2);
            await t.Refund("shop", $"o{i}", $"r{i}", ("a", 1));
            await t.Finished($"o{i}", $"r{i}");
        }
        return t;
    }

    private static List<long> RestockRows(TestEngine t) =>
        t.Database.Strings($"SELECT ordering FROM journal WHERE instr(tags, ';{ILedgerEvent.Tag};') > 0 ORDER BY ordering").Select(long.Parse).ToList();

    private static void HoldBack(TestEngine t, long ordering) =>
        t.Database.Execute($"CREATE TABLE held AS SELECT * FROM journal WHERE ordering = {ordering}; DELETE FROM journal WHERE ordering = {ordering};");

    private static void CommitHeld(TestEngine t) => t.Database.Execute("INSERT INTO journal SELECT * FROM held; DROP TABLE held;");

    private static JournalTail Tail(TestEngine t, TestClock clock) =>
        new(t.Engine.System.Settings.Config.GetConfig("akka.persistence.journal.sql"), t.Engine.System.Serialization, TimeSpan.FromMinutes(1), 0, clock);

    private static string RefundOf(JournalTail.Row row) => ((LineRefunded)SkuEventBatch.Expand(row.Event).Single(e => e is LineRefunded)).RefundId;

    [Fact]
    public async Task Rows_after_a_missing_ordering_wait_for_it_and_come_once_in_order_when_it_commits_or_after_the_gap_window()
    {
        await using var t = await RefundedSix();
        var restocks = RestockRows(t);
        Assert.Equal(6, restocks.Count);
        var clock = new TestClock(DateTimeOffset.UtcNow);

        HoldBack(t, restocks[2]);
        await using (var tail = Tail(t, clock))
        {
            await tail.AdvanceAsync(CancellationToken.None);
            Assert.Equal(restocks[2] - 1, tail.CompleteUpTo);
            Assert.Equal(["r0", "r1"], (await tail.AllTaggedAsync(ILedgerEvent.Tag, 0, tail.CompleteUpTo, default)).Select(RefundOf));

            CommitHeld(t);
            await tail.AdvanceAsync(CancellationToken.None);
            var rows = await tail.AllTaggedAsync(ILedgerEvent.Tag, 0, tail.CompleteUpTo, default);
            Assert.Equal(restocks, rows.Select(r => r.Ordering));
            Assert.Equal(["r0", "r1", "r2", "r3", "r4", "r5"], rows.Select(RefundOf));
        }

        // A write that never commits: waited for the gap window after a later row was seen, then skipped.
        t.Database.Execute($"DELETE FROM journal WHERE ordering = {restocks[4]}");
        await using (var tail = Tail(t, clock))
        {
            await tail.AdvanceAsync(CancellationToken.None);
            Assert.Equal(restocks[4] - 1, tail.CompleteUpTo);
            clock.Set(clock.GetUtcNow().AddSeconds(59));
            await tail.AdvanceAsync(CancellationToken.None);
            Assert.Equal(restocks[4] - 1, tail.CompleteUpTo);
            clock.Set(clock.GetUtcNow().AddSeconds(2));
            await tail.AdvanceAsync(CancellationToken.None);
            Assert.True(tail.CompleteUpTo >= restocks[5]);
            Assert.Equal(["r0", "r1", "r2", "r3", "r5"], (await tail.AllTaggedAsync(ILedgerEvent.Tag, 0, tail.CompleteUpTo, default)).Select(RefundOf));
        }
    }

    /// <summary>Makes the journal's rows up to <paramref name="ordering"/> look written <paramref name="ago"/> earlier.</summary>
    private static void WrittenEarlier(TestEngine t, long ordering, TimeSpan ago) =>
        t.Database.Execute($"UPDATE journal SET created = created - {ago.Ticks} WHERE ordering <= {ordering}");

    [Fact]
    public async Task A_new_tail_skips_at_once_a_gap_under_rows_written_a_gap_window_ago_and_still_waits_for_a_younger_one()
    {
        await using var t = await RefundedSix();
        var restocks = RestockRows(t);
        // A write rolled back long ago (its rows above written two minutes ago), and one still in flight under rows just written.
        WrittenEarlier(t, restocks[3], TimeSpan.FromMinutes(2));
        t.Database.Execute($"DELETE FROM journal WHERE ordering = {restocks[1]}");
        HoldBack(t, restocks[4]);

        await using var tail = Tail(t, new TestClock(DateTimeOffset.UtcNow));
        await tail.AdvanceAsync(CancellationToken.None);
        Assert.Equal(restocks[4] - 1, tail.CompleteUpTo);
        Assert.Equal(["r0", "r2", "r3"], (await tail.AllTaggedAsync(ILedgerEvent.Tag, 0, tail.CompleteUpTo, default)).Select(RefundOf));

        CommitHeld(t);
        await tail.AdvanceAsync(CancellationToken.None);
        Assert.Equal(["r0", "r2", "r3", "r4", "r5"], (await tail.AllTaggedAsync(ILedgerEvent.Tag, 0, tail.CompleteUpTo, default)).Select(RefundOf));
    }

    [Fact]
    public async Task A_projection_started_after_an_old_journal_gap_does_not_hold_back_the_restocks_above_it()
    {
        await using var t = await RefundedSix("restock.ledger.gap-window = 1h", "restock.ledger.reconcile-every = 0s");
        var restocks = RestockRows(t);
        // A write that failed two hours ago, when an earlier run of the projection waited for it and gave it up.
        t.Database.Execute($"DELETE FROM journal WHERE ordering = {restocks[2]}");
        WrittenEarlier(t, long.MaxValue, TimeSpan.FromHours(2));

        t.Engine.System.ActorOf(LedgerProjection.Props(t.Engine.Ledger, LedgerSettings.From(t.Engine.System.Settings.Config)));
        var entries = await t.Ledger(new LedgerQuery(SkuId: "a"), 5);
        Assert.Equal(["r0", "r1", "r3", "r4", "r5"], entries.Select(e => e.RefundId).Order());
    }

    [Fact]
    public async Task A_restock_whose_journal_row_commits_late_lands_in_the_ledger_once_and_in_journal_order()
    {
        await using var t = await RefundedSix("restock.ledger.gap-window = 1h", "restock.ledger.reconcile-every = 0s");
        var restocks = RestockRows(t);
        HoldBack(t, restocks[2]);

        t.Engine.System.ActorOf(LedgerProjection.Props(t.Engine.Ledger, LedgerSettings.From(t.Engine.System.Settings.Config)));
        Assert.Equal(2, (await t.Ledger(new LedgerQuery(SkuId: "a"), 2)).Count);
        CommitHeld(t);

        var entries = (await t.Ledger(new LedgerQuery(SkuId: "a"), 6)).Reverse().ToList();
        Assert.Equal(["r0", "r1", "r2", "r3", "r4", "r5"], entries.Select(e => e.RefundId));
        Assert.Equal(entries.Select(e => e.LedgerId).Order(), entries.Select(e => e.LedgerId));
    }

    [Fact]
    public async Task Before_the_journal_s_table_exists_there_is_nothing_to_follow_and_its_rows_are_read_once_it_does()
    {
        await using var t = await TestEngine.StartAsync("restock.ledger.projection = off");
        await t.Stock("shop", "a", 100);
        var highest = t.Database.Count("SELECT MAX(ordering) FROM journal");
        // As on a fresh node: its ledger starts before the journal's plugin makes the table on the first write.
        t.Database.Execute("ALTER TABLE journal RENAME TO journal_not_yet");
        await using var tail = Tail(t, new TestClock(DateTimeOffset.UtcNow));

        await tail.AdvanceAsync(CancellationToken.None);
        Assert.Equal(0, tail.CompleteUpTo);

        t.Database.Execute("ALTER TABLE journal_not_yet RENAME TO journal");
        await tail.AdvanceAsync(CancellationToken.None);
        Assert.Equal(highest, tail.CompleteUpTo);
    }
}
