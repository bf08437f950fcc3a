using System.Globalization;
using System.Text;
using Restock.Actors.LoadTests.Scenarios;

namespace Restock.Actors.LoadTests.Running;

public sealed record RateTrial(double Rate, bool Held, double ReserveP99Ms, double AchievedRate, string Why);

public sealed record RateSearchReport(string Scenario, IReadOnlyList<string> Thresholds, double HighestHeld, IReadOnlyList<RateTrial> Trials);

/// <summary>
/// The highest open-model rate at which a scenario still passes (its thresholds, e.g. promo-mix's
/// <c>p99:reserve&lt;10ms</c>, and every invariant): from the given rate, doubling until a run fails, then halving the
/// interval until it is within a tenth of the rate held. Each trial is a fresh engine and a full run of the scenario.
/// </summary>
public static class RateSearch
{
    private const int MostTrials = 8;

    public static async Task<RateSearchReport> RunAsync(RunOptions options, TextWriter log)
    {
        var scenario = options.Scenario;
        double held = 0, failed = double.PositiveInfinity, rate = scenario.Model.Rate;
        var trials = new List<RateTrial>();
        while (trials.Count < MostTrials && failed - held > Math.Max(held, 1) * 0.1)
        {
            var trialScenario = scenario with { Model = scenario.Model with { Kind = LoadKind.Open, Rate = rate, RampToRate = null } };
            var report = await LoadRun.RunAsync(options with { Scenario = trialScenario }, log);
            var reserve = report.Operations.FirstOrDefault(o => o.Operation == "reserve");
            var why = string.Join("; ", report.Thresholds.Where(t => !t.Held).Select(t => $"{t.Threshold}: {t.Actual}")
                .Concat(report.Invariants.Where(i => !i.Held).Select(i => $"invariant {i.Name}")));
            trials.Add(new RateTrial(rate, report.Passed, reserve?.P99Ms ?? 0, report.AchievedRate, why));
            log.WriteLine($"rate search: {rate:N0}/s {(report.Passed ? "held" : "failed: " + why)}");
            if (report.Passed) held = rate;
            else failed = rate;
            var next = double.IsPositiveInfinity(failed) ? rate * 2 : Math.Round((held + failed) / 2);
            // Whole rates: once the interval is a single step, nothing new is left to try.
            if (next == held || next == failed) break;
            rate = next;
        }
        var result = new RateSearchReport(scenario.Name, scenario.Thresholds.Concat(options.ExtraThresholds ?? []).Distinct().ToList(), held, trials);
        var folder = Path.Combine(options.ReportsFolder, $"{scenario.Name}-rate-search-{DateTimeOffset.UtcNow:yyyyMMdd-HHmmss}");
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, "rate-search.md"), Markdown(result));
        log.WriteLine(Markdown(result));
        log.WriteLine($"report: {folder}");
        return result;
    }

    public static string Markdown(RateSearchReport r)
    {
        var sb = new StringBuilder($"# {r.Scenario}: highest rate that holds {string.Join(", ", r.Thresholds)}\n\n");
        sb.AppendLine($"**Highest rate held: {r.HighestHeld.ToString("N0", CultureInfo.InvariantCulture)}/s** (open model, each trial a fresh engine).\n");
        sb.AppendLine("| target rate/s | held | reserve p99 ms | achieved requests/s | why not |");
        sb.AppendLine("|---|---|---|---|---|");
        foreach (var t in r.Trials)
            sb.AppendLine($"| {t.Rate:N0} | {(t.Held ? "yes" : "no")} | {t.ReserveP99Ms:N2} | {t.AchievedRate:N0} | {t.Why} |");
        return sb.ToString();
    }
}
