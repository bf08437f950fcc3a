using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using HdrHistogram;
using Restock.Actors.LoadTests.Targets;

namespace Restock.Actors.LoadTests.Running;

/// <summary>A gap between two answers of one operation: when it ended (UTC) and how long it was.</summary>
public sealed record Stall(DateTime EndedAt, double Ms);

/// <summary>One second of one operation: how many answered ok, and the latency percentiles of that second.</summary>
public sealed record Sample(double Second, long Ok, long All, double P50Ms, double P99Ms);

/// <summary>
/// Latencies (HDR histograms, microseconds, measured from the caller's side) and outcomes per operation, plus a
/// per-second series for the charts. Recording is lock-free; a sampler turns intervals into the series.
/// </summary>
public sealed class OperationStats
{
    // Latencies above a minute are clamped: HdrHistogram throws on values above its sized maximum.
    private const long MaxMicros = 60_000_000;

    private readonly Recorder _recorder = new(1, MaxMicros, 3, (id, low, high, digits) => new LongHistogram(id, low, high, digits));
    // The last interval's histogram, reused for the next: each is ~140 KB (a large-object-heap allocation per
    // operation per second, in the engine's process when in-process).
    private HistogramBase? _recycled;
    // One counter per outcome, incremented without locks: the hot path must not contend on a dictionary bucket.
    private readonly ConcurrentDictionary<string, StrongBox<long>> _outcomes = new();
    private long _ok;
    private long _lastOk;
    private long _lastCompletion;
    private long _longestGap;
    // Gaps of at least 40 ms and when they ended (time of day, UTC): where to look in a trace of the run.
    private static readonly long StallTicks = Stopwatch.Frequency / 25;
    private const int StallsKept = 32;
    private readonly List<Stall> _stalls = [];

    public LongHistogram Total { get; } = new(1, MaxMicros, 3);

    public List<Sample> Series { get; } = [];

    public long Ok => Interlocked.Read(ref _ok);

    /// <summary>
    /// The longest time between two answers: a stall (a stop-the-world collection, a huge snapshot) shows here even
    /// when percentiles hide it behind requests that queued through it.
    /// </summary>
    public double LongestGapMs => Interlocked.Read(ref _longestGap) * 1000.0 / Stopwatch.Frequency;

    public IReadOnlyDictionary<string, long> Outcomes => _outcomes.ToDictionary(o => o.Key, o => Interlocked.Read(ref o.Value.Value));

    public long Count => Outcomes.Values.Sum();

    public long Failed => Outcomes.Where(o => o.Key.StartsWith("failed")).Sum(o => o.Value);

    public void Record(long elapsedTicks, OpResult result)
    {
        var micros = Math.Clamp(elapsedTicks * 1_000_000 / Stopwatch.Frequency, 1, MaxMicros);
        _recorder.RecordValue(micros);
        var now = Stopwatch.GetTimestamp();
        var previous = Interlocked.Exchange(ref _lastCompletion, now);
        if (previous != 0)
        {
            var gap = now - previous;
            for (var seen = Interlocked.Read(ref _longestGap); gap > seen; seen = Interlocked.Read(ref _longestGap))
                if (Interlocked.CompareExchange(ref _longestGap, gap, seen) == seen) break;
            if (gap >= StallTicks) KeepStall(gap);
        }
        CountOutcome(result);
    }

    /// <summary>The first gaps between answers of at least 40 ms, with the time of day each ended.</summary>
    public IReadOnlyList<Stall> Stalls
    {
        get { lock (_stalls) return [.. _stalls]; }
    }

    private void KeepStall(long gapTicks)
    {
        lock (_stalls)
            if (_stalls.Count < StallsKept) _stalls.Add(new Stall(DateTime.UtcNow, Math.Round(gapTicks * 1000.0 / Stopwatch.Frequency, 1)));
    }

    public void CountOutcome(OpResult result)
    {
        if (result.Ok) Interlocked.Increment(ref _ok);
        var key = result.Status switch
        {
            OpStatus.Ok => "ok",
            OpStatus.Repeat => "ok (repeat)",
            OpStatus.Rejected => OutcomeKey(RejectedKeys, "rejected: ", result.Reason),
            _ => OutcomeKey(FailedKeys, "failed: ", result.Reason),
        };
        Interlocked.Increment(ref _outcomes.GetOrAdd(key, _ => new StrongBox<long>()).Value);
    }

    // The few outcome names, made once: a string per rejected request otherwise (most reserves of a sold-out SKU).
    private static readonly ConcurrentDictionary<string, string> RejectedKeys = new(), FailedKeys = new();

    private static string OutcomeKey(ConcurrentDictionary<string, string> keys, string prefix, string? reason) =>
        keys.TryGetValue(reason ?? "", out var key) ? key : keys.GetOrAdd(reason ?? "", prefix + reason);

    /// <summary>Closes the current interval: adds it to the total and appends a point to the series.</summary>
    public void Sample(double second)
    {
        var interval = _recorder.GetIntervalHistogram(_recycled);
        _recycled = interval;
        Total.Add(interval);
        var ok = Ok;
        Series.Add(new Sample(second, ok - _lastOk, interval.TotalCount,
            interval.TotalCount == 0 ? 0 : interval.GetValueAtPercentile(50) / 1000.0,
            interval.TotalCount == 0 ? 0 : interval.GetValueAtPercentile(99) / 1000.0));
        _lastOk = ok;
    }
}

public sealed class Metrics
{
    private readonly ConcurrentDictionary<string, OperationStats> _operations = new();
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private OperationStats _arrivals = new();

    /// <summary>Under the open model, how late each arrival started after it was due: the generator's own delay, part of every latency.</summary>
    public OperationStats Arrivals => _arrivals;

    /// <summary>Under the open model, the share of the run its generator's thread was busy (see <see cref="ArrivalSchedule.BusyShare"/>).</summary>
    public double GeneratorBusyShare { get; set; }

    /// <summary>An open-model arrival due at <paramref name="dueAt"/> (a <see cref="Stopwatch"/> timestamp) starts now.</summary>
    public void ArrivalStarted(long dueAt) => _arrivals.Record(Math.Max(0, Stopwatch.GetTimestamp() - dueAt), OpResult.Done);

    /// <summary>Forgets the set-up's requests: the run is measured from here.</summary>
    public void Restart()
    {
        _operations.Clear();
        _arrivals = new OperationStats();
        _clock.Restart();
    }

    public IEnumerable<KeyValuePair<string, OperationStats>> Operations => _operations.OrderBy(o => o.Key);

    public TimeSpan Elapsed => _clock.Elapsed;

    public OperationStats For(string operation) => _operations.GetOrAdd(operation, _ => new OperationStats());

    public Task<OpResult> Time(string operation, Func<Task<OpResult>> call, long dueAt = 0) =>
        Time(operation, call, static call => call(), dueAt);

    /// <summary>
    /// Times <paramref name="call"/> on <paramref name="state"/> (no closure per request). Under the open model
    /// <paramref name="dueAt"/> is when the request was meant to start (a <see cref="Stopwatch"/> timestamp): it is
    /// timed from then, not from when it did start, so a generator held up (a collection, a busy core) shows as latency
    /// instead of hiding it. 0: timed from now.
    /// </summary>
    public async Task<OpResult> Time<TState>(string operation, TState state, Func<TState, Task<OpResult>> call, long dueAt = 0)
    {
        var start = StartOf(dueAt);
        var result = await call(state);
        Record(operation, start, result);
        return result;
    }

    /// <summary>What a request meant to start at <paramref name="dueAt"/> is timed from (see <see cref="Time{TState}"/>).</summary>
    public static long StartOf(long dueAt) => dueAt > 0 ? Math.Min(Stopwatch.GetTimestamp(), dueAt) : Stopwatch.GetTimestamp();

    /// <summary>Records a request timed from <paramref name="start"/> (<see cref="StartOf"/>) by its caller, in the caller's own state machine.</summary>
    public void Record(string operation, long start, OpResult result) => For(operation).Record(Stopwatch.GetTimestamp() - start, result);

    /// <summary>An arrival the open model could not start (in-flight cap): a failure, with no latency to record.</summary>
    public void Dropped(string operation, string reason) => For(operation).CountOutcome(OpResult.Failed(reason));

    public void Sample()
    {
        var second = Math.Round(_clock.Elapsed.TotalSeconds, 1);
        foreach (var op in _operations.Values) op.Sample(second);
        _arrivals.Sample(second);
    }

    public long TotalCount => _operations.Values.Sum(o => o.Count);

    public long TotalFailed => _operations.Values.Sum(o => o.Failed);
}
