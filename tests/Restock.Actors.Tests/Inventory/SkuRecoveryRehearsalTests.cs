using Restock.Actors.Domain.Inventory;
using Restock.Actors.Engine.Inventory;
using Restock.Actors.Tests.Support;
using Xunit.Abstractions;

namespace Restock.Actors.Tests.Inventory;

/// <summary>
/// The SKU recovery the engine rehearses once at start: a rehearsal that failed would only log a warning at each start and
/// leave every first recovery running tier-0 code, so its recoveries are checked here against the SKU it built.
/// </summary>
public sealed class SkuRecoveryRehearsalTests(ITestOutputHelper output) : EngineTestKit(output)
{
    [Fact]
    public void Every_recovery_rehearsed_at_start_gives_the_sku_the_sale_built()
    {
        var rehearsal = SkuRecoveryRehearsal.Run(Sys.Serialization);

        // From nothing, from the head with its open lines inline, from the head with them in a part.
        Assert.Equal(3, rehearsal.Recovered.Count);
        var built = SkuSnapshotReplayPropertyTests.Digest(rehearsal.Built);
        Assert.All(rehearsal.Recovered, state => Assert.Equal(built, SkuSnapshotReplayPropertyTests.Digest(state)));
        // The reservation a recovery is for, decided on each.
        Assert.True(rehearsal.Built.OpenLines.ContainsKey("after-recovery"));
    }

    [Fact]
    public void The_rehearsal_runs_every_kind_of_event_the_replay_applies_more_often_than_the_runtime_waits_to_optimise()
    {
        var journal = SkuRecoveryRehearsal.Run(Sys.Serialization).Journal;

        // The runtime optimises a method after 30 calls.
        Assert.All(new[]
        {
            journal.OfType<StockAdjusted>().Count(), journal.OfType<StockReserved>().Count(),
            journal.OfType<ReservationReleased>().Count(r => r.Reason == ReleaseReason.Cancelled),
            journal.OfType<ReservationReleased>().Count(r => r.Reason == ReleaseReason.PaymentDeadlinePassed),
            journal.OfType<PaymentConfirmed>().Count(), journal.OfType<LineShipped>().Count(), journal.OfType<LineRefunded>().Count(),
            journal.OfType<RefundRestocked>().Count(r => r.Trigger == RestockTrigger.Manual),
            journal.OfType<RefundRestocked>().Count(r => r.Trigger == RestockTrigger.Erp),
        }, count => Assert.True(count > 30, $"{count} events of a kind"));
    }

    [Fact]
    public void The_rehearsal_s_heads_take_the_paths_a_large_sku_s_recovery_takes()
    {
        var rehearsal = SkuRecoveryRehearsal.Run(Sys.Serialization);
        var (inline, inParts) = (rehearsal.Heads[0], rehearsal.Heads[1]);

        Assert.NotEmpty(inline.OpenLines);
        Assert.Null(inline.LineParts);
        // The second head's lines came back from their part, its ids from its own chunk and part of the first head's.
        Assert.NotEmpty(inParts.OpenLines);
        Assert.Equal(2, inParts.Chunks!.Parts.Length);
        Assert.True(inParts.Chunks.First > inParts.Chunks.Parts[0].Start, "no id of the first chunk was forgotten");
        Assert.NotEmpty(inParts.Refunds);
        // An id of the longest kind among the remembered ones (the chunk's checksum takes its vectorised path).
        Assert.Contains(rehearsal.Built.Remembered.Lines, id => id.Key.Length == Restock.Actors.Domain.Ids.MaxLength);
    }
}
