using Restock.Actors.Domain.Refunds;
using Restock.Actors.Engine.Hosting;
using Restock.Actors.Engine.Ledger;
using Restock.Actors.Tests.Support;

namespace Restock.Actors.Tests.Ledger;

/// <summary>
/// The needs-attention gauge is fed by two counts that race (the projection's follow loop after each write, the
/// reconciliation after a repair): a count read earlier but answered later must not replace a newer one.
/// </summary>
public sealed class NeedingAttentionGaugeTests
{
    [Fact]
    public void A_count_read_at_an_older_offset_that_arrives_late_does_not_replace_the_newer_count()
    {
        var gauge = new NewestCount();
        var older = gauge.Start();
        var newer = gauge.Start();

        // Read before the line was re-armed (offset 10: one line listed), answered after the count read at offset 20.
        Assert.True(gauge.Report(offset: 20, newer, count: 0));
        Assert.False(gauge.Report(offset: 10, older, count: 1));
        Assert.Equal(0, gauge.Value);

        // A later offset always wins, whenever it started.
        Assert.True(gauge.Report(offset: 30, older, count: 2));
        Assert.Equal(2, gauge.Value);
    }

    [Fact]
    public void At_the_same_offset_the_count_started_last_wins()
    {
        // The reconciliation repairs rows without moving the list's offset: the count that started after the repair is the truth.
        var gauge = new NewestCount();
        var beforeRepair = gauge.Start();
        var afterRepair = gauge.Start();
        Assert.True(gauge.Report(offset: 20, afterRepair, count: 0));
        Assert.False(gauge.Report(offset: 20, beforeRepair, count: 1));
        Assert.Equal(0, gauge.Value);
    }

    [Fact]
    public async Task The_count_comes_with_the_lists_offset_read_with_it()
    {
        using var db = new TestDatabase();
        var store = new LedgerStore(db.ConnectionString, sqlite: true);
        await store.EnsureSchemaAsync();
        Assert.Equal(new LedgerStore.AttentionCount(0, 0), await store.CountNeedingAttentionAsync());

        var at = DateTimeOffset.UtcNow;
        await store.WriteAttentionAsync(LedgerProjection.AttentionName, [new(12, new LineParked("r1", "o1", "shop", "s1", 2, "NotPaid", null, at, at))]);
        Assert.Equal(new LedgerStore.AttentionCount(1, 12), await store.CountNeedingAttentionAsync());
    }
}
