using Restock.Actors.LoadTests.Running;

namespace Restock.Actors.LoadTests.Reports;

/// <summary>PNG charts of a run: requests answered ok per second, and p50/p99 latency per second, per operation.</summary>
public static class Charts
{
    static Charts()
    {
        // ScottPlot draws no text at all when its font is missing: name one the machine has (CI installs DejaVu).
        ScottPlot.Fonts.Default = "DejaVu Sans";
    }

    public static IReadOnlyList<string> Write(RunReport report, string folder)
    {
        var busy = report.Operations.Where(o => o.Series.Count > 0).ToList();
        if (busy.Count == 0) return [];

        var throughput = new ScottPlot.Plot();
        foreach (var op in busy)
            throughput.Add.ScatterLine(op.Series.Select(s => s.Second).ToArray(), op.Series.Select(s => (double)s.Ok).ToArray()).LegendText = op.Operation;
        throughput.Title($"{report.Scenario}: answered ok per second");
        throughput.XLabel("seconds");
        throughput.YLabel("requests/s");
        throughput.ShowLegend();
        throughput.SavePng(Path.Combine(folder, "throughput.png"), 1000, 450);

        var latency = new ScottPlot.Plot();
        foreach (var op in busy)
        {
            var xs = op.Series.Select(s => s.Second).ToArray();
            latency.Add.ScatterLine(xs, op.Series.Select(s => s.P99Ms).ToArray()).LegendText = op.Operation + " p99";
            latency.Add.ScatterLine(xs, op.Series.Select(s => s.P50Ms).ToArray()).LegendText = op.Operation + " p50";
        }
        latency.Title($"{report.Scenario}: latency per second (ms)");
        latency.XLabel("seconds");
        latency.YLabel("ms");
        latency.ShowLegend();
        latency.SavePng(Path.Combine(folder, "latency.png"), 1000, 450);
        if (report.NodeLoss is not { } loss) return ["throughput.png", "latency.png"];

        var timeline = new ScottPlot.Plot();
        var seconds = loss.Timeline.Select(p => (double)p.Second).ToArray();
        timeline.Add.ScatterLine(seconds, loss.Timeline.Select(p => (double)p.Answered).ToArray()).LegendText = "answered";
        timeline.Add.ScatterLine(seconds, loss.Timeline.Select(p => (double)p.AnsweredHealthySkus).ToArray()).LegendText = "answered, SKUs not on the killed node";
        timeline.Add.ScatterLine(seconds, loss.Timeline.Select(p => (double)p.AnsweredMovingSkus).ToArray()).LegendText = "answered, the killed node's SKUs";
        timeline.Add.ScatterLine(seconds, loss.Timeline.Select(p => (double)p.Unknown).ToArray()).LegendText = "503 (outcome unknown, retried)";
        timeline.Add.ScatterLine(seconds, loss.Timeline.Select(p => (double)p.Failed).ToArray()).LegendText = "failed";
        timeline.Add.VerticalLine(loss.KilledAtSecond).LegendText = "SIGKILL";
        if (loss.EverySkuAnsweringAfterSeconds is { } back)
            timeline.Add.VerticalLine(loss.KilledAtSecond + back).LegendText = "every SKU answering again";
        timeline.Title($"{report.Scenario}: requests per second by answer");
        timeline.XLabel("seconds");
        timeline.YLabel("requests/s");
        timeline.ShowLegend();
        timeline.SavePng(Path.Combine(folder, "timeline.png"), 1000, 450);
        return ["timeline.png", "throughput.png", "latency.png"];
    }
}
