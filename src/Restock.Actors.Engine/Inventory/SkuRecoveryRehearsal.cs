using Restock.Actors.Domain.Inventory;
using Restock.Actors.Engine.Hosting;

namespace Restock.Actors.Engine.Inventory;

/// <summary>
/// A small SKU's recovery run once as the engine starts, in memory and thrown away (no actor, no database): a sale with
/// every kind of event decided and applied, its journal rows and two snapshot heads (open lines inline, and in a part;
/// remembered ids in chunks) written and read back through the engine's serializer, the SKU recovered from each head and
/// from its journal alone, and a reservation decided on each. A process's first recovery ran that path as tier-0 code
/// and waited for the JIT: the replay's apply of ~8,000 events took 11.5–17 ms against 2.6–3.0 ms compiled, and
/// System.Text.Json's first reading of a head ~110 ms at load (PERFORMANCE-LOG "Goal 5, session 20", "Goal 5, session 18").
/// Here each method of it runs more often than the 30 calls after which the runtime optimises it (the loops over a large
/// SKU's entries are optimised at once already), off any entity's turn, while sharding starts.
/// </summary>
public static class SkuRecoveryRehearsal
{
    private const string Shop = "rehearsal";

    // Orders per way a line ends: more than the 30 calls after which the runtime optimises a method.
    private const int Orders = 40;

    // Events per journal row (the actor's group commit writes several commands' events in one row, one alone as itself).
    private const int RowEvents = 8;

    // Ids are forgotten during the sale (a command a second), so the second head keeps part of the first one's chunk.
    private static readonly TimeSpan Horizon = TimeSpan.FromMinutes(10);

    /// <summary>The SKU as the sale left it, its journal, its heads as read back and made whole, and the SKU recovered from each head and from nothing.</summary>
    public sealed record Rehearsal(SkuState Built, IReadOnlyList<SkuEvent> Journal, IReadOnlyList<SkuSnapshot> Heads, IReadOnlyList<SkuState> Recovered);

    public static Rehearsal Run(Akka.Serialization.Serialization serialization)
    {
        var sale = new Sale();
        sale.Decide(new SetStock("rehearsal-stock", SkuStock.MaxQuantity / 2, "rehearsal", Shop));
        for (var i = 0; i < Orders; i++) sale.Decide(new AdjustStock($"rehearsal-adjust-{i}", 1, "rehearsal", Shop));
        // An id of the longest kind among them: a chunk then holds enough bytes for its checksum's vectorised path.
        string Order(string way, int i) => $"{way}-{i}".PadLeft(way == "erp" ? Domain.Ids.MaxLength : 0, 'r');
        string[] ways = ["released", "expired", "shipped", "refunded", "restocked", "erp"];
        foreach (var way in ways)
            for (var i = 0; i < Orders; i++)
                sale.Decide(new Reserve(Order(way, i), 2, sale.Now.Add(way == "expired" ? TimeSpan.FromMinutes(1) : TimeSpan.FromDays(1))));
        for (var i = 0; i < Orders; i++) sale.Decide(new Release(Order("released", i)));
        sale.Decide(new ExpireReservations(sale.Now));
        var (inline, inlineAt) = sale.Capture(serialization, inParts: false);

        foreach (var way in ways[2..])
            for (var i = 0; i < Orders; i++) sale.Decide(new ConfirmPayment(Order(way, i)));
        for (var i = 0; i < Orders; i++) sale.Decide(new Ship(Order("shipped", i)));
        for (var i = 0; i < Orders; i++) sale.Decide(new RefundLine($"refund-{i}", Order("refunded", i), Shop, 2, true, 1, sale.Now));
        for (var i = 0; i < Orders; i++)
        {
            sale.Decide(new RefundLine($"refund-restocked-{i}", Order("restocked", i), Shop, 1, false, 1, sale.Now));
            sale.Decide(new RestockRefund($"refund-restocked-{i}", null, null, RestockTrigger.Manual, Shop, "rehearsal", sale.Now));
        }
        for (var i = 0; i < Orders; i++)
        {
            sale.Decide(new RestockRefund($"refund-erp-{i}", Order("erp", i), 1, RestockTrigger.Erp, Shop, "rehearsal", sale.Now));
            sale.Decide(new RefundLine($"refund-erp-{i}", Order("erp", i), Shop, 1, false, 1, sale.Now));
        }
        var (inParts, inPartsAt) = sale.Capture(serialization, inParts: true);

        foreach (var way in ways[4..])
            for (var i = 0; i < Orders; i++) sale.Decide(new Ship(Order(way, i)));
        for (var i = 0; i < Orders; i++)
        {
            sale.Decide(new Reserve($"late-{i}", 1, sale.Now.AddDays(1)));
            sale.Decide(new Release($"late-{i}"));
        }

        var rows = sale.Rows(serialization, [inlineAt, inPartsAt]);
        List<SkuState> recovered = [Replay(SkuState.Empty(Horizon, Horizon), rows, 0), Replay(inline.ToState(Horizon, Horizon), rows, inlineAt),
            Replay(inParts.ToState(Horizon, Horizon), rows, inPartsAt)];
        // The command a recovery is for, decided on each as on the SKU that never stopped.
        var first = new Reserve("after-recovery", 1, sale.Now.AddDays(1)) { ReceivedAt = sale.Now.AddSeconds(1) };
        foreach (var state in recovered.Prepend(sale.State))
            SkuStock.ApplyAll(state, SkuStock.Decide(state, first) is Accepted accepted ? accepted.Events
                : throw new InvalidOperationException("the rehearsal's SKU refused a reservation after its recovery"));
        return new Rehearsal(sale.State, sale.Events, [inline, inParts], recovered);
    }

    /// <summary>The events of the rows from event <paramref name="from"/> on, read back, applied as the actor's recovery applies them.</summary>
    private static SkuState Replay(SkuState state, IReadOnlyList<(int Start, object Row)> rows, int from)
    {
        foreach (var (start, row) in rows)
            if (start >= from)
                foreach (var e in SkuEventBatch.Expand(row))
                    state = SkuStock.Apply(state, e);
        return state;
    }

    private static object ReadBack(Akka.Serialization.Serialization serialization, object value)
    {
        var serializer = (Akka.Serialization.SerializerWithStringManifest)serialization.FindSerializerFor(value);
        return serializer.FromBinary(serializer.ToBinary(value), serializer.Manifest(value));
    }

    /// <summary>The SKU's sale: each command decided and its events applied, a second apart, as its actor does.</summary>
    private sealed class Sale
    {
        private IdChunks? _chunks;
        private readonly Dictionary<long, object> _storedChunks = [];

        public SkuState State { get; } = SkuState.Empty(Horizon, Horizon);

        public List<SkuEvent> Events { get; } = [];

        public DateTimeOffset Now { get; private set; } = DateTimeOffset.UnixEpoch;

        public void Decide(SkuCommand command)
        {
            Now = Now.AddSeconds(1);
            if (SkuStock.Decide(State, command, Now) is not Accepted { Events.Count: > 0 } accepted)
                throw new InvalidOperationException($"the rehearsal's {command} changed nothing");
            SkuStock.ApplyAll(State, accepted.Events);
            Events.AddRange(accepted.Events);
        }

        /// <summary>
        /// A head of the state as of now, stored as the snapshot store stores it (its new chunk of ids, then its part of
        /// open lines when <paramref name="inParts"/>, as a table of more than one chunk's lines keeps them) and read back
        /// whole; with how many events it holds.
        /// </summary>
        public (SkuSnapshot Head, int Events) Capture(Akka.Serialization.Serialization serialization, bool inParts)
        {
            var snapshot = SkuSnapshot.InChunks(State, _chunks, lineage: 1);
            _chunks = snapshot.Chunks;
            if (inParts && snapshot.OpenLines is OpenLinesCopy lines)
                snapshot = snapshot with { OpenLines = [], LineParts = new LineParts(lines.PartCount, lines.Count, 1), LinesToStore = lines };
            if (snapshot.NewChunk is { } chunk) _storedChunks[chunk.Start] = ReadBack(serialization, chunk);
            var stored = (ISnapshotInParts)snapshot;
            var pieces = Enumerable.Range(0, stored.PieceCount).Select(i => ReadBack(serialization, stored.Piece(i))).ToArray();
            var head = ((ISnapshotInParts)ReadBack(serialization, snapshot)).WithParts(_storedChunks, pieces) as SkuSnapshot
                ?? throw new InvalidOperationException("the rehearsal's head is not made whole by its parts");
            return (head, Events.Count);
        }

        /// <summary>The journal's rows as read back, each with its first event's number; a row never spans a head's place.</summary>
        public List<(int Start, object Row)> Rows(Akka.Serialization.Serialization serialization, int[] heads)
        {
            var rows = new List<(int, object)>();
            for (var start = 0; start < Events.Count;)
            {
                var end = Math.Min(Math.Min(start + RowEvents, Events.Count), heads.Where(h => h > start).DefaultIfEmpty(int.MaxValue).Min());
                var events = Events.GetRange(start, end - start);
                rows.Add((start, ReadBack(serialization, events.Count == 1 ? events[0] : new SkuEventBatch(events))));
                start = end;
            }
            return rows;
        }
    }
}
