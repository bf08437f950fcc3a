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

    public static async Task<IReadOnlyList<InvariantResult>> CheckAsync(ITarget target, Workload workload, Scenario scenario,
        Action<string> progress)
    {
        progress("waiting for acknowledged refunds to finish");
        var unfinished = await DrainRefundsAsync(target, workload.Refunds.Where(r => r.Accepted).ToList());

        progress("reading the final stock of every SKU");
        var stock = new Dictionary<string, StockView?>();
        foreach (var chunk in workload.Skus.Chunk(64))
        {
            var views = await Task.WhenAll(chunk.Select(target.Stock));
            for (var i = 0; i < chunk.Length; i++) stock[chunk[i]] = views[i];
        }

        progress("reading the restock ledger");
        var refundedSkus = workload.Refunds.Select(r => r.Order.Sku).ToHashSet();
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
        var bySku = workload.Acknowledged.GroupBy(o => o.Sku).ToDictionary(g => g.Key, g => g.ToList());
        foreach (var sku in workload.Skus)
        {
            if (stock[sku] is not { } s) continue;
            if (s.Available < 0) negative++;
            var capacity = scenario.StockPerSku + s.Restocked;
            // What the runner itself saw acknowledged and still holding units (a lower bound: unsure orders are left out).
            var held = bySku.GetValueOrDefault(sku, []).Where(o => !o.Cancelled && !o.Uncertain && (o.Paid || o.Deadline > now)).Sum(o => o.Quantity);
            var engineHeld = s.Reserved + s.Committed + s.Shipped + s.Refunded;
            oversold += Math.Max(0, Math.Max(held, engineHeld) - capacity);
            doubleRestocked += Math.Max(0, s.Restocked - s.Refunded);
        }

        // The engine remembers every id of a run (its horizon is a day), so every acknowledged line is checkable.
        progress("sending acknowledged reservations again: each must be recognised as a repeat");
        foreach (var chunk in workload.Acknowledged.OrderBy(o => o.Id, StringComparer.Ordinal).Take(MaxAckChecks).Chunk(128))
        {
            var repeats = await Task.WhenAll(chunk.Select(o => target.Reserve(o.Sku, o.Id, o.Quantity, scenario.Window)));
            lost += repeats.Count(r => r.Status != OpStatus.Repeat && r.Reason != ReservationReleased);
        }

        return
        [
            new("oversold", oversold, "units held by orders beyond the stock plus what refunds put back"),
            new("negative-available", negative, "SKUs whose available stock is below zero"),
            new("double-restocks", doubleRestocked, "units restocked beyond what was refunded, plus refund lines in the ledger twice"),
            new("ledger-mismatch", ledgerMismatch, "difference between the ledger's restocked units and the SKUs' own count"),
            new("lost-acks", lost, "acknowledged reservations re-sent and not recognised as a repeat, or stocked SKUs the engine no longer " +
                "knows (a released line answers ReservationReleased, which is recognised too)"),
            new("unfinished-refunds", unfinished, "acknowledged refunds whose lines had not all been answered a minute after the run"),
        ];
    }

    private static async Task<long> DrainRefundsAsync(ITarget target, IReadOnlyList<TrackedRefund> refunds)
    {
        var pending = refunds.DistinctBy(r => r.Id).ToList();
        var deadline = DateTime.UtcNow.AddMinutes(1);
        while (pending.Count > 0 && DateTime.UtcNow < deadline)
        {
            var finished = new List<TrackedRefund>();
            foreach (var chunk in pending.Chunk(64))
            {
                var states = await Task.WhenAll(chunk.Select(r => target.RefundFinished(r.Order.Id, r.Id)));
                finished.AddRange(chunk.Where((_, i) => states[i]));
            }
            pending = pending.Except(finished).ToList();
            if (pending.Count > 0) await Task.Delay(250);
        }
        return pending.Count;
    }
}
