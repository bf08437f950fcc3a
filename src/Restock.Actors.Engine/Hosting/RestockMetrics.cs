using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Restock.Actors.Engine.Hosting;

/// <summary>
/// The engine's meters (System.Diagnostics.Metrics): the service exports them in Prometheus format; anything else
/// that listens to the meter named <see cref="MeterName"/> sees them too.
/// </summary>
public static class RestockMetrics
{
    public const string MeterName = "Restock.Actors";

    private static readonly Meter Meter = new(MeterName);

    public static readonly Counter<long> Reservations = Meter.CreateCounter<long>(
        "restock.reservations", "{reservation}", "Reservations answered by this node, by outcome and rejection reason");

    public static readonly Counter<long> Restocks = Meter.CreateCounter<long>(
        "restock.restocks", "{restock}", "Restocks written to the ledger, by trigger (auto, manual, erp)");

    public static readonly Counter<long> RefundedLines = Meter.CreateCounter<long>(
        "restock.refunded_lines", "{line}", "Refunded lines written to the ledger, by restock outcome (restocked, not_restocked)");

    public static readonly Histogram<long> JournalBatchSize = Meter.CreateHistogram<long>(
        "restock.journal.batch_size", "{event}", "Events a SKU wrote to the journal in one group commit");

    public static readonly Histogram<double> JournalWriteLatency = Meter.CreateHistogram<double>(
        "restock.journal.write_latency", "ms", "Time from a SKU's group commit to the journal's confirmation");

    public static readonly Counter<long> SkuRecoveries = Meter.CreateCounter<long>(
        "restock.sku.recoveries", "{sku}", "SKU actors that started on this node and finished recovering from the journal");

    public static readonly Counter<long> RecoveryReads = Meter.CreateCounter<long>(
        "restock.recovery.queries", "{query}", "Queries that answered recovering entities together, by read (highest-sequence-nr, has-snapshot)");

    public static readonly Counter<long> RecoveryReadIds = Meter.CreateCounter<long>(
        "restock.recovery.queried_entities", "{entity}", "Entities answered by those queries, by read");

    public static readonly Histogram<double> LedgerLag = Meter.CreateHistogram<double>(
        "restock.ledger.projection_lag", "ms", "How long after a restock or refund it reached the ledger");

    public static readonly Counter<long> LedgerRepaired = Meter.CreateCounter<long>(
        "restock.ledger.repaired", "{entry}", "Ledger entries the reconciliation found missing and wrote");

    public static readonly Counter<long> LedgerReconciliations = Meter.CreateCounter<long>(
        "restock.ledger.reconciliations", "{run}", "Reconciliation passes of the ledger against the journal, by result");

    private static readonly List<Func<IReadOnlyDictionary<string, ShardCount>>> ShardSources = [];

    static RestockMetrics()
    {
        Meter.CreateObservableGauge("restock.shards", () => Observe(c => c.Shards), "{shard}", "Shards hosted on this node, by entity type");
        Meter.CreateObservableGauge("restock.entities.active", () => Observe(c => c.Entities), "{entity}",
            "Entities (SKU, shop and refund actors) running on this node, by entity type");
    }

    /// <summary>Reports a running engine's shard counts in the gauges until the returned handle is disposed.</summary>
    public static IDisposable TrackShards(Func<IReadOnlyDictionary<string, ShardCount>> source)
    {
        lock (ShardSources) ShardSources.Add(source);
        return new Untrack(source);
    }

    private static IEnumerable<Measurement<long>> Observe(Func<ShardCount, int> pick)
    {
        Func<IReadOnlyDictionary<string, ShardCount>>[] sources;
        lock (ShardSources) sources = ShardSources.ToArray();
        return sources.SelectMany(s => s()).GroupBy(kv => kv.Key)
            .Select(g => new Measurement<long>(g.Sum(kv => pick(kv.Value)), new KeyValuePair<string, object?>("type", g.Key)))
            .ToList();
    }

    private sealed class Untrack(Func<IReadOnlyDictionary<string, ShardCount>> source) : IDisposable
    {
        public void Dispose()
        {
            lock (ShardSources) ShardSources.Remove(source);
        }
    }

    public static TagList Tag(string key, string? value) => new() { { key, value } };
}
