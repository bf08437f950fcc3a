using Restock.Actors.LoadTests;
using Restock.Actors.LoadTests.Running;
using Restock.Actors.LoadTests.Scenarios;
using Xunit.Abstractions;

namespace Restock.Actors.Tests.LoadSimulations;

/// <summary>
/// Seconds-long versions of the flash-sale, refund-storm and crash simulations. They assert the invariants the
/// runner checks (no oversell, no double restock, ledger = stock, no lost acknowledgement), never a timing.
/// </summary>
public sealed class ShortLoadSimulationTests(ITestOutputHelper output)
{
    private async Task<RunReport> Run(Scenario scenario)
    {
        var log = new StringWriter();
        var report = await LoadRun.RunAsync(new RunOptions(scenario with { Thresholds = ["oversold=0", "double-restocks=0"] }, Seed: 42, WriteReport: false), log);
        output.WriteLine(log.ToString());
        foreach (var op in report.Operations)
            output.WriteLine($"{op.Operation}: {string.Join("; ", op.Outcomes.Select(o => $"{o.Key} {o.Value}"))}");
        foreach (var invariant in report.Invariants)
            output.WriteLine($"{invariant.Name}: {invariant.Violations}");
        Assert.All(report.Invariants, i => Assert.True(i.Held, $"{i.Name}: {i.Violations} ({i.Meaning})"));
        return report;
    }

    private static long Ok(RunReport report, string operation) => report.Operations.Where(o => o.Operation == operation).Sum(o => o.Ok);

    [Fact]
    public async Task Flash_sale_sells_every_unit_and_not_one_more()
    {
        var scenario = Catalog.Find("flash-sale")! with
        {
            StockPerSku = 300,
            Attempts = 3_000,
            Duration = TimeSpan.FromSeconds(30),
            Model = new LoadModel(LoadKind.Closed, Concurrency: 100),
            PaymentWindow = TimeSpan.FromSeconds(2),
        };
        var report = await Run(scenario);

        Assert.True(Ok(report, "reserve") >= 300, "demand far above stock must sell the whole stock");
        Assert.Contains(report.Operations, o => o.Operation == "reserve" && o.Outcomes.ContainsKey("rejected: OutOfStock"));
    }

    [Fact]
    public async Task Promo_mix_warms_up_on_SKUs_of_its_own_and_measures_only_the_run_after_it()
    {
        var scenario = Catalog.Find("promo-mix")! with
        {
            Skus = 200,
            Shops = 4,
            Duration = TimeSpan.FromSeconds(2),
            WarmUp = TimeSpan.FromSeconds(2),
            Model = new LoadModel(LoadKind.Open, Concurrency: 1_000, Rate: 200),
        };
        var report = await Run(scenario);

        // 2 s at 200/s measured; the warm-up's 400 requests (and its SKUs) are not in the report or its checks.
        Assert.InRange(report.Operations.Sum(o => o.Count), 300, 500);
        Assert.Contains(report.Notes, n => n.StartsWith("warm-up", StringComparison.Ordinal));
        Assert.NotNull(report.Costs);
        Assert.Equal(TimeSpan.Zero, CommandLine.Parse(["promo-mix", "--warm-up", "0"]).Options.Scenario.WarmUp);
        Assert.Equal(TimeSpan.FromSeconds(5), CommandLine.Parse(["promo-mix", "--warm-up", "5s"]).Options.Scenario.WarmUp);
    }

    [Fact]
    public async Task Refund_storm_never_restocks_a_unit_twice()
    {
        var scenario = Catalog.Find("refund-storm")! with
        {
            Skus = 10,
            Duration = TimeSpan.FromSeconds(6),
            Model = new LoadModel(LoadKind.Closed, Concurrency: 30),
        };
        var report = await Run(scenario);

        Assert.True(Ok(report, "refund") > 0 && Ok(report, "erp restock") > 0, "the storm must include refunds and ERP restocks");
        Assert.Contains(report.Events, e => e.Contains("toggled"));
    }

    [Fact]
    public async Task A_service_killed_mid_sale_keeps_every_acknowledged_reservation()
    {
        var scenario = Catalog.Find("crash")! with
        {
            Duration = TimeSpan.FromSeconds(16),
            Model = new LoadModel(LoadKind.Closed, Concurrency: 20),
        };
        var report = await Run(scenario);

        Assert.Contains(report.Events, e => e.Contains("SIGKILL"));
        Assert.True(Ok(report, "reserve") > 0);
        Assert.Equal(0, report.Invariants.Single(i => i.Name == "lost-acks").Violations);
    }

    [Fact]
    public async Task Recovery_bench_restarts_the_SKU_it_built_with_every_open_line_still_held()
    {
        var log = new StringWriter();
        var reports = Path.Combine(Path.GetTempPath(), $"restock-recovery-bench-{Guid.NewGuid():N}");
        var report = await RecoveryBench.RunAsync(new RunOptions(Catalog.Find("recovery-bench")!, ReportsFolder: reports), events: 3_001, openLines: 200, log);
        output.WriteLine(log.ToString());
        Directory.Delete(reports, recursive: true);

        // Per horizon, a restart after a crash, then one after a graceful stop: each first command is a new reservation,
        // accepted on top of the 200 lines left open and the reservations of the restarts before it.
        Assert.Equal([("Done", 201L), ("Done", 202L), ("Done", 201L), ("Done", 202L)], report.Cases.Select(c => (c.FirstAnswer, c.ReservedAfter)));
    }

    [Fact]
    public async Task Recovery_bench_in_a_fresh_process_restarts_the_SKU_it_built_with_every_open_line_still_held()
    {
        var log = new StringWriter();
        var reports = Path.Combine(Path.GetTempPath(), $"restock-recovery-bench-{Guid.NewGuid():N}");
        var report = await RecoveryBench.RunAsync(new RunOptions(Catalog.Find("recovery-bench")!, ReportsFolder: reports), events: 3_001, openLines: 200, log,
            freshProcess: true);
        output.WriteLine(log.ToString());
        Directory.Delete(reports, recursive: true);

        // Each restart ran in a child runner that answered: the same SKU as in-process, the graceful stop's snapshot included.
        Assert.Equal([("Done", 201L), ("Done", 202L), ("Done", 201L), ("Done", 202L)], report.Cases.Select(c => (c.FirstAnswer, c.ReservedAfter)));
        Assert.All(report.Cases, c => Assert.True(c.FreshProcess is { FromSpawnMs: > 0, JitMethods: > 0 }, c.Ids));
        Assert.All(report.Cases, c => Assert.EndsWith("fresh process", c.Ids));
    }
}
