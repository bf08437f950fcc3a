using Restock.Actors.LoadTests.Scenarios;
using Restock.Actors.LoadTests.Targets;

namespace Restock.Actors.LoadTests.Running;

/// <summary>One invariant and how many units or records broke it (0 = held).</summary>
public sealed record InvariantResult(string Name, long Violations, string Meaning)
{
    public bool Held => Violations == 0;
}

/// <summary>
/// Reads the engine's final state and the ledger after a run and checks what must hold whatever the load did.
/// A violation fails the run whatever the thresholds say.
/// </summary>
public static class Invariants
{
    /// <summary>How many acknowledged reservations are sent again to prove the engine still has them.</summary>
    public const int MaxAckChecks = 20_000;

    private const string ReservationReleased = "ReservationReleased";

    /// <summary>
    /// Units the runner saw acknowledged and still held on <paramref name="sku"/> (reserved within their window, paid,
    /// shipped; less observed cancellations, expiries and refunds) beyond the units stocked plus what refunds put back.
    /// Above zero, the engine sold a unit it did not have.
    /// </summary>
    public static long Oversold(long held, long stocked, long restocked) => Math.Max(0, held - (stocked + restocked));

    /// <summary>
    /// The units held at <paramref name="now"/> (see <see cref="TrackedOrder.HeldAt"/>) by the <paramref name="orders"/> of
    /// each of the first <paramref name="skus"/> SKUs, by SKU index: one pass, nothing copied.
    /// </summary>
    public static long[] HeldBySku(TrackedValues<TrackedOrder>.View orders, int skus, DateTimeOffset now)
    {
        var held = new long[skus];
        for (var i = 0; i < orders.Count; i++)
        {
            ref var order = ref orders[i];
            if (order.Sku < skus) held[order.Sku] += order.HeldAt(now);
        }
        return held;
    }

    /// <param name="seed">Picks the random sample of acknowledged reservations that lost-acks re-sends in a long run.</param>
    public static async Task<IReadOnlyList<InvariantResult>> CheckAsync(ITarget target, Workload workload, Scenario scenario, int seed,
        Action<string> progress)
    {
        progress("waiting for acknowledged refunds to finish");
        var refunds = workload.Refunds.Now().Values().ToList();
        var acknowledged = workload.Acknowledged.Now();
        var unfinished = await DrainRefundsAsync(target, refunds.Where(r => r.Accepted)
            .Select(r => acknowledged[r.Order].Number)
            .Select(order => (Order: workload.OrderId(order), Refund: workload.RefundId(order)))
            .ToList());

        progress("reading the final stock of every SKU");
        var stock = new Dictionary<string, StockView?>();
        foreach (var chunk in workload.Skus.Chunk(64))
        {
            var views = await Task.WhenAll(chunk.Select(target.Stock));
            for (var i = 0; i < chunk.Length; i++) stock[chunk[i]] = views[i];
        }

        progress("reading the restock ledger");
        var refundedSkus = refunds.Select(r => workload.Skus[acknowledged[r.Order].Sku]).ToHashSet();
        long ledgerMismatch = 0, duplicates = 0;
        foreach (var sku in workload.Skus.Where(s => refundedSkus.Contains(s) || stock[s]?.Restocked > 0))
        {
            var restocked = stock[sku]?.Restocked ?? 0;
            IReadOnlyList<LedgerRow> rows = [];
            // The ledger trails the journal by a moment: give it time to catch up before calling a difference a violation.
            for (var wait = 0; wait < 60; wait++)
            {
                rows = await target.Ledger(sku);
                if (rows.Sum(r => r.Quantity) == restocked) break;
                await Task.Delay(250);
            }
            ledgerMismatch += Math.Abs(rows.Sum(r => r.Quantity) - restocked);
            duplicates += rows.Count - rows.Select(r => r.RefundId).Distinct().Count();
        }

        var now = DateTimeOffset.UtcNow;
        // A SKU stocked at set-up that the engine no longer knows lost an acknowledged change.
        long oversold = 0, negative = 0, doubleRestocked = duplicates, lost = workload.Skus.Count(sku => stock[sku] is null);
        var held = HeldBySku(workload.Acknowledged.Now(), workload.Skus.Length, now);
        for (var i = 0; i < workload.Skus.Length; i++)
        {
            if (stock[workload.Skus[i]] is not { } s) continue;
            if (s.Available < 0) negative++;
            oversold += Oversold(held[i], scenario.StockPerSku, s.Restocked);
            doubleRestocked += Math.Max(0, s.Restocked - s.Refunded);
        }

        // The engine remembers every id of a run (its horizon is a day), so every acknowledged line is checkable.
        progress("sending acknowledged reservations again: each must be recognised as a repeat");
        foreach (var chunk in AckSample(workload, seed).Chunk(128))
        {
            var repeats = await Task.WhenAll(chunk.Select(o => target.Reserve(workload.Skus[o.Sku], workload.OrderId(o.Number), o.Quantity, scenario.Window)));
            lost += repeats.Count(r => r.Status != OpStatus.Repeat && r.Reason != ReservationReleased);
        }

        return
        [
            new("oversold", Math.Max(oversold, workload.PeakOversold),
                "units held by acknowledged, still-live orders beyond the units stocked plus restocked, at the end (every SKU) " +
                $"or in any of {workload.OversoldSamples:N0} samples during the run (the hottest SKUs, every second)"),
            new("negative-available", negative, "SKUs whose available stock is below zero"),
            new("double-restocks", doubleRestocked, "units restocked beyond what was refunded, plus refund lines in the ledger twice"),
            new("ledger-mismatch", ledgerMismatch, "difference between the ledger's restocked units and the SKUs' own count"),
            new("lost-acks", lost, "acknowledged reservations re-sent and not recognised as a repeat, or stocked SKUs the engine no longer " +
                "knows (a released line answers ReservationReleased, which is recognised too)"),
            new("unfinished-refunds", unfinished, "acknowledged refunds whose lines had not all been answered a minute after the run"),
        ];
    }

    /// <summary>Every acknowledged reservation in a short run; a seeded random sample of <see cref="MaxAckChecks"/> in a long one.</summary>
    public static IReadOnlyList<TrackedOrder> AckSample(Workload workload, int seed)
    {
        var all = workload.Acknowledged.Now();
        if (all.Count <= MaxAckChecks) return all.Values().ToList();
        // Reservoir sampling: every order equally likely, in one pass.
        var random = new Random(seed);
        var sample = new List<TrackedOrder>(MaxAckChecks);
        for (var i = 0; i < all.Count; i++)
        {
            if (i < MaxAckChecks) sample.Add(all[i]);
            else if (random.Next(i + 1) is var j && j < MaxAckChecks) sample[j] = all[i];
        }
        return sample;
    }

    private static async Task<long> DrainRefundsAsync(ITarget target, IReadOnlyList<(string Order, string Refund)> refunds)
    {
        var pending = refunds.Distinct().ToList();
        var deadline = DateTime.UtcNow.AddMinutes(1);
        while (pending.Count > 0 && DateTime.UtcNow < deadline)
        {
            var finished = new List<(string Order, string Refund)>();
            foreach (var chunk in pending.Chunk(64))
            {
                var states = await Task.WhenAll(chunk.Select(r => target.RefundFinished(r.Order, r.Refund)));
                finished.AddRange(chunk.Where((_, i) => states[i]));
            }
            pending = pending.Except(finished).ToList();
            if (pending.Count > 0) await Task.Delay(250);
        }
        return pending.Count;
    }
}
