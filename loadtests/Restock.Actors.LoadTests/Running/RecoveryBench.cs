using System.Diagnostics;
using System.Globalization;
using System.Runtime;
using System.Text;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using Restock.Actors.Domain.Inventory;
using Restock.Actors.Engine.Hosting;
using Restock.Actors.Engine.Inventory;
using Restock.Actors.LoadTests.Targets;

namespace Restock.Actors.LoadTests.Running;

/// <summary>One recovery measured: the SKU built, the engine restarted on its journal, and how long its first answer took.</summary>
public sealed record RecoveryCase(
    string Ids, string Horizon, long Events, int OpenLines, double BuildSeconds, long SnapshotBytes, long SnapshotSequenceNr,
    double EngineStartMs, double FirstAnswerMs, double FirstAnswerFromRestartMs, long EventsReplayed, string FirstAnswer, long ReservedAfter,
    int IdChunks = 0, long IdChunkBytes = 0, long JitMethods = 0, double JitMs = 0, double CpuMs = 0, FreshProcessCase? FreshProcess = null);

/// <summary>
/// A restart in a fresh process, measured to its first answer: from the parent's spawn, from the child's own start, and
/// the JIT and CPU of the whole child up to then (its start, the engine's, the first answer); and the child's exit code,
/// not 0 when its shutdown after the answer failed.
/// </summary>
public sealed record FreshProcessCase(double FromSpawnMs, double FromProcessStartMs, long JitMethods, double JitMs, double CpuMs, int ExitCode = 0);

public sealed record RecoveryReport(DateTimeOffset StartedAt, string Machine, IReadOnlyList<RecoveryCase> Cases, IReadOnlyList<string> Targets);

/// <summary>
/// Issue 11, goal 5: a SKU with N journaled events and M open lines answers its first command after a restart within
/// 200 ms. The SKU is built through the engine (M reservations left open, the rest reserved and cancelled in pairs),
/// the engine is stopped and started again on the same SQLite file, and a new reservation is sent at once; first after a
/// stop like a crash, then after a graceful one. Each with every finished id still inside the horizon (the snapshot holds
/// them all) and with them older than it (a 1 s horizon: the SKU has forgotten them, as it would a day later).
/// </summary>
public static class RecoveryBench
{
    private const string Shop = "bench-shop";
    private const string Sku = "recovery-sku";
    private static readonly TimeSpan Goal = TimeSpan.FromMilliseconds(200);

    /// <param name="crashOnly">Only the restart after a crash with the ids inside the horizon: the case that misses, alone.</param>
    /// <param name="jitLog">Lists every method the JIT compiled while each first answer was awaited (jit-*.tsv in the report folder).</param>
    /// <param name="freshProcess">Each restart in a new process of this runner, as a crashed node restarts (<see cref="FreshProcessRestart"/>).</param>
    public static async Task<RecoveryReport> RunAsync(RunOptions options, long events, int openLines, TextWriter log, bool crashOnly = false,
        bool jitLog = false, bool freshProcess = false)
    {
        if (events < 1 + openLines) throw new ArgumentException("--events must be larger than --open-lines");
        var started = DateTimeOffset.UtcNow;
        var folder = Path.Combine(options.ReportsFolder, $"recovery-bench-{started:yyyyMMdd-HHmmss}");
        var inFlight = Math.Max(1, options.Scenario.Model.Concurrency);
        var engine = options.EngineOverrides ?? [];
        Directory.CreateDirectory(folder);
        // A fresh process listens to its own JIT.
        using var jit = jitLog && !freshProcess ? new JitLog() : null;
        var measuring = new Measuring(inFlight, engine, log, jit, folder, freshProcess, jitLog);
        List<RecoveryCase> cases = crashOnly
            ? [.. await MeasureAsync("inside the horizon", "24h", events, openLines, measuring, crashOnly)]
            :
            [
                .. await MeasureAsync("inside the horizon", "24h", events, openLines, measuring),
                .. await MeasureAsync("older than the horizon", "1s", events, openLines, measuring),
            ];
        var report = new RecoveryReport(started, LoadRun.Machine(), cases,
            cases.Select(c => Target($"first answer after a restart ≤ {Goal.TotalMilliseconds:N0} ms ({c.Ids})",
                c.FirstAnswerMs <= Goal.TotalMilliseconds, $"{c.FirstAnswerMs:N0} ms")).ToList());
        File.WriteAllText(Path.Combine(folder, "recovery.json"),
            JsonSerializer.Serialize(report, new JsonSerializerOptions(JsonSerializerOptions.Web) { WriteIndented = true }));
        File.WriteAllText(Path.Combine(folder, "recovery.md"), Markdown(report));
        log.WriteLine(Markdown(report));
        log.WriteLine($"report: {folder}");
        return report;
    }

    /// <summary>
    /// Builds the SKU, stops its engine as a crash would (no handoff: the SKU takes no snapshot on the way out), restarts
    /// and times the first answer; then, unless <paramref name="crashOnly"/>, stops that engine gracefully (the SKU snapshots
    /// as it stops) and times it again.
    /// </summary>
    private static async Task<IReadOnlyList<RecoveryCase>> MeasureAsync(
        string ids, string horizon, long events, int openLines, Measuring m, bool crashOnly = false)
    {
        var (inFlight, engineOverrides, log) = (m.InFlight, m.EngineOverrides, m.Log);
        var folder = Path.Combine(Path.GetTempPath(), "restock-load");
        Directory.CreateDirectory(folder);
        var file = Path.Combine(folder, $"recovery-{Guid.NewGuid():N}.db");
        // The first answer may take longer than a caller would wait: it is what is measured.
        string[] overrides = ["akka.loglevel = WARNING", $"restock.inventory.remember-ids-for = {horizon}", "restock.inventory.ask-timeout = 300s",
            .. engineOverrides];
        try
        {
            var clock = Stopwatch.StartNew();
            var first = await StartAsync(file, ["akka.coordinated-shutdown.run-by-actor-system-terminate = off", .. overrides]);
            log.WriteLine($"recovery ({ids}): building {events:N0} events with {openLines:N0} open lines");
            await BuildAsync(first, events, openLines, inFlight, log);
            var built = clock.Elapsed.TotalSeconds;
            await first.System.Terminate();
            await first.DisposeAsync();

            var afterCrash = await RestartAsync(file, overrides, $"{ids}, after a crash", ids, horizon, events, openLines, built, m);
            if (crashOnly) return [afterCrash];
            var afterStop = await RestartAsync(file, overrides, $"{ids}, after a graceful stop", ids, horizon, events, openLines, built, m);
            return [afterCrash, afterStop];
        }
        finally
        {
            EngineFiles.Delete(file);
        }
    }

    /// <summary>
    /// What every case is measured with: buyers in flight while building, engine overrides, the log, the JIT's listener,
    /// and whether each restart runs in a fresh process (which then logs its JIT if asked).
    /// </summary>
    internal sealed record Measuring(int InFlight, IReadOnlyList<string> EngineOverrides, TextWriter Log, JitLog? Jit, string Folder,
        bool FreshProcess = false, bool JitLogInFreshProcess = false);

    /// <summary>
    /// One restart's first answer, where the engine ran: its start, the answer after it and from the restart, what the
    /// recovery replayed, the answer, and the JIT and CPU of the process while it was awaited; when it came (UTC).
    /// </summary>
    public sealed record FirstAnswer(double EngineStartMs, double FirstAnswerMs, double FromRestartMs, long EventsReplayed, string Outcome,
        long ReservedAfter, long JitMethods, double JitMs, double CpuMs, DateTime AnsweredAt, long ProcessJitMethods, double ProcessJitMs,
        double ProcessCpuMs);

    /// <summary>Restarts the engine on the journal, here or in a fresh process, and reports its first answer as a case.</summary>
    private static async Task<RecoveryCase> RestartAsync(
        string file, string[] overrides, string label, string ids, string horizon, long events, int openLines, double built, Measuring m)
    {
        var (snapshotBytes, snapshotSequenceNr) = LatestSnapshot(file);
        var (chunks, chunkBytes) = IdChunks(file);
        FreshProcessCase? fresh = null;
        FirstAnswer first;
        if (m.FreshProcess)
        {
            label += ", fresh process";
            var (answer, fromSpawnMs, exitCode) = await FreshProcessRestart.RunAsync(
                new FreshProcessRestart.Request(file, label, m.Folder, m.JitLogInFreshProcess, overrides), m.Log, TimeSpan.FromMinutes(10));
            first = answer.First;
            fresh = new FreshProcessCase(Math.Round(fromSpawnMs, 1), Math.Round(answer.FromProcessStartMs, 1), first.ProcessJitMethods,
                Math.Round(first.ProcessJitMs, 1), Math.Round(first.ProcessCpuMs, 1), exitCode);
            if (exitCode != 0) m.Log.WriteLine($"recovery ({label}): the child exited with code {exitCode} after its answer (its shutdown failed); the answer is kept");
            m.Log.WriteLine($"recovery ({label}): first answer {fromSpawnMs:N0} ms after the child was spawned ({answer.FromProcessStartMs:N0} ms " +
                            $"after its own start); by then it had compiled {first.ProcessJitMethods:N0} methods in {first.ProcessJitMs:N0} ms " +
                            $"and used {first.ProcessCpuMs:N0} ms of CPU");
        }
        else
        {
            first = await FirstAnswerAsync(file, overrides, label, m);
        }
        return new RecoveryCase(label, horizon, events, openLines, Math.Round(built, 1), snapshotBytes, snapshotSequenceNr,
            Math.Round(first.EngineStartMs, 1), Math.Round(first.FirstAnswerMs, 1), Math.Round(first.FromRestartMs, 1), first.EventsReplayed,
            first.Outcome, first.ReservedAfter, chunks, chunkBytes, first.JitMethods, Math.Round(first.JitMs, 1), Math.Round(first.CpuMs, 1), fresh);
    }

    /// <summary>
    /// Starts an engine on the journal in this process, sends the first command at once, and leaves it stopped gracefully:
    /// the in-process restart, and what a fresh process (<see cref="FreshProcessRestart"/>) runs.
    /// </summary>
    internal static async Task<FirstAnswer> FirstAnswerAsync(string file, string[] overrides, string label, Measuring m)
    {
        var log = m.Log;
        var restarted = DateTime.UtcNow;
        var clock = Stopwatch.StartNew();
        await using var engine = await StartAsync(file, overrides);
        var engineStart = clock.Elapsed;
        // What the JIT compiled (tier-0, OSR and tier-1 code, on any thread) while the first answer was awaited: on 2 cores
        // it competes with the recovery.
        var (jitMethods, jitTime) = (JitInfo.GetCompiledMethodCount(), JitInfo.GetCompilationTime());
        // The process's CPU meanwhile (every thread: the recovery, the JIT, the GC): on a shared host it moves less than the time.
        using var process = Process.GetCurrentProcess();
        var cpu = process.TotalProcessorTime;
        var asked = DateTime.UtcNow;
        var answering = Stopwatch.StartNew();
        var askedTicks = Stopwatch.GetTimestamp();
        var reply = await engine.Inventory.Execute(Sku, new Reserve($"after-restart-{Guid.NewGuid():N}", 1, DateTimeOffset.UtcNow.AddDays(1)));
        var firstAnswer = answering.Elapsed;
        var answered = DateTime.UtcNow;
        var answeredTicks = Stopwatch.GetTimestamp();
        var fromRestart = clock.Elapsed;
        var (processJitMethods, processJitTime) = (JitInfo.GetCompiledMethodCount(), JitInfo.GetCompilationTime());
        (jitMethods, jitTime) = (processJitMethods - jitMethods, processJitTime - jitTime);
        process.Refresh();
        var processCpu = process.TotalProcessorTime;
        cpu = processCpu - cpu;
        var stats = await engine.Inventory.GetJournalStats(Sku);
        log.WriteLine($"recovery ({label}): first answer {firstAnswer.TotalMilliseconds:N0} ms after the engine started " +
                      $"({engineStart.TotalMilliseconds:N0} ms), {stats.EventsReplayed:N0} events replayed; meanwhile the JIT compiled " +
                      $"{jitMethods:N0} methods in {jitTime.TotalMilliseconds:N0} ms; the process used {cpu.TotalMilliseconds:N0} ms of CPU");
        // The monotonic clock (Linux), so a profile recorded with it (perf record -k mono) can be cut to the same window.
        log.WriteLine($"first answer awaited from {askedTicks / (double)Stopwatch.Frequency:F6} to {answeredTicks / (double)Stopwatch.Frequency:F6} s (Stopwatch)");
        if (m.Jit is { } jit)
        {
            await WriteJitLogAsync(jit, asked, answered, "while the first answer was awaited", label, m);
            // A fresh process compiles the engine's start too: most of its code is first met there.
            await WriteJitLogAsync(jit, restarted, answered, "from the engine's start to the first answer", $"{label}, restart", m);
        }
        return new FirstAnswer(engineStart.TotalMilliseconds, firstAnswer.TotalMilliseconds, fromRestart.TotalMilliseconds, stats.EventsReplayed,
            reply.Outcome.ToString(), reply.Levels.Reserved, jitMethods, jitTime.TotalMilliseconds, cpu.TotalMilliseconds, answered,
            processJitMethods, processJitTime.TotalMilliseconds, processCpu.TotalMilliseconds);
    }

    /// <summary>The methods compiled in a window: every one to a file; counts and JIT time by whose code, counts by tier and by type to the log.</summary>
    private static async Task WriteJitLogAsync(JitLog jit, DateTime asked, DateTime answered, string window, string label, Measuring m)
    {
        var compiled = await jit.Between(asked, answered);
        var file = Path.Combine(m.Folder, $"jit-{string.Concat(label.Where(char.IsLetterOrDigit))}.tsv");
        File.WriteAllLines(file, compiled.Select(c => $"{(c.At - asked).TotalMilliseconds:F1}\t{c.Ms:F2}\t{c.Tier}\t{JitLog.Group(c.Method)}\t{c.Method}"));
        m.Log.WriteLine($"JIT {window} ({label}), {compiled.Count:N0} methods, {compiled.Sum(c => c.Ms):N0} ms compiling: " +
                        string.Join(", ", compiled.GroupBy(c => c.Tier).OrderByDescending(g => g.Count()).Select(g => $"{g.Key} {g.Count():N0}")));
        foreach (var group in compiled.GroupBy(c => JitLog.Group(c.Method)).OrderByDescending(g => g.Sum(c => c.Ms)))
            m.Log.WriteLine($"  {group.Count(),5} methods {group.Sum(c => c.Ms),7:N1} ms  {group.Key} " +
                            $"({string.Join(", ", group.GroupBy(c => c.Tier).OrderByDescending(t => t.Count()).Select(t => $"{t.Key} {t.Count():N0}"))})");
        foreach (var type in compiled.GroupBy(c => (c.Tier, Type: c.Method[..Math.Max(0, c.Method.IndexOf("::", StringComparison.Ordinal))]))
                     .OrderByDescending(g => g.Count()).Take(25))
            m.Log.WriteLine($"  {type.Count(),5}  {type.Key.Tier,-12} {type.Key.Type}");
        m.Log.WriteLine($"  every method: {file}");
    }

    private static Task<RestockEngine> StartAsync(string file, string[] overrides) => RestockEngine.StartAsync(EngineFiles.Config(file, overrides));

    /// <summary>
    /// One stocking event, <paramref name="openLines"/> reservations left open (payment due in a day), then reservations
    /// cancelled at once, two events each, until <paramref name="events"/> are journaled.
    /// </summary>
    private static async Task BuildAsync(RestockEngine engine, long events, int openLines, int inFlight, TextWriter log)
    {
        await Expect(() => engine.Inventory.Execute(Sku, new SetStock("initial", SkuStock.MaxQuantity, "recovery bench", Shop)));
        var dueTomorrow = DateTimeOffset.UtcNow.AddDays(1);
        await InParallel(openLines, inFlight, i => Expect(() => engine.Inventory.Execute(Sku, new Reserve($"open-{i:D8}", 1, dueTomorrow))));
        var pairs = (events - 1 - openLines) / 2;
        var done = 0L;
        await InParallel(pairs, inFlight, async i =>
        {
            var order = $"done-{i:D8}";
            await Expect(() => engine.Inventory.Execute(Sku, new Reserve(order, 1, dueTomorrow)));
            await Expect(() => engine.Inventory.Execute(Sku, new Release(order)));
            if (Interlocked.Increment(ref done) % 100_000 == 0) log.WriteLine($"recovery: {2 * done:N0} events");
        });
        // An odd remainder: one more stock change keeps the count exact.
        if ((events - 1 - openLines) % 2 == 1)
            await Expect(() => engine.Inventory.Execute(Sku, new AdjustStock("last", -1, "recovery bench", Shop)));
    }

    private static async Task InParallel(long count, int workers, Func<long, Task> work)
    {
        var next = -1L;
        await Task.WhenAll(Enumerable.Range(0, (int)Math.Min(workers, Math.Max(count, 1))).Select(async _ =>
        {
            for (var i = Interlocked.Increment(ref next); i < count; i = Interlocked.Increment(ref next))
                await work(i);
        }));
    }

    /// <summary>Every command has an id, so one that timed out (a busy machine) is sent again: its repeat answers "already done".</summary>
    private static async Task Expect(Func<Task<SkuReply>> call)
    {
        for (var attempt = 1; ; attempt++)
        {
            SkuReply reply;
            try
            {
                reply = await call();
            }
            catch (Exception) when (attempt < 5)
            {
                continue;
            }
            if (reply.Outcome is SkuOutcome.Done or SkuOutcome.AlreadyDone) return;
            throw new InvalidOperationException($"building the SKU failed: {reply.Outcome} {reply.Rejection} {reply.Message}");
        }
    }

    /// <summary>The stored size of the SKU's latest snapshot, as the snapshot store holds it.</summary>
    private static (long Bytes, long SequenceNr) LatestSnapshot(string file)
    {
        using var connection = new SqliteConnection($"Data Source={EngineFiles.SnapshotsOf(file)};Mode=ReadOnly");
        connection.Open();
        using var query = connection.CreateCommand();
        query.CommandText = "SELECT length(snapshot), sequence_number FROM snapshot WHERE persistence_id = $id ORDER BY sequence_number DESC LIMIT 1";
        query.Parameters.AddWithValue("$id", SkuActor.PersistenceIdFor(Sku));
        using var row = query.ExecuteReader();
        return row.Read() ? (row.GetInt64(0), row.GetInt64(1)) : (0, 0);
    }

    /// <summary>The chunks of remembered ids the SKU's snapshots keep beside their head (see <c>IdChunks</c>): how many, and their bytes.</summary>
    private static (int Rows, long Bytes) IdChunks(string file)
    {
        using var connection = new SqliteConnection($"Data Source={EngineFiles.SnapshotsOf(file)};Mode=ReadOnly");
        connection.Open();
        using var query = connection.CreateCommand();
        query.CommandText = "SELECT count(*), coalesce(sum(length(snapshot)), 0) FROM snapshot WHERE persistence_id = $id";
        query.Parameters.AddWithValue("$id", BatchedRecoverySnapshotStore.PartsOf(SkuActor.PersistenceIdFor(Sku)));
        using var row = query.ExecuteReader();
        return row.Read() ? (row.GetInt32(0), row.GetInt64(1)) : (0, 0);
    }

    private static string Target(string what, bool met, string measured) => $"{(met ? "met" : "MISSED")}: {what} — measured {measured}";

    public static string Markdown(RecoveryReport r)
    {
        var sb = new StringBuilder($"# recovery-bench, {r.StartedAt.ToString("u", CultureInfo.InvariantCulture)}\n\n");
        var fresh = r.Cases.Any(c => c.FreshProcess is not null);
        sb.AppendLine($"Machine: {r.Machine}. One SKU built through the in-process engine (SQLite WAL, synchronous FULL), the engine " +
                      "stopped as by a crash (no handoff) and started again on the same file, one new reservation sent at once; then that " +
                      "engine stopped gracefully and started again, the same." +
                      (fresh ? " Each restart in a fresh process of the runner (its code compiled for the first time), as a crashed node restarts.\n" : "\n"));
        sb.AppendLine("| finished ids, restart | horizon | events | open lines | built in | latest snapshot | its id chunks | engine start | first answer | from the restart | events replayed | JIT meanwhile | CPU meanwhile | answer (units reserved after it) |" +
                      (fresh ? " fresh process: answer from its spawn | from its own start | its JIT, CPU by then |" : ""));
        sb.AppendLine("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|" + (fresh ? "---|---|---|" : ""));
        foreach (var c in r.Cases)
            sb.AppendLine($"| {c.Ids} | {c.Horizon} | {c.Events:N0} | {c.OpenLines:N0} | {c.BuildSeconds:N1} s | " +
                          $"{c.SnapshotBytes / 1e6:N1} MB at row {c.SnapshotSequenceNr:N0} | {c.IdChunks:N0}, {c.IdChunkBytes / 1e6:N1} MB | {c.EngineStartMs:N0} ms | **{c.FirstAnswerMs:N0} ms** | " +
                          $"{c.FirstAnswerFromRestartMs:N0} ms | {c.EventsReplayed:N0} | {c.JitMethods:N0} methods, {c.JitMs:N0} ms | {c.CpuMs:N0} ms | {c.FirstAnswer} ({c.ReservedAfter:N0}) |" +
                          (c.FreshProcess is { } f
                              ? $" **{f.FromSpawnMs:N0} ms** | {f.FromProcessStartMs:N0} ms | {f.JitMethods:N0} methods, {f.JitMs:N0} ms; {f.CpuMs:N0} ms" +
                                (f.ExitCode != 0 ? $"; exited with code {f.ExitCode} after it" : "") + " |"
                              : fresh ? " — | — | — |" : ""));
        sb.AppendLine();
        sb.AppendJoin("", r.Targets.Select(t => $"- {t}\n"));
        return sb.ToString();
    }
}
