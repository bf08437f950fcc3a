using Restock.Actors.LoadTests.Reports;
using Restock.Actors.LoadTests.Running;

namespace Restock.Actors.LoadTests;

public static class Program
{
    public static async Task<int> Main(string[] args)
    {
        try
        {
            if (args is [FreshProcessRestart.Command, ..]) return await FreshProcessRestart.RunChildAsync(args);
            var command = CommandLine.Parse(args);
            if (command.ShowHelp)
            {
                Console.WriteLine(CommandLine.Help);
                return 0;
            }
            if (command.Options.Scenario.Name == "hot-sku-bench")
            {
                var bench = await HotSkuBench.RunAsync(command.Options, command.MemorySkus, Console.Out);
                return bench.InvariantsHeld ? 0 : 1;
            }
            if (command.Options.Scenario.Name == "sku-memory")
            {
                await HotSkuBench.MemoryOnlyAsync(command.MemorySkus, command.Options.EngineOverrides ?? [], command.Options.Scenario.Duration, Console.Out);
                return 0;
            }
            if (command.Options.Scenario.Name == "recovery-bench")
            {
                var recovery = await RecoveryBench.RunAsync(command.Options, command.RecoveryEvents, command.RecoveryOpenLines, Console.Out, command.RecoveryCrashOnly, command.JitLog,
                    command.RecoveryFreshProcess);
                return recovery.Targets.All(t => t.StartsWith("met", StringComparison.Ordinal)) ? 0 : 1;
            }
            if (command.Options.Scenario.Name == "cold-start")
            {
                var cold = await ColdStartBench.RunAsync(command.Options, command.Repeat, Console.Out);
                return cold.EveryStockIntact ? 0 : 1;
            }
            if (command.FindRate)
            {
                var search = await RateSearch.RunAsync(command.Options, Console.Out);
                return search.HighestHeld > 0 ? 0 : 1;
            }
            var report = await LoadRun.RunAsync(command.Options);
            Console.WriteLine($"{ReportWriter.Verdict(report)}: {report.Operations.Sum(o => o.Count):N0} requests in {report.Seconds:F1}s, " +
                              $"{report.AchievedRate:N0}/s; invariants {(report.InvariantsHeld ? "held" : "VIOLATED")}");
            foreach (var broken in report.Invariants.Where(i => !i.Held))
                Console.WriteLine($"  invariant {broken.Name}: {broken.Violations} ({broken.Meaning})");
            foreach (var missed in report.Thresholds.Where(t => !t.Held))
                Console.WriteLine($"  threshold {missed.Threshold}: actual {missed.Actual}");
            return report.Passed ? 0 : 1;
        }
        catch (ArgumentException e)
        {
            Console.Error.WriteLine(e.Message);
            Console.Error.WriteLine("restock-load --help shows the usage.");
            return 2;
        }
    }
}
