using System.Diagnostics;
using System.Globalization;
using System.Net;
using HdrHistogram;

namespace Restock.Actors.LoadTests.Targets;

/// <summary>
/// One second of the run as the buyers saw it: answered (any status below 500), 503 (outcome unknown, retry),
/// failed; and the answers for the SKUs that never stopped answering (healthy: not hosted by the killed node)
/// apart from those for the SKUs that moved to a survivor.
/// </summary>
public sealed record TimelinePoint(int Second, long Answered, long Unknown, long Failed, long AnsweredHealthySkus, long AnsweredMovingSkus);

/// <summary>Answers per second of one group of SKUs before the kill, during the takeover and after it (until the load ended).</summary>
public sealed record PerSecond(double Before, double During, double After);

/// <summary>
/// One step of the takeover, in seconds after the kill: from the survivors' logs (the first line that says it) or
/// from the probe; null when it was not seen.
/// </summary>
public sealed record TakeoverPhase(string Name, double? AtSecond, string Source);

/// <summary>
/// What a SIGKILL of one node did to the sale. The takeover runs from the kill until every SKU answered a read
/// through the survivors; <see cref="EverySkuAnsweringAfterSeconds"/> is null if that never
/// happened within the probe's minute. <see cref="UnknownAnsweredAfter"/> is how long the 503s of the whole run took,
/// from each request's start to its answer.
/// </summary>
public sealed record NodeLossReport(
    int Nodes, string KilledNode, double KilledAtSecond, double? EverySkuAnsweringAfterSeconds,
    long AnsweredDuringTakeover, long UnknownDuringTakeover, long FailedDuringTakeover,
    double AnsweredPerSecondBefore, double AnsweredPerSecondDuring, int SkusTakenOver, int Skus,
    PerSecond HealthySkus, PerSecond MovingSkus, IReadOnlyList<TakeoverPhase> Phases, LatencySummary UnknownAnsweredAfter,
    IReadOnlyList<TimelinePoint> Timeline);

/// <summary>Count and percentiles of a set of durations, in seconds.</summary>
public sealed record LatencySummary(long Count, double P50Seconds, double P99Seconds, double MaxSeconds);

/// <summary>
/// A cluster of service processes started by the runner (<see cref="ServiceCluster"/>) on a fresh database of a
/// PostgreSQL server, dropped at the end. Requests go to the running nodes in turn, so a killed node's buyers move
/// to the survivors as a load balancer's would; every answer is counted per second for the timeline.
/// </summary>
public sealed class ClusterTarget : HttpTarget
{
    private readonly ServiceCluster _cluster;
    private readonly PostgresDatabase _database;
    private readonly Timeline _timeline;

    private ClusterTarget(ServiceCluster cluster, PostgresDatabase database, Timeline timeline)
        : base(() => cluster.Running.Select(n => n.Url).ToList(), cluster.OperatorKey, timeline)
    {
        _cluster = cluster;
        _database = database;
        _timeline = timeline;
    }

    public override string Describe =>
        $"{_cluster.Nodes.Count}-node cluster of child-process services on 127.0.0.1, PostgreSQL (node logs in {_cluster.Folder})";

    public NodeLossReport? NodeLoss { get; private set; }

    /// <param name="server">A PostgreSQL connection string without a database, e.g. what <c>.ci/postgres</c> prints.</param>
    public static async Task<ClusterTarget> StartAsync(int nodes, string server, string folder)
    {
        var database = await PostgresDatabase.CreateAsync(server, "restock_load");
        try
        {
            var cluster = await ServiceCluster.StartAsync(nodes, database.ConnectionString, Path.Combine(folder, database.Name));
            return new ClusterTarget(cluster, database, new Timeline());
        }
        catch
        {
            await database.DisposeAsync();
            throw;
        }
    }

    /// <summary>The load starts now: the timeline counts from here.</summary>
    public void LoadStarted() => _timeline.Restart();

    /// <summary>
    /// Kills the last node with SIGKILL (not a seed node, not the oldest, which hosts the shard coordinator: the case
    /// of a shard takeover alone), then reads each SKU through the survivors, again as soon as a read fails, until it
    /// answers. A read waiting in a region for a moving shard is delivered once the shard is home, so the time a SKU
    /// answers again is seen to within one read, not one round of reads.
    /// </summary>
    public async Task KillNodeAndWatchTakeoverAsync(IReadOnlyList<string> skus)
    {
        var victim = _cluster.Nodes[^1];
        var killedAt = _timeline.Elapsed;
        var killedAtUtc = DateTime.UtcNow;
        await _cluster.KillAsync(victim);
        using var probe = _cluster.Client(TimeSpan.FromSeconds(3));
        var survivors = _cluster.Running.ToList();
        // Per SKU: null if its first read answered (a healthy SKU), else when it answered again (null if never).
        var answeredAgain = await Task.WhenAll(skus.Select(async (sku, i) =>
        {
            for (var attempt = 0; _timeline.Elapsed - killedAt < TimeSpan.FromMinutes(1); attempt++)
            {
                if (await Answers(probe, survivors[(attempt + i) % survivors.Count], sku))
                    return (Moved: attempt > 0, At: (TimeSpan?)(_timeline.Elapsed - killedAt));
                await Task.Delay(100);
            }
            return (Moved: true, At: null);
        }));
        var moved = answeredAgain.Where(a => a.Moved).ToList();
        TimeSpan? answering = moved.Count == 0 ? TimeSpan.Zero : moved.All(a => a.At is not null) ? moved.Max(a => a.At) : null;
        var firstMovedAnswering = moved.Where(a => a.At is not null).Select(a => a.At).DefaultIfEmpty(null).Min();
        _timeline.TakenOver = skus.Where((_, i) => answeredAgain[i].Moved).ToHashSet();
        _loss = new Loss(victim, killedAt, answering, Phases(victim, survivors, killedAtUtc, firstMovedAnswering, answering), skus.Count);
        NodeLoss = Report();
    }

    private static async Task<bool> Answers(HttpClient probe, ClusterNode via, string sku)
    {
        try
        {
            using var response = await probe.GetAsync(new Uri(via.Url, $"/skus/{sku}"));
            return response.StatusCode == HttpStatusCode.OK;
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            return false;
        }
    }

    private Loss? _loss;

    private sealed record Loss(ClusterNode Victim, TimeSpan KilledAt, TimeSpan? Answering, IReadOnlyList<TakeoverPhase> Phases, int Skus);

    /// <summary>
    /// The takeover's steps: what Akka logged on the survivors (the failure detector, the split-brain resolver, the
    /// leader's removal) and what the probe saw (the first moved SKU answering, then every SKU). Between the removal
    /// and the first answer lie sharding's down-removal-margin, the coordinator's reallocation and the recovery.
    /// </summary>
    private static IReadOnlyList<TakeoverPhase> Phases(ClusterNode victim, IReadOnlyList<ClusterNode> survivors, DateTime killedAtUtc,
        TimeSpan? firstMovedAnswering, TimeSpan? answering)
    {
        var lines = survivors.SelectMany(n => ReadShared(n.LogPath)).ToList();
        TakeoverPhase Logged(string name, params string[] parts)
        {
            var first = lines.Where(l => parts.All(l.Contains)).Select(LogTime).Where(t => t >= killedAtUtc).DefaultIfEmpty().Min();
            return new TakeoverPhase(name, first == default ? null : Math.Round((first - killedAtUtc).TotalSeconds, 1), "survivors' logs");
        }
        return
        [
            Logged("marked unreachable (failure detector)", "Marking node(s) as UNREACHABLE", victim.Address),
            Logged("downed (split-brain resolver decision)", "SBR took decision", victim.Address),
            Logged("removed by the leader", "Leader is removing unreachable node", victim.Address),
            new("first SKU of the killed node answering", firstMovedAnswering is { } f ? Math.Round(f.TotalSeconds, 1) : null, "probe"),
            new("every SKU answering", answering is { } a ? Math.Round(a.TotalSeconds, 1) : null, "probe"),
        ];
    }

    /// <summary>The node's log so far; the node still writes to it.</summary>
    private static IEnumerable<string> ReadShared(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        using var reader = new StreamReader(stream);
        var lines = new List<string>();
        for (var line = reader.ReadLine(); line is not null; line = reader.ReadLine()) lines.Add(line);
        return lines;
    }

    /// <summary>The time of an Akka log line, "[LEVEL][MM/dd/yyyy HH:mm:ss.fffZ]...", or default.</summary>
    private static DateTime LogTime(string line)
    {
        var start = line.IndexOf("][", StringComparison.Ordinal) + 2;
        var end = start < 2 ? -1 : line.IndexOf(']', start);
        return end > start && DateTime.TryParseExact(line[start..end], "MM/dd/yyyy HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture,
            DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out var at) ? at : default;
    }

    private NodeLossReport? Report()
    {
        if (_loss is not { } loss) return null;
        var killedSecond = (int)loss.KilledAt.TotalSeconds;
        var takeoverEnd = (int)Math.Ceiling((loss.KilledAt + (loss.Answering ?? TimeSpan.FromMinutes(1))).TotalSeconds);
        var points = _timeline.Points();
        // The last second is cut short by the end of the load.
        var complete = points.Count > 0 ? points.Take(points.Count - 1).ToList() : points;
        var before = complete.Where(p => p.Second < killedSecond).ToList();
        var during = complete.Where(p => p.Second >= killedSecond && p.Second < takeoverEnd).ToList();
        var after = complete.Where(p => p.Second >= takeoverEnd).ToList();
        static double Mean(List<TimelinePoint> range, Func<TimelinePoint, long> pick) => range.Count == 0 ? 0 : Math.Round(range.Average(p => pick(p)), 1);
        PerSecond Split(Func<TimelinePoint, long> pick) => new(Mean(before, pick), Mean(during, pick), Mean(after, pick));
        var victim = loss.Victim;
        return new NodeLossReport(_cluster.Nodes.Count, $"node {victim.Index} ({victim.Url}, {victim.Address})",
            Math.Round(loss.KilledAt.TotalSeconds, 1), loss.Answering is { } a ? Math.Round(a.TotalSeconds, 1) : null,
            during.Sum(p => p.Answered), during.Sum(p => p.Unknown), during.Sum(p => p.Failed),
            Mean(before, p => p.Answered), Mean(during, p => p.Answered), _timeline.TakenOver.Count, loss.Skus,
            Split(p => p.AnsweredHealthySkus), Split(p => p.AnsweredMovingSkus), loss.Phases, _timeline.UnknownAnsweredAfter(), points);
    }

    /// <summary>The report with the timeline as it stands at the end of the load.</summary>
    public NodeLossReport? Finish() => NodeLoss = Report();

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        await _cluster.DisposeAsync();
        await _database.DisposeAsync();
    }

    /// <summary>Counts every exchange of the load by second and kind of answer, and times the 503s.</summary>
    private sealed class Timeline : DelegatingHandler
    {
        // 503s slower than a minute are clamped: HdrHistogram throws above its sized maximum.
        private const long MaxMicros = 60_000_000;

        private readonly Stopwatch _clock = Stopwatch.StartNew();
        // Counts per second and SKU ("" for requests without one), so healthy SKUs can be told apart after the kill.
        private readonly Dictionary<(int Second, string Sku), long[]> _seconds = [];
        private readonly LongHistogram _unknownMicros = new(1, MaxMicros, 3);

        public IReadOnlySet<string> TakenOver { get; set; } = new HashSet<string>();

        public TimeSpan Elapsed => _clock.Elapsed;

        public void Restart()
        {
            lock (_seconds)
            {
                _seconds.Clear();
                _unknownMicros.Reset();
                _clock.Restart();
            }
        }

        public IReadOnlyList<TimelinePoint> Points()
        {
            lock (_seconds)
            {
                var last = _seconds.Count == 0 ? -1 : _seconds.Keys.Max(k => k.Second);
                var bySecond = _seconds.ToLookup(kv => kv.Key.Second);
                return Enumerable.Range(0, last + 1).Select(s => new TimelinePoint(s,
                    bySecond[s].Sum(kv => kv.Value[0]), bySecond[s].Sum(kv => kv.Value[1]), bySecond[s].Sum(kv => kv.Value[2]),
                    bySecond[s].Where(kv => kv.Key.Sku != "" && !TakenOver.Contains(kv.Key.Sku)).Sum(kv => kv.Value[0]),
                    bySecond[s].Where(kv => TakenOver.Contains(kv.Key.Sku)).Sum(kv => kv.Value[0]))).ToList();
            }
        }

        /// <summary>How long the 503s took, from the request's start to the answer.</summary>
        public LatencySummary UnknownAnsweredAfter()
        {
            lock (_seconds)
            {
                var h = _unknownMicros;
                double Seconds(long micros) => Math.Round(micros / 1e6, 2);
                return h.TotalCount == 0
                    ? new LatencySummary(0, 0, 0, 0)
                    : new LatencySummary(h.TotalCount, Seconds(h.GetValueAtPercentile(50)), Seconds(h.GetValueAtPercentile(99)), Seconds(h.GetMaxValue()));
            }
        }

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var started = Stopwatch.GetTimestamp();
            try
            {
                var response = await base.SendAsync(request, cancellationToken);
                Count(request, response.StatusCode switch
                {
                    HttpStatusCode.ServiceUnavailable => 1,
                    >= HttpStatusCode.InternalServerError => 2,
                    _ => 0,
                }, started);
                return response;
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
                Count(request, 2, started);
                throw;
            }
        }

        private void Count(HttpRequestMessage request, int kind, long started)
        {
            var segments = request.RequestUri!.AbsolutePath.Split('/', StringSplitOptions.RemoveEmptyEntries);
            var sku = segments is ["skus", var id, ..] ? id : "";
            var micros = Math.Clamp(Stopwatch.GetElapsedTime(started).Ticks / 10, 1, MaxMicros);
            lock (_seconds)
            {
                var key = ((int)_clock.Elapsed.TotalSeconds, sku);
                if (!_seconds.TryGetValue(key, out var counts)) _seconds[key] = counts = new long[3];
                counts[kind]++;
                if (kind == 1) _unknownMicros.RecordValue(micros);
            }
        }
    }
}
