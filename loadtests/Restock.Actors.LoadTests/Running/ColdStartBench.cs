using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using HdrHistogram;
using LinqToDB.Data;
using Restock.Actors.Engine.Hosting;
using Restock.Actors.LoadTests.Targets;

namespace Restock.Actors.LoadTests.Running;

/// <summary>One phase of the cold-start bench: how many SKUs came up, how fast, and what each cost the journal.</summary>
/// <param name="CoreUtilisation">CPU time of this process over the phase's wall time and the machine's cores (1 = every core busy
/// throughout): below 1, activations waited on something other than CPU.</param>
/// <param name="JitMethods">Methods the JIT compiled during the phase (tier-1 recompilations of hot methods included).</param>
/// <param name="JitMs">Time the JIT spent compiling them, summed over threads: a process's first seconds pay it.</param>
/// <param name="GcPausedMs">Time the runtime held every thread for collections during the phase: workstation GC collects on one
/// thread, so a core stands idle meanwhile (a share of the phase's time that "cores busy" cannot reach).</param>
/// <param name="PromotedFromGen0PerSku">Bytes per SKU that survived gen-0 collections (copied into gen 1), and
/// <paramref name="PromotedFromGen1PerSku"/> those copied on into gen 2: what the collections' pauses are made of (see
/// <see cref="GcSurvivors"/>).</param>
/// <param name="FirstAfterSeconds">Remembered SKUs: from the restarted node being up until the first SKU had recovered (what the
/// shards do before their entities start: the coordinator's and each shard's remember-entities store recover first).</param>
public sealed record ColdStartPhase(
    string Name, int Skus, double Seconds, double ActivationsPerSecond, double P50Ms, double P99Ms, double MaxMs,
    IReadOnlyDictionary<string, double> StatementsPerSku, long Failed, double AllocatedBytesPerSku, int Gen0, int Gen1, int Gen2,
    double CpuMicrosPerSku, double CoreUtilisation, long JitMethods, double JitMs, double GcPausedMs, double PromotedFromGen0PerSku,
    double PromotedFromGen1PerSku, double FirstAfterSeconds = 0);

/// <summary>One run of the three phases on a fresh file.</summary>
public sealed record ColdStartRound(
    ColdStartPhase NewSkus, ColdStartPhase RememberedRestart, ColdStartPhase FirstCommandAfterRestart, double EngineStartSeconds, bool EveryStockIntact);

/// <param name="NewSkus">The round whose new-SKU rate is the median of the rounds' (with one round: that round's).</param>
/// <param name="RememberedRestart">Likewise, the median remembered-SKU rate's round.</param>
public sealed record ColdStartReport(
    DateTimeOffset StartedAt, string Machine, int Skus, int Concurrency, IReadOnlyList<string> EngineOverrides,
    ColdStartPhase NewSkus, ColdStartPhase RememberedRestart, ColdStartPhase FirstCommandAfterRestart, double EngineStartSeconds,
    bool EveryStockIntact, IReadOnlyList<string> Targets, IReadOnlyList<ColdStartRound> Rounds);

/// <summary>
/// Issue 11 goal 4: SKU activations per second. Phase 1 sends the first command to SKUs this node has never seen
/// (each recovers from the journal: nothing there yet, then writes its first event). The node then stops and starts
/// again on the same file; phase 2 is remember-entities bringing every one of those SKUs back by itself (the time
/// until each has recovered, counted by the engine's <c>restock.sku.recoveries</c> meter); phase 3 asks each SKU for
/// its stock, which must be intact. SQL statements per SKU are counted from linq2db's trace (the journal and the
/// snapshot store; the ledger and key store use their own connections). A phase lasts a few seconds, so one run's
/// rate moves with whatever else the machine does: <c>--repeat</c> runs the rounds again in this process (the first
/// round's new SKUs pay the JIT of a fresh process, later rounds and every restart in this process run warm code; each
/// phase reports what the JIT compiled meanwhile).
/// </summary>
public static class ColdStartBench
{
    private const string BenchShop = "bench-shop";
    private const long Stock = 10;
    private const double Goal = 20_000;

    public static async Task<ColdStartReport> RunAsync(RunOptions options, int repeat, TextWriter log)
    {
        var started = DateTimeOffset.UtcNow;
        var folder = Path.Combine(options.ReportsFolder, $"cold-start-{started:yyyyMMdd-HHmmss}");
        var skus = options.Scenario.Skus;
        var concurrency = options.Scenario.Model.Concurrency;
        var engine = options.EngineOverrides ?? [];
        var ids = Enumerable.Range(0, skus).Select(i => $"cold-{i}").ToArray();
        using var statements = new StatementCounter();
        using var recoveries = new RecoveryCounter();

        var rounds = new List<ColdStartRound>();
        for (var round = 1; round <= repeat; round++)
        {
            if (repeat > 1) log.WriteLine($"cold start: round {round} of {repeat}");
            rounds.Add(await RoundAsync(ids, concurrency, engine, statements, recoveries, log));
        }

        ColdStartRound Median(Func<ColdStartRound, double> rate) => rounds.OrderBy(rate).ElementAt((rounds.Count - 1) / 2);
        var fresh = Median(r => r.NewSkus.ActivationsPerSecond);
        var remembered = Median(r => r.RememberedRestart.ActivationsPerSecond);
        var report = new ColdStartReport(started, LoadRun.Machine(), skus, concurrency, engine, fresh.NewSkus, remembered.RememberedRestart,
            remembered.FirstCommandAfterRestart, remembered.EngineStartSeconds, rounds.All(r => r.EveryStockIntact),
            [
                Target("new SKUs ≥ 20,000 activations/s", fresh.NewSkus.ActivationsPerSecond, rounds.Count),
                Target("remembered SKUs after a restart ≥ 20,000 activations/s", remembered.RememberedRestart.ActivationsPerSecond, rounds.Count),
            ], rounds);
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, "cold-start.json"), JsonSerializer.Serialize(report, new JsonSerializerOptions(JsonSerializerOptions.Web) { WriteIndented = true }));
        File.WriteAllText(Path.Combine(folder, "cold-start.md"), Markdown(report));
        log.WriteLine(Markdown(report));
        log.WriteLine($"report: {folder}");
        return report;
    }

    private static async Task<ColdStartRound> RoundAsync(string[] ids, int concurrency, IReadOnlyList<string> engine, StatementCounter statements,
        RecoveryCounter recoveries, TextWriter log)
    {
        var skus = ids.Length;
        var file = Path.Combine(Path.GetTempPath(), "restock-load", $"cold-start-{Guid.NewGuid():N}.db");
        Directory.CreateDirectory(Path.GetDirectoryName(file)!);
        ColdStartPhase fresh, remembered, after;
        double engineStart;
        var intact = true;
        try
        {
            await using (var first = await InProcessTarget.StartOnFileAsync(file, keepFile: true, [.. engine]))
            {
                await first.SetStock(BenchShop, "warm-up", "warm-up", 1);
                log.WriteLine($"cold start: first command to {skus:N0} new SKUs, {concurrency:N0} at a time");
                fresh = await ClosedAsync("new SKUs (first command, with recovery)", ids, concurrency, statements,
                    async id => (await first.SetStock(BenchShop, id, "initial", Stock)).Ok);
                log.WriteLine($"cold start: {fresh.ActivationsPerSecond:N0} activations/s");
            }

            log.WriteLine("cold start: restarting on the same file (remember-entities brings the SKUs back)");
            recoveries.Reset();
            statements.Reset();
            var gc = GcDuringLoad.Now();
            var cpu = CpuTime();
            var jit = JitNow();
            var clock = Stopwatch.StartNew();
            await using var second = await InProcessTarget.StartOnFileAsync(file, keepFile: false, [.. engine]);
            engineStart = clock.Elapsed.TotalSeconds;
            var deadline = TimeSpan.FromSeconds(Math.Max(120, skus / 200.0));
            // The warm-up SKU comes back too.
            while (recoveries.Count < skus + 1 && clock.Elapsed < deadline)
                await Task.Delay(10);
            var seconds = clock.Elapsed.TotalSeconds - engineStart;
            var back = Math.Min(recoveries.Count, skus + 1);
            var spent = GcDuringLoad.Now().Since(gc);
            var cpuSpent = CpuTime() - cpu;
            var (jitMethods, jitMs) = JitSince(jit);
            remembered = new ColdStartPhase("remembered SKUs after a restart (no command sent)", (int)back, Math.Round(seconds, 2), Math.Round(back / seconds),
                0, 0, 0, statements.PerSku(back), skus + 1 - back, Math.Round(spent.AllocatedBytes / (double)back), spent.Gen0, spent.Gen1, spent.Gen2,
                Math.Round(cpuSpent.TotalMicroseconds / back), Utilisation(cpuSpent, clock.Elapsed.TotalSeconds), jitMethods, jitMs, spent.PauseMs,
                Math.Round(spent.PromotedFromGen0 / (double)back), Math.Round(spent.PromotedFromGen1 / (double)back), Math.Round(Math.Max(0, recoveries.FirstAt.TotalSeconds - engineStart), 2));
            log.WriteLine($"cold start: {back:N0} remembered SKUs recovered {seconds:F2}s after the node started ({remembered.ActivationsPerSecond:N0}/s), " +
                          $"the first after {remembered.FirstAfterSeconds:F2}s");

            after = await ClosedAsync("first command after the restart", ids, concurrency, statements, async id =>
            {
                var stock = await Answer(() => second.Stock(id));
                if (stock is { Available: Stock }) return true;
                intact = false;
                return false;
            });
        }
        finally
        {
            EngineFiles.Delete(file);
        }
        return new ColdStartRound(fresh, remembered, after, Math.Round(engineStart, 2), intact && fresh.Failed == 0);
    }

    private static async Task<StockView?> Answer(Func<Task<StockView?>> ask)
    {
        try
        {
            return await ask();
        }
        catch (Exception e) when (e is Akka.Actor.AskTimeoutException or TaskCanceledException)
        {
            return null;
        }
    }

    private static string Target(string what, double measured, int rounds) =>
        $"{(measured >= Goal ? "met" : "MISSED")}: {what} — measured {measured:N0}/s{(rounds > 1 ? $" (median of {rounds} rounds)" : "")} " +
        $"({100 * measured / Goal:F0}% of the goal)";

    /// <summary>Each SKU's command once, at most <paramref name="concurrency"/> in flight (closed model).</summary>
    private static async Task<ColdStartPhase> ClosedAsync(string name, string[] ids, int concurrency, StatementCounter statements, Func<string, Task<bool>> command)
    {
        var latencies = new LongConcurrentHistogram(1, 60_000_000, 3);
        long failed = 0;
        var next = -1;
        statements.Reset();
        var gc = GcDuringLoad.Now();
        var cpu = CpuTime();
        var jit = JitNow();
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, Math.Min(concurrency, ids.Length)).Select(async _ =>
        {
            for (var i = Interlocked.Increment(ref next); i < ids.Length; i = Interlocked.Increment(ref next))
            {
                var start = Stopwatch.GetTimestamp();
                if (!await command(ids[i])) Interlocked.Increment(ref failed);
                latencies.RecordValue(Math.Clamp(Stopwatch.GetElapsedTime(start).Ticks / 10, 1, 60_000_000));
            }
        }));
        var seconds = clock.Elapsed.TotalSeconds;
        var spent = GcDuringLoad.Now().Since(gc);
        var cpuSpent = CpuTime() - cpu;
        var (jitMethods, jitMs) = JitSince(jit);
        double Ms(double percentile) => Math.Round(latencies.GetValueAtPercentile(percentile) / 1000.0, 2);
        return new ColdStartPhase(name, ids.Length, Math.Round(seconds, 2), Math.Round(ids.Length / seconds), Ms(50), Ms(99),
            Math.Round(latencies.GetMaxValue() / 1000.0, 2), statements.PerSku(ids.Length), failed,
            Math.Round(spent.AllocatedBytes / (double)ids.Length), spent.Gen0, spent.Gen1, spent.Gen2,
            Math.Round(cpuSpent.TotalMicroseconds / ids.Length), Utilisation(cpuSpent, seconds), jitMethods, jitMs, spent.PauseMs,
            Math.Round(spent.PromotedFromGen0 / (double)ids.Length), Math.Round(spent.PromotedFromGen1 / (double)ids.Length));
    }

    private static double Utilisation(TimeSpan cpu, double seconds) => Math.Round(cpu.TotalSeconds / (seconds * Environment.ProcessorCount), 2);

    private static (long Methods, TimeSpan Time) JitNow() => (System.Runtime.JitInfo.GetCompiledMethodCount(), System.Runtime.JitInfo.GetCompilationTime());

    private static (long Methods, double Ms) JitSince((long Methods, TimeSpan Time) start) =>
        (System.Runtime.JitInfo.GetCompiledMethodCount() - start.Methods, Math.Round((System.Runtime.JitInfo.GetCompilationTime() - start.Time).TotalMilliseconds));

    /// <summary>This process's CPU time (engine and generator): per SKU, a cost that does not depend on how busy the machine is.</summary>
    private static TimeSpan CpuTime()
    {
        using var self = Process.GetCurrentProcess();
        return self.TotalProcessorTime;
    }

    public static string Markdown(ColdStartReport r)
    {
        static double Share(ColdStartPhase p) => p.Seconds > 0 ? p.GcPausedMs / 1000 / p.Seconds : 0;
        var sb = new StringBuilder($"# cold-start, {r.StartedAt.ToString("u", CultureInfo.InvariantCulture)}\n\n");
        sb.AppendLine($"Machine: {r.Machine}. {r.Skus:N0} SKUs, {r.Concurrency:N0} commands in flight (closed model), in-process, SQLite WAL, " +
                      "synchronous FULL, durable acknowledgements, remember-entities on.");
        if (r.EngineOverrides.Count > 0) sb.AppendLine($"Configuration: OVERRIDDEN: {string.Join("; ", r.EngineOverrides)}");
        sb.AppendLine($"\nThe restarted node took {r.EngineStartSeconds:N2} s to start (cluster up); the remembered SKUs' rate counts from then. " +
                      "Cores busy: this process's CPU time over the phase's time and the machine's cores. JIT: methods compiled during the phase " +
                      "and the time spent compiling them (the first round runs in a fresh process; each restart here reuses warm code). GC paused: time every " +
                      "thread waited for collections, and its share of the phase. Promoted: bytes per SKU that survived a gen-0 collection, and " +
                      "those copied on out of gen 1 (each collection's figures arrive a moment after it).\n");
        sb.AppendLine("| round | phase | SKUs | seconds | SKUs/s | p50 ms | p99 ms | max ms | failed | CPU µs per SKU | cores busy | JIT methods / ms | B allocated per SKU | B promoted per SKU, gen 0 / gen 1 | gen0/1/2 | GC paused ms | SQL statements per SKU |");
        sb.AppendLine("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
        var n = 0;
        foreach (var round in r.Rounds)
        {
            n++;
            foreach (var p in new[] { round.NewSkus, round.RememberedRestart, round.FirstCommandAfterRestart })
                sb.AppendLine($"| {n} | {p.Name} | {p.Skus:N0} | {p.Seconds:N2} | **{p.ActivationsPerSecond:N0}** | {p.P50Ms:N2} | {p.P99Ms:N2} | {p.MaxMs:N2} | {p.Failed:N0} | " +
                              $"{p.CpuMicrosPerSku:N0} | {p.CoreUtilisation:N2} | {p.JitMethods:N0} / {p.JitMs:N0} | {p.AllocatedBytesPerSku:N0} | {p.PromotedFromGen0PerSku:N0} / {p.PromotedFromGen1PerSku:N0} | {p.Gen0}/{p.Gen1}/{p.Gen2} | {p.GcPausedMs:N0} ({Share(p):P0}) | " +
                              $"{string.Join(", ", p.StatementsPerSku.Select(s => $"{s.Key} {s.Value:N2}"))} |");
        }
        sb.AppendLine($"\nThe first remembered SKU had recovered after (s, by round): {string.Join(" / ", r.Rounds.Select(x => $"{x.RememberedRestart.FirstAfterSeconds:N2}"))}.");
        if (r.Rounds.Count > 1)
        {
            string Rates(Func<ColdStartRound, ColdStartPhase> phase) => string.Join(" / ", r.Rounds.Select(x => $"{phase(x).ActivationsPerSecond:N0}"));
            sb.AppendLine($"\nBy round: new SKUs {Rates(x => x.NewSkus)}/s, remembered {Rates(x => x.RememberedRestart)}/s; " +
                          $"median new {r.NewSkus.ActivationsPerSecond:N0}/s, remembered {r.RememberedRestart.ActivationsPerSecond:N0}/s.");
        }
        sb.AppendLine();
        sb.AppendJoin("", r.Targets.Select(t => $"- {t}\n"));
        sb.AppendLine($"\nEvery SKU answered with its stock after the restart: {(r.EveryStockIntact ? "yes" : "NO")}");
        return sb.ToString();
    }

    /// <summary>SKU actors that finished recovering, from the engine's meter.</summary>
    private sealed class RecoveryCounter : IDisposable
    {
        private readonly MeterListener _listener = new();
        private long _count;
        private long _startedAt = Stopwatch.GetTimestamp();
        private long _firstAt;

        public RecoveryCounter()
        {
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Name == RestockMetrics.MeterName && instrument.Name == "restock.sku.recoveries")
                    listener.EnableMeasurementEvents(instrument);
            };
            _listener.SetMeasurementEventCallback<long>((_, value, _, _) =>
            {
                if (Interlocked.Add(ref _count, value) == value) Interlocked.CompareExchange(ref _firstAt, Stopwatch.GetTimestamp(), 0);
            });
            _listener.Start();
        }

        public long Count => Interlocked.Read(ref _count);

        /// <summary>From the last <see cref="Reset"/> until the first recovery after it (zero before one).</summary>
        public TimeSpan FirstAt => Interlocked.Read(ref _firstAt) is var first and > 0 ? Stopwatch.GetElapsedTime(_startedAt, first) : TimeSpan.Zero;

        public void Reset()
        {
            Interlocked.Exchange(ref _firstAt, 0);
            _startedAt = Stopwatch.GetTimestamp();
            Interlocked.Exchange(ref _count, 0);
        }

        public void Dispose() => _listener.Dispose();
    }

    /// <summary>
    /// The journal's and the snapshot store's SQL statements by kind (linq2db's trace, which the Sql plugin's
    /// connections use): a load-independent cost per activation.
    /// </summary>
    private sealed class StatementCounter : IDisposable
    {
        private readonly ConcurrentDictionary<string, long> _counts = new();
        private readonly MeterListener _batched = new();

        public StatementCounter()
        {
            // The engine's own batched recovery reads and (on SQLite) journal writes run on connections of their own: its
            // meters count them.
            _batched.InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Name == RestockMetrics.MeterName && instrument.Name is "restock.recovery.queries" or "restock.journal.transactions")
                    listener.EnableMeasurementEvents(instrument);
            };
            _batched.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
            {
                var kind = instrument.Name == "restock.journal.transactions" ? "engine write transaction" : $"batched {(tags.Length > 0 ? tags[0].Value : "")}";
                _counts.AddOrUpdate(kind, value, (_, n) => n + value);
            });
            _batched.Start();
            DataConnection.TurnTraceSwitchOn(TraceLevel.Info);
            DataConnection.DefaultOnTraceConnection = info =>
            {
                if (info.TraceInfoStep == TraceInfoStep.BeforeExecute)
                {
                    // The command's own text, never SqlText: formatting that (a multi-row insert with every payload as
                    // a literal) cost the process more than the insert did, and counted as the engine's. Transactions
                    // have no command: their SqlText is a short name.
                    var kind = Kind(info.CommandText ?? info.Command?.CommandText ?? info.SqlText);
                    if (_counts.AddOrUpdate(kind, 1, (_, n) => n + 1) == 1 && Environment.GetEnvironmentVariable("RESTOCK_LOAD_SQL") is not null)
                        Console.WriteLine($"SQL {kind}: {info.SqlText}");
                }
            };
        }

        public void Reset() => _counts.Clear();

        public IReadOnlyDictionary<string, double> PerSku(long skus) =>
            _counts.OrderBy(c => c.Key).ToDictionary(c => c.Key, c => Math.Round(c.Value / (double)Math.Max(1, skus), 2));

        /// <summary>"verb table" from the statement's first words, reading no further than its start.</summary>
        private static string Kind(string sql)
        {
            var text = sql.AsSpan();
            // linq2db may start a statement with comment lines (the provider's name) or parameter declarations.
            while (true)
            {
                text = text.TrimStart();
                if (!text.StartsWith("--") && !text.StartsWith("DECLARE ") && !text.StartsWith("SET ")) break;
                var end = text.IndexOf('\n');
                text = end < 0 ? [] : text[(end + 1)..];
            }
            if (text.IsEmpty) return "transaction";
            var head = text[..Math.Min(text.Length, 400)];
            var space = head.IndexOfAny(' ', '\n', '\t');
            var verb = (space < 0 ? head : head[..space]).ToString().ToLowerInvariant();
            var table = head.Contains("snapshot", StringComparison.OrdinalIgnoreCase) ? "snapshot" : "journal";
            if (verb == "select" && head.Contains("MAX(", StringComparison.OrdinalIgnoreCase)) verb = "select-max";
            return $"{verb} {table}";
        }

        public void Dispose()
        {
            _batched.Dispose();
            DataConnection.DefaultOnTraceConnection = null!;
            DataConnection.TurnTraceSwitchOn(TraceLevel.Off);
        }
    }
}
