using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Restock.Actors.LoadTests.Running;
using Restock.Actors.LoadTests.Targets;

namespace Restock.Actors.LoadTests.Reports;

/// <summary>Writes a run's report into a folder named by scenario and time: Markdown, HTML with charts, CSV, JSON, PNG.</summary>
public static class ReportWriter
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerOptions.Web)
    {
        WriteIndented = true,
        Converters = { new JsonStringEnumConverter() },
    };

    public static string Write(RunReport report, string reportsFolder)
    {
        var folder = Path.Combine(reportsFolder, $"{report.Scenario}-{report.StartedAt:yyyyMMdd-HHmmss}");
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, "report.json"), JsonSerializer.Serialize(report, Json));
        File.WriteAllText(Path.Combine(folder, "operations.csv"), Csv(report));
        if (report.NodeLoss is { } loss) File.WriteAllText(Path.Combine(folder, "timeline.csv"), TimelineCsv(loss));
        var charts = Charts.Write(report, folder);
        File.WriteAllText(Path.Combine(folder, "report.md"), Markdown(report, charts));
        File.WriteAllText(Path.Combine(folder, "report.html"), Html(report, folder, charts));
        return folder;
    }

    public static string Verdict(RunReport r) =>
        r.Passed ? "PASSED" : r.InvariantsHeld ? "FAILED (thresholds)" : "FAILED (invariants violated)";

    private static string F(double v) => v.ToString("0.###", CultureInfo.InvariantCulture);

    private static string Csv(RunReport r)
    {
        var sb = new StringBuilder("operation,count,ok,failed,rate_per_s,min_ms,mean_ms,p50_ms,p75_ms,p95_ms,p99_ms,p99_9_ms,max_ms,longest_gap_ms\n");
        foreach (var o in r.Operations)
            sb.AppendLine(string.Join(',', $"\"{o.Operation}\"", o.Count, o.Ok, o.Failed, F(o.RatePerSecond), F(o.MinMs), F(o.MeanMs),
                F(o.P50Ms), F(o.P75Ms), F(o.P95Ms), F(o.P99Ms), F(o.P999Ms), F(o.MaxMs), F(o.LongestGapMs)));
        return sb.ToString();
    }

    private static IEnumerable<string[]> Headline(RunReport r) =>
    [
        ["verdict", Verdict(r)],
        ["scenario", $"{r.Scenario}: {r.Description}"],
        ["target", r.Target],
        ["configuration", r.EngineOverrides.Count == 0
            ? "shipped (hocon/), nothing overridden"
            : $"OVERRIDDEN: {string.Join("; ", r.EngineOverrides)} (on top of hocon/)"],
        ["load model", r.LoadModel],
        ["duration", $"{F(r.Seconds)} s (load, then the requests still in flight)"],
        ["rate", r.TargetRate > 0
            ? $"{F(r.AchievedRate)}/s achieved of {F(r.TargetRate)}/s targeted ({F(100 * r.AchievedRate / r.TargetRate)}%); " +
              $"{r.NotStarted:N0} arrivals not started (in-flight cap reached)"
            : $"{F(r.AchievedRate)}/s achieved"],
        ["arrivals started late (open model)", r.Arrivals is not { } a ? "" :
            $"p50 {F(a.P50Ms)} ms, p99 {F(a.P99Ms)} ms, max {F(a.MaxMs)} ms after they were due ({a.Count:N0} arrivals; part of every latency below); " +
            $"the generator's thread busy {F(100 * a.GeneratorBusyShare)}% of the run"],
        ["seed", r.Seed.ToString(CultureInfo.InvariantCulture)],
        ["machine", r.Machine],
        ["started", r.StartedAt.ToString("u", CultureInfo.InvariantCulture)],
        ["GC during the load", r.Gc is not { } gc ? "" :
            $"{gc.Mode}: {gc.AllocatedBytes / 1e6:N0} MB allocated, collections gen0 {gc.Gen0} / gen1 {gc.Gen1} / gen2 {gc.Gen2}, " +
            $"{F(gc.PauseMs)} ms paused (this process: the engine's too when in-process); {gc.PerRequest(r.Operations.Sum(o => o.Count))}"],
        ["cost per request (in-process)", r.Costs is not { } c ? "" :
            $"{F(c.CpuMicrosPerRequest)} µs CPU (engine and runner), {F(c.JournalTransactionsPerRequest)} journal write transactions, " +
            $"{F(c.SkuWritesPerRequest)} SKU group commits; the journal waited for SQLite's write lock {c.LockWaits:N0} times, " +
            $"{F(c.LockWaitTotalMs)} ms in all, at most {F(c.LockWaitMaxMs)} ms, and for the writers' turn (the ledger, a WAL restart) " +
            $"{c.TurnWaits:N0} times, {F(c.TurnWaitTotalMs)} ms in all, at most {F(c.TurnWaitMaxMs)} ms; {c.JitCompiledMethods:N0} methods JIT-compiled during the load; " +
            $"{F(c.MonitorContentionsPerRequest)} lock contentions (a thread waiting for a held lock, any lock in the process)"],
    ];

    private static IEnumerable<string[]> NodeLossRows(NodeLossReport n) =>
    [
        ["cluster", $"{n.Nodes} nodes"],
        ["killed", $"{n.KilledNode} with SIGKILL at {F(n.KilledAtSecond)} s"],
        ["every SKU answering again", n.EverySkuAnsweringAfterSeconds is { } s ? $"{F(s)} s after the kill" : "not within a minute of the kill"],
        ["takeover, step by step (s after the kill)", string.Join("; ", n.Phases.Select(p =>
            $"{p.Name} {(p.AtSecond is { } at ? F(at) : "not seen")}{(p.Source == "probe" ? "" : $" ({p.Source})")}"))],
        ["during the takeover", $"{n.AnsweredDuringTakeover:N0} answered, {n.UnknownDuringTakeover:N0} 503 (outcome unknown, retried with the same id), " +
                                $"{n.FailedDuringTakeover:N0} failed (other 5xx, refused connections, timeouts)"],
        ["503 answered after (request start to answer, whole run)", n.UnknownAnsweredAfter.Count == 0 ? "no 503" :
            $"{n.UnknownAnsweredAfter.Count:N0} answers: p50 {F(n.UnknownAnsweredAfter.P50Seconds)} s, p99 {F(n.UnknownAnsweredAfter.P99Seconds)} s, " +
            $"max {F(n.UnknownAnsweredAfter.MaxSeconds)} s"],
        ["answered per second", $"{F(n.AnsweredPerSecondBefore)} before the kill, {F(n.AnsweredPerSecondDuring)} during the takeover"],
        ["healthy SKUs answered per second", $"{n.Skus - n.SkusTakenOver} of {n.Skus} SKUs kept answering (not on the killed node): " +
                                             $"{F(n.HealthySkus.Before)} before the kill, {F(n.HealthySkus.During)} during the takeover, {F(n.HealthySkus.After)} after"],
        ["moving SKUs answered per second", $"the killed node's {n.SkusTakenOver} SKUs: " +
                                            $"{F(n.MovingSkus.Before)} before the kill, {F(n.MovingSkus.During)} during the takeover, {F(n.MovingSkus.After)} after"],
    ];

    private static string TimelineCsv(NodeLossReport n) =>
        "second,answered,unknown_503,failed,answered_healthy_skus,answered_moving_skus\n" +
        string.Concat(n.Timeline.Select(p => $"{p.Second},{p.Answered},{p.Unknown},{p.Failed},{p.AnsweredHealthySkus},{p.AnsweredMovingSkus}\n"));

    private static IEnumerable<string[]> OperationRows(RunReport r) => r.Operations.Select(o => new[]
    {
        o.Operation, o.Count.ToString("N0"), o.Ok.ToString("N0"), o.Failed.ToString("N0"), F(o.RatePerSecond), F(o.MinMs), F(o.MeanMs),
        F(o.P50Ms), F(o.P75Ms), F(o.P95Ms), F(o.P99Ms), F(o.P999Ms), F(o.MaxMs), F(o.LongestGapMs),
        string.Join("; ", o.Outcomes.Select(kv => $"{kv.Key} {kv.Value:N0}")),
    });

    private static readonly string[] OperationHeader =
        ["operation", "count", "ok", "failed", "/s", "min ms", "mean ms", "p50", "p75", "p95", "p99", "p99.9", "max", "longest gap", "outcomes"];

    private static string Markdown(RunReport r, IReadOnlyList<string> charts)
    {
        var sb = new StringBuilder($"# Load report: {r.Scenario}\n\n");
        sb.Append(MdTable(["", ""], Headline(r)));
        if (r.NodeLoss is { } loss)
            sb.Append("\n## Node loss (timeline: timeline.csv and timeline.png, requests counted in the second they were answered)\n\n")
                .Append(MdTable(["", ""], NodeLossRows(loss)));
        sb.Append("\n## Operations (latency in ms, from the caller's side)\n\n").Append(MdTable(OperationHeader, OperationRows(r)));
        sb.Append("\n## Invariants (any violation fails the run)\n\n")
            .Append(MdTable(["invariant", "violations", "held", "meaning"], r.Invariants.Select(i => new[] { i.Name, i.Violations.ToString("N0"), i.Held ? "yes" : "**NO**", i.Meaning })));
        sb.Append("\n## Thresholds\n\n")
            .Append(MdTable(["threshold", "actual", "held"], r.Thresholds.Select(t => new[] { t.Threshold, F(t.Actual), t.Held ? "yes" : "**NO**" })));
        if (r.Events.Count > 0) sb.Append("\n## Events\n\n").AppendJoin("", r.Events.Select(e => $"- {e}\n"));
        if (r.Notes.Count > 0) sb.Append("\n## Notes\n\n").AppendJoin("", r.Notes.Select(n => $"- {n}\n"));
        if (charts.Count > 0) sb.Append("\n## Charts\n\n").AppendJoin("", charts.Select(c => $"![{c}]({c})\n"));
        return sb.ToString();
    }

    private static string MdTable(string[] header, IEnumerable<string[]> rows)
    {
        static string Cell(string s) => s.Replace("|", "\\|");
        var sb = new StringBuilder($"| {string.Join(" | ", header.Select(Cell))} |\n|{string.Concat(header.Select(_ => "---|"))}\n");
        foreach (var row in rows) sb.Append($"| {string.Join(" | ", row.Select(Cell))} |\n");
        return sb.ToString();
    }

    private static string Html(RunReport r, string folder, IReadOnlyList<string> charts)
    {
        static string Table(string[] header, IEnumerable<string[]> rows) =>
            "<table><tr>" + string.Concat(header.Select(h => $"<th>{WebUtility.HtmlEncode(h)}</th>")) + "</tr>" +
            string.Concat(rows.Select(row => "<tr>" + string.Concat(row.Select(c => $"<td>{WebUtility.HtmlEncode(c)}</td>")) + "</tr>")) + "</table>";
        var images = charts.Select(c =>
            $"<img alt=\"{c}\" src=\"data:image/png;base64,{Convert.ToBase64String(File.ReadAllBytes(Path.Combine(folder, c)))}\">");
        return $$"""
            <!doctype html><html><head><meta charset="utf-8"><title>Load report: {{WebUtility.HtmlEncode(r.Scenario)}}</title>
            <style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin-bottom:1.5em}
            td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}th{background:#f3f3f3}img{max-width:100%;display:block;margin:1em 0}</style>
            </head><body><h1>Load report: {{WebUtility.HtmlEncode(r.Scenario)}}</h1>
            {{Table(["", ""], Headline(r))}}
            {{(r.NodeLoss is { } loss ? "<h2>Node loss</h2>" + Table(["", ""], NodeLossRows(loss)) : "")}}
            <h2>Operations (latency in ms, from the caller's side)</h2>{{Table(OperationHeader, OperationRows(r))}}
            <h2>Invariants (any violation fails the run)</h2>{{Table(["invariant", "violations", "held", "meaning"], r.Invariants.Select(i => new[] { i.Name, i.Violations.ToString("N0"), i.Held ? "yes" : "NO", i.Meaning }))}}
            <h2>Thresholds</h2>{{Table(["threshold", "actual", "held"], r.Thresholds.Select(t => new[] { t.Threshold, F(t.Actual), t.Held ? "yes" : "NO" }))}}
            {{(r.Events.Count > 0 ? "<h2>Events</h2><ul>" + string.Concat(r.Events.Select(e => $"<li>{WebUtility.HtmlEncode(e)}</li>")) + "</ul>" : "")}}
            {{(r.Notes.Count > 0 ? "<h2>Notes</h2><ul>" + string.Concat(r.Notes.Select(n => $"<li>{WebUtility.HtmlEncode(n)}</li>")) + "</ul>" : "")}}
            <h2>Charts</h2>{{string.Concat(images)}}
            </body></html>
            """;
    }
}
