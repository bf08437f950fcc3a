using System.Diagnostics;
using System.Net;
using Npgsql;

namespace Restock.Actors.LoadTests.Targets;

/// <summary>
/// One second of the run as the buyers saw it: answered (any status below 500), 503 (outcome unknown, retry),
/// failed; and the answers for SKUs that never stopped answering (not hosted by the killed node).
/// </summary>
public sealed record TimelinePoint(int Second, long Answered, long Unknown, long Failed, long AnsweredHealthySkus);

/// <summary>
/// What a SIGKILL of one node did to the sale. The takeover runs from the kill until every SKU answered a read
/// through the survivors in one round of probes; <see cref="EverySkuAnsweringAfterSeconds"/> is null if that never
/// happened within the probe's minute.
/// </summary>
public sealed record NodeLossReport(
    int Nodes, string KilledNode, double KilledAtSecond, double? EverySkuAnsweringAfterSeconds,
    long AnsweredDuringTakeover, long UnknownDuringTakeover, long FailedDuringTakeover,
    double AnsweredPerSecondBefore, double AnsweredPerSecondDuring, int SkusTakenOver, int Skus,
    double HealthySkusAnsweredPerSecondBefore, double HealthySkusAnsweredPerSecondDuring, IReadOnlyList<TimelinePoint> Timeline);

/// <summary>
/// A cluster of service processes started by the runner (<see cref="ServiceCluster"/>) on a fresh database of a
/// PostgreSQL server, dropped at the end. Requests go to the running nodes in turn, so a killed node's buyers move
/// to the survivors as a load balancer's would; every answer is counted per second for the timeline.
/// </summary>
public sealed class ClusterTarget : HttpTarget
{
    private readonly ServiceCluster _cluster;
    private readonly string _server;
    private readonly string _database;
    private readonly Timeline _timeline;

    private ClusterTarget(ServiceCluster cluster, string server, string database, Timeline timeline)
        : base(() => cluster.Running.Select(n => n.Url).ToList(), cluster.OperatorKey, timeline)
    {
        _cluster = cluster;
        _server = server;
        _database = database;
        _timeline = timeline;
    }

    public override string Describe =>
        $"{_cluster.Nodes.Count}-node cluster of child-process services on 127.0.0.1, PostgreSQL (node logs in {_cluster.Folder})";

    public NodeLossReport? NodeLoss { get; private set; }

    /// <param name="server">A PostgreSQL connection string without a database, e.g. what <c>.ci/postgres</c> prints.</param>
    public static async Task<ClusterTarget> StartAsync(int nodes, string server, string folder)
    {
        var database = $"restock_load_{Guid.NewGuid():N}";
        await Admin(server, $"CREATE DATABASE {database}");
        try
        {
            var cluster = await ServiceCluster.StartAsync(nodes, new NpgsqlConnectionStringBuilder(server) { Database = database }.ConnectionString,
                Path.Combine(folder, database));
            return new ClusterTarget(cluster, server, database, new Timeline());
        }
        catch
        {
            await Admin(server, $"DROP DATABASE IF EXISTS {database} WITH (FORCE)");
            throw;
        }
    }

    private static async Task Admin(string server, string sql)
    {
        await using var connection = new NpgsqlConnection(server);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }

    /// <summary>The load starts now: the timeline counts from here.</summary>
    public void LoadStarted() => _timeline.Restart();

    /// <summary>
    /// Kills the last node with SIGKILL (not a seed node, not the oldest, which hosts the shard coordinator: the case
    /// of a shard takeover alone), then reads every SKU through the survivors until all answer in one round.
    /// </summary>
    public async Task KillNodeAndWatchTakeoverAsync(IReadOnlyList<string> skus)
    {
        var victim = _cluster.Nodes[^1];
        var killedAt = _timeline.Elapsed;
        await _cluster.KillAsync(victim);
        using var probe = _cluster.Client(TimeSpan.FromSeconds(3));
        var survivors = _cluster.Running.Select(n => n.Url).ToList();
        TimeSpan? answering = null;
        HashSet<string>? takenOver = null;
        for (var round = 0; _timeline.Elapsed - killedAt < TimeSpan.FromMinutes(1); round++)
        {
            var answers = await Task.WhenAll(skus.Select(async (sku, i) =>
            {
                try
                {
                    using var response = await probe.GetAsync(new Uri(survivors[(round + i) % survivors.Count], $"/skus/{sku}"));
                    return response.StatusCode == HttpStatusCode.OK;
                }
                catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
                {
                    return false;
                }
            }));
            // The SKUs that do not answer right after the kill are the killed node's: the others are the healthy ones.
            takenOver ??= skus.Where((_, i) => !answers[i]).ToHashSet();
            if (answers.All(a => a))
            {
                answering = _timeline.Elapsed - killedAt;
                break;
            }
            await Task.Delay(250);
        }
        var killedSecond = (int)killedAt.TotalSeconds;
        var takeoverEnd = (int)Math.Ceiling((killedAt + (answering ?? TimeSpan.FromMinutes(1))).TotalSeconds);
        _timeline.TakenOver = takenOver ?? [];
        var points = _timeline.Points();
        var during = points.Where(p => p.Second >= killedSecond && p.Second < takeoverEnd).ToList();
        var before = points.Where(p => p.Second < killedSecond).ToList();
        NodeLoss = new NodeLossReport(_cluster.Nodes.Count, $"node {victim.Index} ({victim.Url}, {victim.Address})",
            Math.Round(killedAt.TotalSeconds, 1), answering is { } a ? Math.Round(a.TotalSeconds, 1) : null,
            during.Sum(p => p.Answered), during.Sum(p => p.Unknown), during.Sum(p => p.Failed),
            before.Count == 0 ? 0 : Math.Round(before.Average(p => p.Answered), 1),
            during.Count == 0 ? 0 : Math.Round(during.Average(p => p.Answered), 1), _timeline.TakenOver.Count, skus.Count,
            before.Count == 0 ? 0 : Math.Round(before.Average(p => p.AnsweredHealthySkus), 1),
            during.Count == 0 ? 0 : Math.Round(during.Average(p => p.AnsweredHealthySkus), 1), points);
    }

    /// <summary>The timeline as it stands at the end of the load (it was cut at the end of the takeover before).</summary>
    public NodeLossReport? Finish() => NodeLoss = NodeLoss is null ? null : NodeLoss with { Timeline = _timeline.Points() };

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        await _cluster.DisposeAsync();
        NpgsqlConnection.ClearAllPools();
        await Admin(_server, $"DROP DATABASE IF EXISTS {_database} WITH (FORCE)");
    }

    /// <summary>Counts every exchange of the load by second and kind of answer.</summary>
    private sealed class Timeline : DelegatingHandler
    {
        private readonly Stopwatch _clock = Stopwatch.StartNew();
        // Counts per second and SKU ("" for requests without one), so healthy SKUs can be told apart after the kill.
        private readonly Dictionary<(int Second, string Sku), long[]> _seconds = [];

        public IReadOnlySet<string> TakenOver { get; set; } = new HashSet<string>();

        public TimeSpan Elapsed => _clock.Elapsed;

        public void Restart()
        {
            lock (_seconds)
            {
                _seconds.Clear();
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
                    bySecond[s].Where(kv => kv.Key.Sku != "" && !TakenOver.Contains(kv.Key.Sku)).Sum(kv => kv.Value[0]))).ToList();
            }
        }

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            try
            {
                var response = await base.SendAsync(request, cancellationToken);
                Count(request, response.StatusCode switch
                {
                    HttpStatusCode.ServiceUnavailable => 1,
                    >= HttpStatusCode.InternalServerError => 2,
                    _ => 0,
                });
                return response;
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
                Count(request, 2);
                throw;
            }
        }

        private void Count(HttpRequestMessage request, int kind)
        {
            var segments = request.RequestUri!.AbsolutePath.Split('/', StringSplitOptions.RemoveEmptyEntries);
            var sku = segments is ["skus", var id, ..] ? id : "";
            lock (_seconds)
            {
                var key = ((int)_clock.Elapsed.TotalSeconds, sku);
                if (!_seconds.TryGetValue(key, out var counts)) _seconds[key] = counts = new long[3];
                counts[kind]++;
            }
        }
    }
}
