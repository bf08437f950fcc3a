using System.Diagnostics;
using Akka;
using Akka.Actor;
using HdrHistogram;
using Restock.Actors.LoadTests.Reports;
using Restock.Actors.LoadTests.Scenarios;
using Restock.Actors.LoadTests.Targets;
using Spectre.Console;

namespace Restock.Actors.LoadTests.Running;

public enum TargetKind
{
    InProcess,
    Http,

    /// <summary>Service processes started by the runner as one cluster on PostgreSQL.</summary>
    Cluster,
}

/// <summary>How to run a scenario: where, how reproducibly, where the report goes, what must hold.</summary>
public sealed record RunOptions(
    Scenario Scenario,
    TargetKind Target = TargetKind.InProcess,
    IReadOnlyList<Uri>? Urls = null,
    string? Key = null,
    int Seed = 1,
    string ReportsFolder = "reports",
    IReadOnlyList<string>? ExtraThresholds = null,
    IReadOnlyList<string>? EngineOverrides = null,
    bool WriteReport = true,
    int Nodes = 3,
    string? Postgres = null);

public sealed record OperationReport(
    string Operation, long Count, long Ok, long Failed, double RatePerSecond,
    double MinMs, double MeanMs, double P50Ms, double P75Ms, double P95Ms, double P99Ms, double P999Ms, double MaxMs,
    IReadOnlyDictionary<string, long> Outcomes, IReadOnlyList<Sample> Series, double LongestGapMs = 0,
    IReadOnlyList<Stall>? Stalls = null);

/// <summary>
/// This process's garbage collector while load was generated (set-up and invariant checks excluded): with the
/// in-process target that is the engine's too. Pause is the total time threads were stopped for collections.
/// </summary>
/// <param name="PromotedFromGen0">Bytes that survived gen-0 collections (copied to gen 1), and <paramref name="PromotedFromGen1"/>
/// those copied on to gen 2 (see <see cref="GcSurvivors"/>; a collection's figures arrive a moment after it).</param>
public sealed record GcDuringLoad(string Mode, long AllocatedBytes, int Gen0, int Gen1, int Gen2, double PauseMs, long PromotedFromGen0 = 0,
    long PromotedFromGen1 = 0)
{
    // Listens from the first reading on, for the process's life: the runtime's GC events are its only source of promoted bytes.
    private static readonly GcSurvivors Survivors = new();

    public static GcDuringLoad Now() => new(
        $"{(System.Runtime.GCSettings.IsServerGC ? "server" : "workstation")}, {System.Runtime.GCSettings.LatencyMode}{Gen0Budget()}",
        GC.GetTotalAllocatedBytes(), GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2),
        GC.GetTotalPauseDuration().TotalMilliseconds, Survivors.PromotedFromGen0, Survivors.PromotedFromGen1);

    /// <summary>The gen-0 budget set in the environment (it can be set nowhere else), which changes collection counts several-fold.</summary>
    private static string Gen0Budget() =>
        (Environment.GetEnvironmentVariable("DOTNET_GCgen0size") ?? Environment.GetEnvironmentVariable("COMPlus_GCgen0size")) is { Length: > 0 } size
            ? $", GCgen0size={size}"
            : "";

    /// <summary>What the load cost the collector per request, which compares across runs at different rates and machine loads.</summary>
    public string PerRequest(long requests)
    {
        if (requests <= 0) return "no requests";
        var per100k = 100_000.0 / requests;
        return string.Create(System.Globalization.CultureInfo.InvariantCulture,
            $"per request {AllocatedBytes / (double)requests:N0} B allocated, {PromotedFromGen0 / (double)requests:N1} B promoted out of gen 0 and " +
            $"{PromotedFromGen1 / (double)requests:N1} B out of gen 1; per 100,000 requests gen0 {Gen0 * per100k:N1} / gen1 {Gen1 * per100k:N1} " +
            $"collections, {PauseMs * per100k:N1} ms paused");
    }

    public GcDuringLoad Since(GcDuringLoad start) => new(Mode, AllocatedBytes - start.AllocatedBytes, Gen0 - start.Gen0, Gen1 - start.Gen1,
        Gen2 - start.Gen2, Math.Round(PauseMs - start.PauseMs, 1), PromotedFromGen0 - start.PromotedFromGen0, PromotedFromGen1 - start.PromotedFromGen1);
}

public sealed record RunReport(
    string Scenario, string Description, string Target, string LoadModel, int Seed, DateTimeOffset StartedAt, double Seconds,
    double TargetRate, double AchievedRate, long NotStarted, string Machine, IReadOnlyList<string> Events,
    IReadOnlyList<OperationReport> Operations, IReadOnlyList<InvariantResult> Invariants, IReadOnlyList<ThresholdResult> Thresholds,
    IReadOnlyList<string> Notes, IReadOnlyList<string> EngineOverrides, GcDuringLoad? Gc = null, NodeLossReport? NodeLoss = null,
    ArrivalLateness? Arrivals = null, EngineCosts? Costs = null)
{
    public bool InvariantsHeld => Invariants.All(i => i.Held);

    public bool Passed => InvariantsHeld && Thresholds.All(t => t.Held);
}

/// <summary>How late the open model's arrivals started after they were due (the generator's share of every latency).</summary>
/// <param name="GeneratorBusyShare">The share of the run the generator's thread was not asleep (see <see cref="ArrivalSchedule.BusyShare"/>).</param>
public sealed record ArrivalLateness(long Count, double P50Ms, double P99Ms, double MaxMs, double GeneratorBusyShare = 0)
{
    public static ArrivalLateness? Of(Metrics metrics) => metrics.Arrivals.Total is { TotalCount: > 0 } total
        ? new(total.TotalCount, total.GetValueAtPercentile(50) / 1000.0, total.GetValueAtPercentile(99) / 1000.0, total.GetMaxValue() / 1000.0,
            Math.Round(metrics.GeneratorBusyShare, 3))
        : null;
}

/// <summary>Runs one scenario: set-up, load (closed or open model), live view, invariant check, thresholds, report.</summary>
public static class LoadRun
{
    /// <summary>Requests in flight at most under the open model; arrivals beyond it are counted as not started.</summary>
    private const int OpenModelInFlightCap = 20_000;

    /// <param name="beforeShutdown">Reads whatever else a caller needs from the target before it is disposed.</param>
    public static async Task<RunReport> RunAsync(RunOptions options, TextWriter? log = null, Func<ITarget, Task>? beforeShutdown = null)
    {
        log ??= Console.Out;
        var scenario = options.Scenario;
        var thresholds = scenario.Thresholds.Concat(options.ExtraThresholds ?? []).Distinct().ToList();
        foreach (var t in thresholds)
            if (!Thresholds.IsValid(t)) throw new ArgumentException($"not a threshold: '{t}'");

        var startedAt = DateTimeOffset.UtcNow;
        await using var target = await CreateTargetAsync(options);
        var metrics = new Metrics();
        var workload = new Workload(scenario, target, metrics);
        log.WriteLine($"{scenario.Name}: setting up {scenario.Skus:N0} SKUs x {scenario.StockPerSku:N0} units, {scenario.Shops} shops on {target.Describe}");
        await workload.SetUpAsync();
        if (scenario.Model.Kind == LoadKind.Open && scenario.WarmUp > TimeSpan.Zero)
        {
            // SKUs and shops of its own: the measured run's SKUs start with their full stock, as without a warm-up.
            log.WriteLine($"{scenario.Name}: warming up for {scenario.WarmUp.TotalSeconds:N0} s at the same load on other SKUs (not measured)");
            var warmMetrics = new Metrics();
            var warm = new Workload(scenario with { Name = scenario.Name + "-warm-up" }, target, warmMetrics);
            await warm.SetUpAsync();
            using var warmUp = new CancellationTokenSource(scenario.WarmUp);
            await RunOpenAsync(scenario, warm, warmMetrics, unchecked(options.Seed * 31 + 7), scenario.WarmUp, warmUp, () => { });
        }
        metrics.Restart();
        var gcAtStart = GcDuringLoad.Now();
        using var costs = EngineCosts.Start();

        var events = new List<string>();
        using var stop = new CancellationTokenSource(scenario.Duration);
        var scheduled = ScheduleEventsAsync(options, target, workload, metrics, events, stop.Token);
        var notStarted = 0L;
        var load = scenario.Model.Kind == LoadKind.Closed
            ? RunClosedAsync(scenario, workload, options.Seed, stop.Token)
            : RunOpenAsync(scenario, workload, metrics, options.Seed, scenario.Duration, stop, () =>
            {
                Interlocked.Increment(ref notStarted);
                metrics.Dropped("arrival", "not started (in-flight cap)");
            });
        await ShowProgressAsync(load, metrics, target, workload, scenario.StockPerSku, log);
        var gc = GcDuringLoad.Now().Since(gcAtStart);
        var engineCosts = costs.Stop(metrics.TotalCount);
        stop.Cancel();
        await scheduled;
        var nodeLoss = (target as ClusterTarget)?.Finish();
        var seconds = metrics.Elapsed.TotalSeconds;

        var invariants = await Invariants.CheckAsync(target, workload, scenario, options.Seed, step => log.WriteLine($"  check: {step}"));
        var operations = metrics.Operations.Select(o => Summarize(o.Key, o.Value, seconds)).ToList();
        var achieved = operations.Sum(o => o.Count) / seconds;
        var report = new RunReport(
            scenario.Name, scenario.Description, target.Describe, scenario.Model.ToString(), options.Seed, startedAt, Math.Round(seconds, 2),
            TargetRate(scenario.Model), Math.Round(achieved, 1), notStarted, Machine(), events, operations,
            invariants, thresholds.Select(t => Thresholds.Evaluate(t, metrics, achieved, invariants)).ToList(), Notes(scenario, workload),
            options.EngineOverrides ?? [], gc, nodeLoss, ArrivalLateness.Of(metrics),
            target is InProcessTarget ? engineCosts : null);

        if (beforeShutdown is not null) await beforeShutdown(target);
        if (options.WriteReport)
        {
            var folder = ReportWriter.Write(report, options.ReportsFolder);
            log.WriteLine($"report: {folder}");
        }
        return report;
    }

    internal static async Task<ITarget> CreateTargetAsync(RunOptions options)
    {
        var work = Path.Combine(Path.GetTempPath(), "restock-load");
        if (options.Scenario.CrashMidRun) return await ServiceProcess.StartAsync(work);
        if (options.Target == TargetKind.Cluster)
            return await ClusterTarget.StartAsync(options.Nodes, options.Postgres ?? throw new ArgumentException("the cluster target needs --postgres"), work);
        if (options.Target == TargetKind.Http)
            return new HttpTarget(options.Urls is { Count: > 0 } urls ? urls : throw new ArgumentException("the HTTP target needs --url"),
                options.Key ?? Restock.Actors.Engine.Hosting.RestockConfig.Load().GetString("restock.access.operator-key", "") switch
                {
                    { Length: > 0 } key => key,
                    _ => throw new ArgumentException("the HTTP target needs the operator key: --key or RESTOCK_OPERATOR_KEY"),
                });
        return await InProcessTarget.StartAsync(work, [.. options.EngineOverrides ?? []]);
    }

    private static Task RunClosedAsync(Scenario scenario, Workload workload, int seed, CancellationToken stop) =>
        Task.WhenAll(Enumerable.Range(0, scenario.Model.Concurrency).Select(buyer => Task.Run(async () =>
        {
            var random = new Random(HashCode.Combine(seed, buyer));
            while (!stop.IsCancellationRequested && workload.TryStart())
                await workload.StepAsync(random);
        })));

    /// <summary>
    /// Arrivals at the target rate whatever the engine does (see <see cref="ArrivalSchedule"/>), each started on the
    /// generator's own thread (its requests sent from there, their answers handled wherever they arrive) with the
    /// generator's one random source; each one's requests are timed from when it was due, and how late it started is
    /// recorded apart. Arrivals in flight are only counted: the list of their tasks this kept before was swept on every
    /// arrival once 10,000 were in flight, so the generator slowed down exactly when the engine did, and its own lateness
    /// was charged to the engine.
    /// </summary>
    private static async Task RunOpenAsync(Scenario scenario, Workload workload, Metrics metrics, int seed, TimeSpan duration,
        CancellationTokenSource stop, Action notStarted)
    {
        var random = new Random(seed);
        var arrivals = new ArrivalsInFlight();
        var schedule = new ArrivalSchedule(elapsed => RateAt(scenario, elapsed));
        await schedule.RunAsync(dueAt =>
        {
            if (!workload.TryStart())
            {
                stop.Cancel();
                return false;
            }
            if (arrivals.Count >= OpenModelInFlightCap)
            {
                notStarted();
                return true;
            }
            metrics.ArrivalStarted(dueAt);
            _ = workload.StepAsync(random, dueAt, arrivals);
            return true;
        }, duration, stop.Token);
        metrics.GeneratorBusyShare = schedule.BusyShare;
        await arrivals.AllFinishedAsync();
    }

    private static double RateAt(Scenario scenario, TimeSpan elapsed)
    {
        var model = scenario.Model;
        if (model.RampToRate is not { } to) return model.Rate;
        var progress = Math.Clamp(elapsed / scenario.Duration, 0, 1);
        return model.Rate + (to - model.Rate) * progress;
    }

    private static double TargetRate(LoadModel model) => model.Kind == LoadKind.Open
        ? Math.Round(model.RampToRate is { } to ? (model.Rate + to) / 2 : model.Rate, 1)
        : 0;

    /// <summary>The scenario's mid-run events: the switch toggled half-way, the service killed at a random moment.</summary>
    private static async Task ScheduleEventsAsync(RunOptions options, ITarget target, Workload workload, Metrics metrics,
        List<string> events, CancellationToken stop)
    {
        var scenario = options.Scenario;
        (target as ClusterTarget)?.LoadStarted();
        try
        {
            if (scenario.ToggleSwitchMidRun)
            {
                await Task.Delay(scenario.Duration / 2, stop);
                var shopsOn = (int)Math.Round(workload.Shops.Length * scenario.AutoRestockShare);
                await Task.WhenAll(workload.Shops.Select((shop, i) => metrics.Time("switch", () => target.SetAutoRestock(shop, i >= shopsOn))));
                lock (events) events.Add($"{metrics.Elapsed.TotalSeconds:F1}s: every shop's auto-restock switch toggled");
            }
            if (scenario.CrashMidRun && target is ServiceProcess service)
            {
                var at = scenario.Duration * (0.3 + 0.2 * new Random(options.Seed).NextDouble());
                await Task.Delay(at - metrics.Elapsed, stop);
                var killedAt = metrics.Elapsed.TotalSeconds;
                await service.CrashAndRestartAsync();
                lock (events) events.Add($"{killedAt:F1}s: service killed with SIGKILL; back up at {metrics.Elapsed.TotalSeconds:F1}s");
            }
            if (scenario.KillNodeMidRun && target is ClusterTarget cluster)
            {
                await Task.Delay(scenario.Duration * (0.3 + 0.1 * new Random(options.Seed).NextDouble()) - metrics.Elapsed, stop);
                var nodeKilledAt = metrics.Elapsed.TotalSeconds;
                await cluster.KillNodeAndWatchTakeoverAsync(workload.Skus);
                var loss = cluster.NodeLoss!;
                lock (events)
                    events.Add($"{nodeKilledAt:F1}s: {loss.KilledNode} killed with SIGKILL; every SKU answering again " +
                               (loss.EverySkuAnsweringAfterSeconds is { } s ? $"{s:F1}s later" : "not within a minute"));
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>
    /// Samples the metrics and the hottest SKUs every second (oversold is checked on each sample); a live table on a
    /// terminal, a plain line every 5 s otherwise (CI logs).
    /// </summary>
    private static async Task ShowProgressAsync(Task load, Metrics metrics, ITarget target, Workload workload, long stockPerSku, TextWriter log)
    {
        var hot = workload.Skus.Take(3).ToArray();
        var interactive = log == Console.Out && AnsiConsole.Profile.Capabilities.Interactive;
        async Task<string> HotStock()
        {
            try
            {
                // Held units first, stock after: restocks only grow, so a later read can only be more lenient, never wrong.
                var now = DateTimeOffset.UtcNow;
                // The orders acknowledged by now, not copied: a copy of every order each second was large arrays in the process whose
                // collections the open model measures.
                var held = Invariants.HeldBySku(workload.Acknowledged.Now(), hot.Length, now);
                var views = await Task.WhenAll(hot.Select(target.Stock));
                for (var i = 0; i < hot.Length; i++)
                    if (views[i] is { } view)
                        workload.RecordOversoldSample(Invariants.Oversold(held[i], stockPerSku, view.Restocked));
                return string.Join(", ", hot.Select((sku, i) => $"{sku}: {views[i]?.Available.ToString("N0") ?? "?"}"));
            }
            catch (Exception e) when (NotAnswering(e))
            {
                return "engine unreachable";
            }
        }
        string Line(string stock) =>
            $"{metrics.Elapsed.TotalSeconds,6:F1}s  {metrics.TotalCount / Math.Max(0.001, metrics.Elapsed.TotalSeconds),9:N0}/s  " +
            $"ok {metrics.Operations.Sum(o => o.Value.Ok):N0}  failed {metrics.TotalFailed:N0}  " +
            $"p99 {metrics.Operations.Select(o => o.Value.Series.LastOrDefault()?.P99Ms ?? 0).DefaultIfEmpty(0).Max():F1} ms  left: {stock}";

        if (interactive)
        {
            var table = new Table().AddColumns("elapsed", "rate/s", "ok", "failed", "p99 (last s)", "hot SKUs left");
            await AnsiConsole.Live(table).StartAsync(async ctx =>
            {
                while (!load.IsCompleted)
                {
                    await Task.WhenAny(load, Task.Delay(1000));
                    metrics.Sample();
                    var p99 = metrics.Operations.Select(o => o.Value.Series.LastOrDefault()?.P99Ms ?? 0).DefaultIfEmpty(0).Max();
                    table.Rows.Clear();
                    table.AddRow($"{metrics.Elapsed.TotalSeconds:F1}s", $"{metrics.TotalCount / Math.Max(0.001, metrics.Elapsed.TotalSeconds):N0}",
                        $"{metrics.Operations.Sum(o => o.Value.Ok):N0}", $"{metrics.TotalFailed:N0}", $"{p99:F1} ms", Markup.Escape(await HotStock()));
                    ctx.Refresh();
                }
            });
        }
        else
        {
            var tick = 0;
            while (!load.IsCompleted)
            {
                await Task.WhenAny(load, Task.Delay(1000));
                metrics.Sample();
                var stock = await HotStock();
                if (++tick % 5 == 0) log.WriteLine(Line(stock));
            }
        }
        await load;
        metrics.Sample();
    }

    /// <summary>
    /// The engine did not answer a progress sample in time: shown, never fatal. An overloaded in-process engine (one write
    /// per command at an open-model rate) times out the sample's ask, which ended the whole bench.
    /// </summary>
    internal static bool NotAnswering(Exception e) => e is HttpRequestException or TaskCanceledException or AskTimeoutException;

    private static OperationReport Summarize(string name, OperationStats s, double seconds)
    {
        var h = s.Total;
        double At(double p) => h.TotalCount == 0 ? 0 : h.GetValueAtPercentile(p) / 1000.0;
        return new OperationReport(name, s.Count, s.Ok, s.Failed, Math.Round(s.Count / seconds, 1),
            h.TotalCount == 0 ? 0 : h.RecordedValues().First().ValueIteratedTo / 1000.0,
            h.TotalCount == 0 ? 0 : Math.Round(h.GetMean() / 1000, 3),
            At(50), At(75), At(95), At(99), At(99.9), h.TotalCount == 0 ? 0 : h.GetMaxValue() / 1000.0,
            new SortedDictionary<string, long>(s.Outcomes.ToDictionary()), s.Series, Math.Round(s.LongestGapMs, 1), s.Stalls);
    }

    internal static string Machine() =>
        $"{Environment.ProcessorCount} cores, {GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / (1L << 30)} GiB, " +
        $"{System.Runtime.InteropServices.RuntimeInformation.OSDescription}, .NET {Environment.Version}";

    private static IReadOnlyList<string> Notes(Scenario scenario, Workload workload)
    {
        var notes = new List<string>();
        if (scenario.Model.Kind == LoadKind.Open && scenario.WarmUp > TimeSpan.Zero)
            notes.Add($"warm-up: the same load for {scenario.WarmUp.TotalSeconds:N0} s on {scenario.Skus:N0} other SKUs and {scenario.Shops} other shops " +
                      "before the measured run, not measured; --warm-up 0 measures from the engine's start, JIT compilation included");
        if (workload.Acknowledged.Count > Invariants.MaxAckChecks)
            notes.Add($"lost-acks checked a random sample of {Invariants.MaxAckChecks:N0} of {workload.Acknowledged.Count:N0} acknowledged " +
                      $"reservations (drawn with the run's seed); every one is checked in runs with fewer");
        if (scenario.Attempts > 0) notes.Add($"attempt budget {scenario.Attempts:N0}, used {Math.Min(workload.Attempts, scenario.Attempts):N0}");
        return notes;
    }
}
