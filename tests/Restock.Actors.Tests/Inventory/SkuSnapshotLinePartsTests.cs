using Restock.Actors.Domain.Inventory;
using Restock.Actors.Engine.Hosting;
using Restock.Actors.Engine.Inventory;
using Restock.Actors.Tests.Support;
using Xunit.Abstractions;
using Store = Restock.Actors.Tests.Inventory.SkuSnapshotChunkPropertyTests.Store;

namespace Restock.Actors.Tests.Inventory;

/// <summary>
/// A snapshot head whose open lines fill more than one chunk of the table keeps them in parts, each stored on its own
/// before the head, saved as the snapshot store saves them: cut off at any step as by a crash, recovery finds the latest
/// head stored whole with its parts (or the one before it, never a mix), the parts of older heads are gone once a later
/// head is stored, and a head written before parts existed (its lines inline) still recovers.
/// </summary>
public sealed class SkuSnapshotLinePartsTests(ITestOutputHelper output) : EngineTestKit(output)
{
    private static readonly DateTimeOffset Start = SkuStockPropertyTests.Start;
    private static readonly TimeSpan Horizon = SkuState.DefaultHorizon;

    private static SkuState Reserve(SkuState state, int from, int count)
    {
        for (var i = from; i < from + count; i++)
            state = SkuStock.Apply(state, new StockReserved($"order-{i:D6}", 1 + i % 3, Start.AddMinutes(15).AddMilliseconds(i), Start));
        return state;
    }

    /// <summary>A SKU with 40,000 open lines (three chunks of the table), then one where lines were paid, closed and opened in every chunk.</summary>
    private static (SkuSnapshot First, string FirstDigest, SkuSnapshot Second, string SecondDigest) TwoSnapshots()
    {
        var state = Reserve(SkuStock.Apply(SkuState.Empty(), new StockAdjusted("a1", 10_000_000, "count", Start)), 0, 40_000);
        var first = SkuSnapshot.InChunks(state, null, lineage: 5);
        var firstDigest = SkuSnapshotReplayPropertyTests.Digest(state);
        for (var i = 0; i < 40_000; i += 7)
            state = SkuStock.Apply(state, i % 2 == 0
                ? new PaymentConfirmed($"order-{i:D6}", 1 + i % 3, Start)
                : new ReservationReleased($"order-{i:D6}", 1 + i % 3, ReleaseReason.Cancelled, Start));
        state = Reserve(state, 40_000, 12_000);
        var second = SkuSnapshot.InChunks(state, first.Chunks, lineage: 5);
        return (first, firstDigest, second, SkuSnapshotReplayPropertyTests.Digest(state));
    }

    [Fact]
    public void A_head_of_more_than_one_chunk_of_open_lines_keeps_them_in_parts_and_a_small_one_inline()
    {
        var (first, _, second, _) = TwoSnapshots();
        Assert.Equal((3, 40_000), (first.LineParts!.Parts, first.LineParts.Lines));
        Assert.Empty(first.OpenLines);
        Assert.Equal(40_000 - 2_857 + 12_000, second.LineParts!.Lines);

        var small = SkuSnapshot.InChunks(Reserve(SkuStock.Apply(SkuState.Empty(), new StockAdjusted("a1", 10_000_000, "count", Start)), 0, OpenLines.ChunkSlots), null, lineage: 5);
        Assert.Null(small.LineParts);
        Assert.Equal(OpenLines.ChunkSlots, small.OpenLines.Count);
    }

    [Fact]
    public void Cut_off_at_any_step_of_two_saves_recovery_finds_the_latest_head_stored_with_its_own_parts()
    {
        var (first, firstDigest, second, secondDigest) = TwoSnapshots();
        var digests = new Dictionary<int, string> { [1] = firstDigest, [2] = secondDigest };
        for (var crashAfter = 1; ; crashAfter++)
        {
            var store = new Store(Sys.Serialization);
            var steps = 0;
            bool Step() => ++steps < crashAfter;
            IdChunks? saved = null;
            var finished = SkuSnapshotChunkPropertyTests.Save(store, 1, first, Step, ref saved) && SkuSnapshotChunkPropertyTests.Save(store, 2, second, Step, ref saved);

            var loaded = store.Load();
            Assert.Equal(store.Heads.Count > 0 ? store.Heads.Keys.Max() : null, loaded?.Events);
            if (loaded is { } head)
                Assert.True(digests[head.Events] == SkuSnapshotReplayPropertyTests.Digest(head.Snapshot.ToState(Horizon)), $"crash after step {crashAfter}");
            if (!finished) continue;

            // Both saved: only the second head's parts are left.
            Assert.Equal(Enumerable.Range(0, second.LineParts!.Parts).Select(i => BatchedRecoverySnapshotStore.PieceKey(2, i)), store.Pieces.Keys);
            break;
        }
    }

    [Fact]
    public void A_head_missing_one_of_its_parts_or_given_another_head_s_does_not_fit()
    {
        var (first, _, second, _) = TwoSnapshots();
        var store = new Store(Sys.Serialization);
        IdChunks? saved = null;
        Assert.True(SkuSnapshotChunkPropertyTests.Save(store, 1, first, () => true, ref saved));
        var kept = store.Pieces[BatchedRecoverySnapshotStore.PieceKey(1, 1)];

        store.Pieces.Remove(BatchedRecoverySnapshotStore.PieceKey(1, 1));
        Assert.Null(store.Load());

        // A part of the same place written for another head (the second's part 1 holds other lines).
        store.Pieces[BatchedRecoverySnapshotStore.PieceKey(1, 1)] = store.Write(((ISnapshotInParts)second).Piece(1));
        Assert.Null(store.Load());

        store.Pieces[BatchedRecoverySnapshotStore.PieceKey(1, 1)] = kept;
        Assert.NotNull(store.Load());
    }

    [Fact]
    public void A_head_written_with_its_many_open_lines_inline_still_recovers_them()
    {
        var (first, firstDigest, _, _) = TwoSnapshots();
        // What the store held before open lines went in parts: the same head with the lines in its own JSON.
        var inline = first with { OpenLines = first.LinesToStore!, LineParts = null, LinesToStore = null };
        var store = new Store(Sys.Serialization);
        IdChunks? saved = null;
        Assert.True(SkuSnapshotChunkPropertyTests.Save(store, 1, inline, () => true, ref saved));
        Assert.Empty(store.Pieces);

        Assert.Equal(firstDigest, SkuSnapshotReplayPropertyTests.Digest(store.Load()!.Value.Snapshot.ToState(Horizon)));
    }

    private InventorySettings Parted => InventorySettings.From(Sys.Settings.Config) with { SnapshotEvery = 17_000, MaxBatchSize = 2_000 };

    private IReadOnlyList<long> Keys(string persistenceId) =>
        Db.Strings($"SELECT sequence_number FROM snapshot WHERE persistence_id = '{persistenceId}' ORDER BY sequence_number").Select(long.Parse).ToList();

    /// <summary>A SKU with 20,000 reservations: its snapshot after 17,000 events holds its open lines in parts; then stopped as by a crash.</summary>
    private async Task<long> SellAndCrash(string sku)
    {
        var actor = Sys.ActorOf(SkuActor.Props(sku, Parted, new TestClock(Start)));
        Assert.Equal(SkuOutcome.Done, (await actor.AskBounded<SkuReply>(new SkuRequest(sku, new SetStock("a1", 1_000_000, "delivery", "shop-a")))).Outcome);
        for (var i = 0; i < 20_000; i++) actor.Tell(new SkuRequest(sku, new Reserve($"o{i}", 1, Start.AddDays(1))), TestActor);
        Assert.All(ReceiveN(20_000, TimeSpan.FromSeconds(60)).Cast<SkuReply>(), r => Assert.Equal(SkuOutcome.Done, r.Outcome));
        long head = 0;
        // The head and exactly its parts, once the store has saved it.
        await AwaitAssertAsync(() =>
        {
            var heads = Keys(SkuActor.PersistenceIdFor(sku));
            Assert.Single(heads);
            head = heads[0];
            Assert.Equal([BatchedRecoverySnapshotStore.PieceKey(head, 0), BatchedRecoverySnapshotStore.PieceKey(head, 1)],
                Keys(BatchedRecoverySnapshotStore.PiecesOf(SkuActor.PersistenceIdFor(sku))));
        }, TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(100));
        Watch(actor);
        Sys.Stop(actor);
        ExpectTerminated(actor);
        return head;
    }

    /// <summary>How many events the SKU replayed; then its 20,000 lines are open, and lines of both parts and after them can be paid.</summary>
    private static async Task<long> AssertOpen(Akka.Actor.IActorRef actor, string sku)
    {
        var replayed = (await actor.AskBounded<JournalStats>(new GetJournalStats(sku))).EventsReplayed;
        Assert.Equal(new StockLevels(1_000_000 - 20_000, 20_000, 0, 0, 0, 0), (await actor.AskBounded<SkuReply>(new GetStock(sku))).Levels);
        foreach (var i in new[] { 0, 9_999, 16_998, 19_999 })
            Assert.Equal(SkuOutcome.Done, (await actor.AskBounded<SkuReply>(new SkuRequest(sku, new ConfirmPayment($"o{i}")))).Outcome);
        return replayed;
    }

    [Fact]
    public async Task A_sku_with_many_open_lines_recovers_them_from_its_head_and_parts_on_sqlite()
    {
        await SellAndCrash("parted");
        var restarted = Sys.ActorOf(SkuActor.Props("parted", Parted, new TestClock(Start)));
        Assert.InRange(await AssertOpen(restarted, "parted"), 1, 4_000);
    }

    [Fact]
    public async Task A_head_missing_one_of_its_parts_is_passed_over_and_the_journal_replays_instead()
    {
        var head = await SellAndCrash("torn");
        Db.Execute($"DELETE FROM snapshot WHERE persistence_id = '{BatchedRecoverySnapshotStore.PiecesOf(SkuActor.PersistenceIdFor("torn"))}' " +
                   $"AND sequence_number = {BatchedRecoverySnapshotStore.PieceKey(head, 1)}");
        var restarted = Sys.ActorOf(SkuActor.Props("torn", Parted, new TestClock(Start)));
        Assert.True(await AssertOpen(restarted, "torn") > 20_000);
    }
}
