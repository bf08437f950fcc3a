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

    public static readonly Counter<long> Reservations = Counter("reservations", "{reservation}",
        "Reservations answered by this node, by outcome and rejection reason");

    public static readonly Counter<long> Restocks = Counter("restocks", "{restock}",
        "Restocks written to the ledger, by trigger (auto, manual, erp)");

    public static readonly Counter<long> RefundedLines = Counter("refunded_lines", "{line}",
        "Refunded lines written to the ledger, by restock outcome (restocked, not_restocked)");

    public static readonly Counter<long> RefundLinesParked = Counter("refunds.parked_lines", "{line}",
        "Refund lines parked as needing attention (refused for a reason that did not clear within the retry time), by reason");

    public static readonly Histogram<long> JournalBatchSize = Histogram<long>("journal.batch_size", "{event}",
        "Events a SKU wrote to the journal in one group commit");

    public static readonly Histogram<long> SharedMessageSize = Histogram<long>("sku.shared_message_size", "{request}",
        "Callers' requests that went to a SKU together in one message, having waited while the SKU's messages were under way");

    public static readonly Histogram<double> JournalWriteLatency = Histogram<double>("journal.write_latency", "ms",
        "Time from a SKU's group commit to the journal's confirmation");

    public static readonly Counter<long> SkuRecoveries = Counter("sku.recoveries", "{sku}",
        "SKU actors that started on this node and finished recovering from the journal");

    public static readonly Counter<long> RecoveryReads = Counter("recovery.queries", "{query}",
        "Queries that answered recovering entities together, by read (highest-sequence-nr, has-snapshot, replay)");

    public static readonly Counter<long> RecoveryReadIds = Counter("recovery.queried_entities", "{entity}",
        "Entities answered by those queries, by read");

    public static readonly Counter<long> JournalTransactions = Counter("journal.transactions", "{transaction}",
        "Write transactions of the journal (on SQLite, written by the engine: every entity's writes that waited share one)");

    public static readonly Histogram<double> JournalLockWait = Histogram<double>("journal.lock_wait", "ms",
        "How long a journal write transaction waited for SQLite's write lock held by another writer (SQLite only; recorded only when it waited)");

    public static readonly Histogram<double> JournalTurnWait = Histogram<double>("journal.turn_wait", "ms",
        "How long a journal write transaction waited for the engine's turn to write its SQLite file, held by another write " +
        "(the ledger, a WAL restart; snapshots too if set to the journal's file); SQLite only; recorded only when it waited");

    public static readonly Histogram<double> LedgerLag = Histogram<double>("ledger.projection_lag", "ms",
        "How long after a restock or refund it reached the ledger");

    public static readonly Counter<long> LedgerRepaired = Counter("ledger.repaired", "{entry}",
        "Ledger entries the reconciliation found missing and wrote");

    public static readonly Counter<long> LedgerReconciliations = Counter("ledger.reconciliations", "{run}",
        "Reconciliation passes of the ledger against the journal, by result");

    private static readonly Sources<IReadOnlyDictionary<string, ShardCount>> ShardSources = new();
    private static readonly Sources<long> AttentionSources = new();

    static RestockMetrics()
    {
        Meter.CreateObservableGauge("restock.shards", () => ObserveShards(c => c.Shards), "{shard}", "Shards hosted on this node, by entity type");
        Meter.CreateObservableGauge("restock.entities.active", () => ObserveShards(c => c.Entities), "{entity}",
            "Entities (SKU, shop and refund actors) running on this node, by entity type");
        // Only the node running the ledger projection knows the list: the others report nothing rather than zero.
        Meter.CreateObservableGauge("restock.refunds.needing_attention",
            () => AttentionSources.Read() is { Length: > 0 } counts ? [new Measurement<long>(counts.Sum())] : Array.Empty<Measurement<long>>(),
            "{line}", "Refund lines on the needs-attention list now, reported by the node running the ledger projection");
    }

    private static Counter<long> Counter(string name, string unit, string description) =>
        Meter.CreateCounter<long>("restock." + name, unit, description);

    private static Histogram<T> Histogram<T>(string name, string unit, string description) where T : struct =>
        Meter.CreateHistogram<T>("restock." + name, unit, description);

    /// <summary>Reports a running engine's shard counts in the gauges until the returned handle is disposed.</summary>
    public static IDisposable TrackShards(Func<IReadOnlyDictionary<string, ShardCount>> source) => ShardSources.Add(source);

    /// <summary>Reports the needs-attention list's length (as the ledger projection last counted it) until the handle is disposed.</summary>
    public static IDisposable TrackNeedingAttention(Func<long> source) => AttentionSources.Add(source);

    private static IEnumerable<Measurement<long>> ObserveShards(Func<ShardCount, int> pick) =>
        ShardSources.Read().SelectMany(counts => counts).GroupBy(kv => kv.Key)
            .Select(g => new Measurement<long>(g.Sum(kv => pick(kv.Value)), new KeyValuePair<string, object?>("type", g.Key)))
            .ToList();

    public static TagList Tag(string key, string? value) => new() { { key, value } };

    /// <summary>What running engines report to an observable gauge: one source per engine (tests run several in a process).</summary>
    private sealed class Sources<T>
    {
        private readonly List<Func<T>> _sources = [];

        public IDisposable Add(Func<T> source)
        {
            lock (_sources) _sources.Add(source);
            return new Removal(() =>
            {
                lock (_sources) _sources.Remove(source);
            });
        }

        public T[] Read()
        {
            Func<T>[] sources;
            lock (_sources) sources = _sources.ToArray();
            return sources.Select(s => s()).ToArray();
        }

        private sealed class Removal(Action remove) : IDisposable
        {
            public void Dispose() => remove();
        }
    }
}

/// <summary>
/// The newest of counts that may finish out of order: each is stamped with the read model's offset it was read at and
/// with when it started (<see cref="Start"/>), and an older one arriving late does not replace a newer one.
/// </summary>
public sealed class NewestCount
{
    private readonly Lock _lock = new();
    private long _started;
    private (long Offset, long Started, long Count) _newest = (long.MinValue, long.MinValue, 0);

    /// <summary>The stamp of a count about to start: later starts get higher stamps.</summary>
    public long Start() => Interlocked.Increment(ref _started);

    /// <returns>Whether the count is kept: its offset is higher than the newest so far's, or the same and it started later.</returns>
    public bool Report(long offset, long started, long count)
    {
        lock (_lock)
        {
            if (offset < _newest.Offset || (offset == _newest.Offset && started <= _newest.Started)) return false;
            _newest = (offset, started, count);
            return true;
        }
    }

    /// <summary>The newest count reported (0 before any).</summary>
    public long Value
    {
        get
        {
            lock (_lock) return _newest.Count;
        }
    }
}
