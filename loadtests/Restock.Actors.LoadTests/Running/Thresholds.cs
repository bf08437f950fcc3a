using System.Globalization;
using System.Text.RegularExpressions;
using HdrHistogram;

namespace Restock.Actors.LoadTests.Running;

public sealed record ThresholdResult(string Threshold, double Actual, bool Held);

/// <summary>
/// Pass/fail rules such as <c>p99&lt;20ms</c>, <c>p99:reserve&lt;10ms</c>, <c>fail-rate&lt;0.1%</c>, <c>rate&gt;=40000</c>
/// or <c>oversold=0</c>. Latency rules without an operation apply to the slowest one.
/// </summary>
public static partial class Thresholds
{
    [GeneratedRegex(@"^(?<metric>[a-z][a-z0-9.\-]*)(:(?<op>[a-z ]+))?\s*(?<cmp><=|>=|<|>|=)\s*(?<value>[0-9.]+)\s*(?<unit>ms|%|/s)?$")]
    private static partial Regex Rule();

    public static bool IsValid(string threshold) => Rule().IsMatch(threshold.Trim());

    public static ThresholdResult Evaluate(string threshold, Metrics metrics, double achievedRate, IReadOnlyList<InvariantResult> invariants)
    {
        var m = Rule().Match(threshold.Trim());
        if (!m.Success) throw new ArgumentException($"not a threshold: '{threshold}' (e.g. p99<20ms, fail-rate<0.1%, oversold=0)");
        var metric = m.Groups["metric"].Value;
        var op = m.Groups["op"].Success ? m.Groups["op"].Value : null;
        var limit = double.Parse(m.Groups["value"].Value, CultureInfo.InvariantCulture);
        var ops = metrics.Operations.Where(o => op is null || o.Key == op).Select(o => o.Value).ToList();

        double actual = metric switch
        {
            "rate" => achievedRate,
            "fail-rate" => metrics.TotalCount == 0 ? 0 : 100.0 * metrics.TotalFailed / metrics.TotalCount,
            "mean" => ops.Count == 0 ? 0 : ops.Max(o => o.Total.GetMean()) / 1000,
            "max" => ops.Count == 0 ? 0 : ops.Max(o => o.Total.GetMaxValue()) / 1000.0,
            _ when metric.StartsWith('p') && double.TryParse(metric[1..], CultureInfo.InvariantCulture, out var percentile) =>
                ops.Count == 0 ? 0 : ops.Max(o => o.Total.TotalCount == 0 ? 0 : o.Total.GetValueAtPercentile(percentile)) / 1000.0,
            _ => invariants.FirstOrDefault(i => i.Name == metric)?.Violations
                 ?? throw new ArgumentException($"unknown metric '{metric}' in threshold '{threshold}'"),
        };
        var held = m.Groups["cmp"].Value switch
        {
            "<" => actual < limit,
            "<=" => actual <= limit,
            ">" => actual > limit,
            ">=" => actual >= limit,
            _ => Math.Abs(actual - limit) < 1e-9,
        };
        return new ThresholdResult(threshold, Math.Round(actual, 3), held);
    }
}
