using System.Text;
using CsCheck;
using Restock.Actors.Domain.Inventory;
using Restock.Actors.Engine.Inventory;

namespace Restock.Actors.Tests.Inventory;

/// <summary>
/// A snapshot's refund records whose ids its remembered ids do not queue yet (a record without its entry) are queued again
/// as it recovers, once, and the ones already queued are not: the queue recovered is what decoding every queued refund id
/// and queueing the records missing from them made, among many other entries and refunds.
/// </summary>
public sealed class SkuSnapshotRefundsQueuedTests
{
    private static readonly DateTimeOffset Start = SkuStockPropertyTests.Start;

    /// <summary>How <see cref="SkuSnapshot.ToState"/> queued records before: every queued refund id decoded into a set.</summary>
    private static RememberedIds QueuedAsBefore(SkuSnapshot snapshot)
    {
        var remembered = snapshot.Finished!.WithHorizon(SkuState.DefaultHorizon);
        var queued = new HashSet<string>(StringComparer.Ordinal);
        var kinds = remembered.QueuedKinds;
        for (var i = 0; i < kinds.Length; i++)
            if (kinds[i] == (byte)IdKind.Refund) queued.Add(Encoding.UTF8.GetString(remembered.QueuedId(i)));
        foreach (var r in snapshot.Refunds.Where(r => !queued.Contains(r.RefundId)))
            remembered = remembered.Remember(IdKind.Refund, r.RefundId, new Fingerprint(0, 0, r.Refund.ChangedAtTicks));
        return remembered;
    }

    private static (byte Kind, string Id, long At)[] Queue(RememberedIds ids) =>
        Enumerable.Range(0, ids.QueuedKinds.Length)
            .Select(i => (ids.QueuedKinds[i], Encoding.UTF8.GetString(ids.QueuedId(i)), ids.QueuedAtTicks[i])).ToArray();

    [Fact]
    public void Refund_records_missing_from_the_queue_are_queued_again_once_and_the_others_not()
    {
        Gen.Select(Gen.Int[0, 300], Gen.Int[0, 40], Gen.Int[0, 3_000], Gen.Int[0, int.MaxValue]).Sample((refunds, missing, others, seed) =>
        {
            var random = new Random(seed);
            var state = SkuStock.Apply(SkuState.Empty(), new StockAdjusted("a1", 1_000_000, "count", Start));
            var queued = 0;
            for (var i = 0; i < refunds + others; i++)
            {
                // Refunds among other finished lines, in a random order, and some ids longer than the stack's room.
                var order = $"o-{i}";
                state = SkuStock.Apply(state, new StockReserved(order, 1, Start.AddDays(1), Start));
                if (random.Next(refunds + others) < refunds && queued < refunds)
                {
                    var refund = random.Next(20) == 0 ? $"refund-{i}-{new string('r', 300)}" : random.Next(5) == 0 ? $"remboursé-{i}" : $"refund-{i}";
                    state = SkuStock.Apply(state, new PaymentConfirmed(order, 1, Start));
                    state = SkuStock.Apply(state, new LineRefunded(refund, order, "shop", 1, RefundRestock.NotRestocked, 1, 0, Start, Start));
                    queued++;
                }
                else state = SkuStock.Apply(state, new ReservationReleased(order, 1, ReleaseReason.Cancelled, Start));
            }
            var snapshot = SkuSnapshot.From(state);
            // Records whose ids the queue does not hold (older snapshots), some named like queued ids' beginnings.
            var extra = Enumerable.Range(0, missing).Select(i => new RememberedRefund(i % 2 == 0 ? $"refund-{i}x" : $"missing-{i}",
                new RefundRecord($"m-{i}", 1, true, null, 1, ChangedAtTicks: Start.UtcTicks + i)));
            snapshot = snapshot with { Refunds = [.. snapshot.Refunds, .. extra] };

            var recovered = snapshot.ToState(SkuState.DefaultHorizon).Remembered;

            Assert.Equal(Queue(QueuedAsBefore(snapshot)), Queue(recovered));
            Assert.Equal(queued + missing, Queue(recovered).Count(e => e.Kind == (byte)IdKind.Refund));
        }, iter: 40, seed: null);
    }
}
