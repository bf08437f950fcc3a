using Akka.Serialization;
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

    /// <summary>Every manifest the build before parts (main at 5f86f2f) reads: its Contracts' lists (All, Binary, ReadOnly).</summary>
    private static readonly string[] ManifestsBeforeParts =
    [
        "sku.set-stock", "sku.adjust-stock", "sku.reserve", "sku.release", "sku.expire-reservations", "sku.confirm-payment", "sku.ship",
        "sku.refund-line", "sku.stock-adjusted", "sku.stock-reserved", "sku.reservation-released", "sku.payment-confirmed", "sku.line-shipped",
        "sku.line-refunded", "sku.restock-refund", "sku.refund-restocked", "sku.owner-recorded", "sku.erp-restock-released",
        "shop.set-auto-restock", "shop.set-erp-restocks", "shop.import-from-whitelist", "shop.auto-restock-changed", "shop.erp-restocks-changed",
        "shop.request", "shop.get-settings", "shop.get-restock-policy", "shop.restock-policy", "shop.reply", "refund.received",
        "refund.restock-decided", "refund.line-settled", "refund.line-deferred", "refund.line-parked", "refund.lines-rearmed", "refund.succeeded",
        "refund.get", "refund.resume", "refund.reply", "sku.request", "sku.get-stock", "sku.resume", "sku.get-journal-stats", "sku.reply",
        "sku.requests", "sku.replies", "sku.journal-stats", "access.key-revoked", "sku.snapshot.v2", "sku.id-chunk", "sku.event-batch.v2",
        "sku.snapshot", "sku.event-batch",
    ];

    /// <summary><see cref="SmallHead"/> as the build before parts (5f86f2f) stored it.</summary>
    private const string SmallHeadBeforeParts =
        "A3ABAAB7ImlzS25vd24iOnRydWUsImxldmVscyI6eyJhdmFpbGFibGUiOjk4OCwicmVzZXJ2ZWQiOjEwLCJjb21taXR0ZWQiOjIsInNoaXBwZWQiOjAsInJlZnVuZGVkIjowLCJyZXN0b2NrZWQiOjB9LCJzdG9ja2VkIjoxMDAwLCJvcGVuTGluZXMiOlsiQkFkdmNtUmxjaTB3QWdJQ2dPaVBnN2lFbk44UkFBQUhiM0prWlhJdE1RUUVCSUNZbXJ3RUFBQUhiM0prWlhJdE13Z0lBb0N3dFBnSUFBQUhiM0prWlhJdE5Bb0tBb0NZbXJ3RUFBQT0iXSwicmVmdW5kcyI6W10sImNsb2NrIjoiMjAyNi0xMS0wMVQxMjowMjowMCswMDowMCIsImNodW5rcyI6eyJsaW5lYWdlIjo5LCJmaXJzdCI6MCwiZW5kIjoyLCJwYXJ0cyI6W3sic3RhcnQiOjAsImNvdW50IjoyfV19fQ==";

    /// <summary>A head of a few open lines (one paid, one released), its lines inline.</summary>
    private static SkuSnapshot SmallHead()
    {
        var start = new DateTimeOffset(2026, 11, 1, 12, 0, 0, TimeSpan.Zero);
        var state = SkuStock.Apply(SkuState.Empty(), new StockAdjusted("a1", 1000, "count", start));
        for (var i = 0; i < 5; i++) state = SkuStock.Apply(state, new StockReserved($"order-{i}", 1 + i, start.AddMinutes(15 + i), start.AddSeconds(i)));
        state = SkuStock.Apply(state, new PaymentConfirmed("order-1", 2, start.AddMinutes(1)));
        state = SkuStock.Apply(state, new ReservationReleased("order-2", 3, ReleaseReason.Cancelled, start.AddMinutes(2)));
        return SkuSnapshot.InChunks(state, null, lineage: 9);
    }

    private SerializerWithStringManifest Serializer => (SerializerWithStringManifest)Sys.Serialization.FindSerializerForType(typeof(SkuSnapshot));

    [Fact]
    public void A_head_with_parts_is_stored_under_a_manifest_no_build_before_parts_reads()
    {
        // A build before parts would read this head as a SKU with no open lines (it ignores the parts): it must fail instead.
        var (first, _, _, _) = TwoSnapshots();
        var manifest = Serializer.Manifest(first);
        Assert.DoesNotContain(manifest, ManifestsBeforeParts);

        var read = (SkuSnapshot)Sys.Serialization.Deserialize(Serializer.ToBinary(first), Serializer.Identifier, manifest);
        Assert.Equal(first.LineParts, read.LineParts);
        Assert.Empty(read.OpenLines);
    }

    [Fact]
    public void A_head_without_parts_is_stored_as_the_build_before_parts_stored_it_and_read_either_way()
    {
        var head = SmallHead();
        Assert.Equal("sku.snapshot.v2", Serializer.Manifest(head));
        // But for the head's checksum (session 20 on), a JSON property that build ignores.
        Assert.Equal(SmallHeadBeforeParts, Convert.ToBase64String(SkuSnapshotHeadChecksumTests.WithoutChecksum(Serializer.ToBinary(head))));

        var read = (SkuSnapshot)Sys.Serialization.Deserialize(Convert.FromBase64String(SmallHeadBeforeParts), Serializer.Identifier, "sku.snapshot.v2");
        Assert.Null(read.LineParts);
        Assert.Equal(head.Levels, read.Levels);
        Assert.Equal(head.OpenLines.ToList(), read.OpenLines.ToList());
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
    public void A_part_with_a_changed_byte_is_refused_and_a_part_written_without_a_checksum_still_reads()
    {
        var (first, firstDigest, _, _) = TwoSnapshots();
        var store = new Store(Sys.Serialization);
        IdChunks? saved = null;
        Assert.True(SkuSnapshotChunkPropertyTests.Save(store, 1, first, () => true, ref saved));
        var key = BatchedRecoverySnapshotStore.PieceKey(1, 1);
        var part = store.Pieces[key];

        // A byte amid the lines (an id, a quantity or a time; not the layout or the stamp): refused, not read back wrong.
        foreach (var at in new[] { part.Length / 3, part.Length / 2, part.Length - 6 })
        {
            store.Pieces[key] = [.. part[..at], (byte)(part[at] ^ 0x04), .. part[(at + 1)..]];
            Assert.Contains("damaged", Assert.ThrowsAny<System.Runtime.Serialization.SerializationException>(() => store.Load()).Message);
        }

        // As a build before session 19 wrote it: layout 1, no checksum.
        store.Pieces[key] = [1, .. part[1..^4]];
        Assert.Equal(firstDigest, SkuSnapshotReplayPropertyTests.Digest(store.Load()!.Value.Snapshot.ToState(Horizon)));
        store.Pieces[key] = part;
        Assert.Equal(firstDigest, SkuSnapshotReplayPropertyTests.Digest(store.Load()!.Value.Snapshot.ToState(Horizon)));
    }

    [Fact]
    public void A_second_save_at_the_same_sequence_number_cut_off_at_any_step_never_mixes_the_two_saves_parts()
    {
        // A SKU that recovered after a crash snapshots again at the same place: the same lines, in another order in its table
        // (recovery fills it anew), so its part 0 holds other lines than the first save's part 0.
        var (first, firstDigest, _, _) = TwoSnapshots();
        var state = SkuStock.Apply(SkuState.Empty(), new StockAdjusted("a1", 10_000_000, "count", Start));
        for (var i = 39_999; i >= 0; i--) state = Reserve(state, i, 1);
        var again = SkuSnapshot.InChunks(state, null, lineage: 5);
        Assert.Equal(firstDigest, SkuSnapshotReplayPropertyTests.Digest(state));
        Assert.NotEqual(first.LineParts!.Stamp, again.LineParts!.Stamp);
        for (var crashAfter = 1; ; crashAfter++)
        {
            var store = new Store(Sys.Serialization);
            IdChunks? saved = null;
            Assert.True(SkuSnapshotChunkPropertyTests.Save(store, 1, first, () => true, ref saved));
            var steps = 0;
            var finished = SkuSnapshotChunkPropertyTests.Save(store, 1, again, () => ++steps < crashAfter, ref saved);

            // Either head whole (both hold the same state), or none when the second's parts replaced some of the first's.
            if (store.Load() is { } loaded) Assert.Equal(firstDigest, SkuSnapshotReplayPropertyTests.Digest(loaded.Snapshot.ToState(Horizon)));
            if (finished)
            {
                Assert.NotNull(store.Load());
                break;
            }
        }
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
        Db.Snapshots.Strings($"SELECT sequence_number FROM snapshot WHERE persistence_id = '{persistenceId}' ORDER BY sequence_number").Select(long.Parse).ToList();

    /// <summary>
    /// A SKU with 20,000 reservations (its snapshot after 17,000 events holds its open lines in two parts), or 40,000 (a
    /// second snapshot after 34,000, in three parts); then stopped as by a crash. Returns the head's sequence number.
    /// </summary>
    private async Task<long> SellAndCrash(string sku, int reservations = 20_000, int parts = 2)
    {
        var actor = Sys.ActorOf(SkuActor.Props(sku, Parted, new TestClock(Start)));
        Assert.Equal(SkuOutcome.Done, (await actor.AskBounded<SkuReply>(new SkuRequest(sku, new SetStock("a1", 1_000_000, "delivery", "shop-a")))).Outcome);
        for (var i = 0; i < reservations; i++) actor.Tell(new SkuRequest(sku, new Reserve($"o{i}", 1, Start.AddDays(1))), TestActor);
        Assert.All(ReceiveN(reservations, TimeSpan.FromSeconds(120)).Cast<SkuReply>(), r => Assert.Equal(SkuOutcome.Done, r.Outcome));
        long head = 0;
        // The latest head alone, under the manifest of heads with parts, and exactly its parts, once the store has saved it
        // and the SKU has deleted the heads before it.
        await AwaitAssertAsync(() =>
        {
            var heads = Keys(SkuActor.PersistenceIdFor(sku));
            Assert.Single(heads);
            head = heads[0];
            Assert.Equal(Enumerable.Range(0, parts).Select(i => BatchedRecoverySnapshotStore.PieceKey(head, i)),
                Keys(BatchedRecoverySnapshotStore.PiecesOf(SkuActor.PersistenceIdFor(sku))));
        }, TimeSpan.FromSeconds(60), TimeSpan.FromMilliseconds(100));
        Assert.Equal(["sku.snapshot.v2.line-parts"], Db.Snapshots.Strings($"SELECT manifest FROM snapshot WHERE persistence_id = '{SkuActor.PersistenceIdFor(sku)}'"));
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
    public async Task Once_a_later_head_is_stored_only_its_own_parts_are_left_and_the_sku_recovers_from_them()
    {
        var head = await SellAndCrash("twice", reservations: 40_000, parts: 3);
        var restarted = Sys.ActorOf(SkuActor.Props("twice", Parted, new TestClock(Start)));
        var replayed = (await restarted.AskBounded<JournalStats>(new GetJournalStats("twice"))).EventsReplayed;
        Assert.InRange(replayed, 1, 7_000);
        Assert.Equal(new StockLevels(1_000_000 - 40_000, 40_000, 0, 0, 0, 0), (await restarted.AskBounded<SkuReply>(new GetStock("twice"))).Levels);
        foreach (var i in new[] { 0, 16_500, 33_000, 39_999 })
            Assert.Equal(SkuOutcome.Done, (await restarted.AskBounded<SkuReply>(new SkuRequest("twice", new ConfirmPayment($"o{i}")))).Outcome);
    }

    [Fact]
    public async Task Parts_of_a_save_cut_off_before_its_head_go_at_the_next_save_even_one_without_parts()
    {
        // Left by a process that crashed between the parts and the head of this SKU's first snapshot in parts.
        Akka.Persistence.Persistence.Instance.Apply(Sys).SnapshotStoreFor(null);
        await AwaitAssertAsync(() => Assert.Equal(1, Db.Snapshots.Count("SELECT count(*) FROM sqlite_master WHERE name = 'snapshot'")),
            TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(100));
        var pieces = BatchedRecoverySnapshotStore.PiecesOf(SkuActor.PersistenceIdFor("cut"));
        foreach (var key in new[] { BatchedRecoverySnapshotStore.PieceKey(9, 0), BatchedRecoverySnapshotStore.PieceKey(9, 1) })
            Db.Snapshots.Execute("INSERT INTO snapshot (persistence_id, sequence_number, created, snapshot, manifest, serializer_id) " +
                                 $"VALUES ('{pieces}', {key}, 0, X'01', 'sku.open-lines-part', 4711)");

        // This process learns which ids have rows as it starts; the SKU's next head has no parts (a few open lines).
        await using var engine = await RestockEngine.StartAsync(Db.Config("restock.inventory.snapshot-every = 20")).Within("the engine to start");
        Assert.True((await engine.Inventory.Execute("cut", new SetStock("a1", 100, "delivery", "shop-a"))).Succeeded);
        for (var i = 0; i < 30; i++)
            Assert.Equal(SkuOutcome.Done, (await engine.Inventory.Execute("cut", new Reserve($"o{i}", 1, DateTimeOffset.UtcNow.AddDays(1)))).Outcome);
        await AwaitAssertAsync(() =>
        {
            Assert.NotEmpty(Keys(SkuActor.PersistenceIdFor("cut")));
            Assert.Empty(Keys(pieces));
        }, TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(100));
    }

    [Fact]
    public async Task A_head_missing_one_of_its_parts_is_passed_over_and_the_journal_replays_instead()
    {
        var head = await SellAndCrash("torn");
        Db.Snapshots.Execute($"DELETE FROM snapshot WHERE persistence_id = '{BatchedRecoverySnapshotStore.PiecesOf(SkuActor.PersistenceIdFor("torn"))}' " +
                             $"AND sequence_number = {BatchedRecoverySnapshotStore.PieceKey(head, 1)}");
        var restarted = Sys.ActorOf(SkuActor.Props("torn", Parted, new TestClock(Start)));
        Assert.True(await AssertOpen(restarted, "torn") > 20_000);
    }
}
