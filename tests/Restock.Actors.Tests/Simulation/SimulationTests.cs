using Xunit.Abstractions;

namespace Restock.Actors.Tests.Simulation;

/// <summary>
/// Seeded fault-injection schedules through the whole engine (see README, "Simulation"). Each test runs its CI
/// share by default; the environment turns it into a replay of one seed or a soak.
/// </summary>
[Collection(SimulationCollection.Name)]
public sealed class SimulationTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Seeded_schedules_with_storage_faults_crashes_and_duplicates_keep_every_invariant()
    {
        await using var hosts = new MemoryHostPool(schedulesPerHost: 100);
        var simulator = new Simulator(hosts.AcquireAsync, hosts.ReleaseAsync, FaultMix.InMemory,
            nameof(Seeded_schedules_with_storage_faults_crashes_and_duplicates_keep_every_invariant));
        await Run(simulator, defaultCount: 1000, parallel: 128);
    }

    [Fact]
    public async Task Seeded_schedules_on_sqlite_with_system_restarts_keep_every_invariant_and_the_ledger()
    {
        var simulator = new Simulator(async () => await SqliteSimHost.StartAsync(), h => ((SqliteSimHost)h).DisposeAsync().AsTask(), FaultMix.OnSqlite,
            nameof(Seeded_schedules_on_sqlite_with_system_restarts_keep_every_invariant_and_the_ledger));
        await Run(simulator, defaultCount: 8, parallel: 2);
    }

    private async Task Run(Simulator simulator, int defaultCount, int parallel)
    {
        if (Simulator.Setting("RESTOCK_SIM_SEED") is { } seed)
        {
            var schedule = ScheduleGenerator.Generate(seed, simulator.Mix);
            if (Simulator.Setting("RESTOCK_SIM_STEPS") is { } steps) schedule = schedule.Prefix((int)steps);
            output.WriteLine($"replaying {schedule}");
            foreach (var step in schedule.Steps) output.WriteLine($"  {step}");
            var result = await simulator.RunOneAsync(schedule);
            output.WriteLine($"{result.Faults}; {result.Restarts} system restarts; {result.Took.TotalMilliseconds:F0} ms ({result.PhaseSummary})");
            Assert.True(result.Violations.Count == 0, string.Join("\n", result.Violations));
            return;
        }

        var first = Simulator.Setting("RESTOCK_SIM_FIRST_SEED") ?? 1;
        var seconds = Simulator.Setting("RESTOCK_SIM_SECONDS");
        var count = (int)(Simulator.Setting("RESTOCK_SIM_SCHEDULES") ?? (seconds is null ? defaultCount : int.MaxValue));
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var (ran, failed, faulted) = await simulator.RunManyAsync(first, count, seconds is { } s ? TimeSpan.FromSeconds(s) : null, parallel, Log);
        output.WriteLine($"{ran} schedules from seed {first} in {clock.Elapsed.TotalSeconds:F1} s; {faulted} with storage faults injected; {failed.Count} failed");
        if (failed.Count == 0) return;

        var report = new List<string>();
        foreach (var failing in failed.Take(2))
        {
            var shortest = await simulator.ShrinkAsync(failing);
            report.Add($"seed {shortest.Seed} fails; shortest failing prefix: {shortest.PrefixSteps} of {shortest.Steps} steps\n" +
                       $"  {string.Join("\n  ", shortest.Violations.Take(5))}\n  replay: {shortest.ReplayCommand}");
        }
        Assert.Fail($"{failed.Count} of {ran} schedules broke an invariant (seeds {string.Join(", ", failed.Select(f => f.Schedule.Seed).Take(20))})\n" +
                    string.Join("\n", report));
    }

    private void Log(string line)
    {
        try
        {
            output.WriteLine(line);
        }
        catch (InvalidOperationException)
        {
            // The test already ended (a late line from a worker): nothing to write to.
        }
    }
}

/// <summary>The simulation loads every core for a while: it runs alone, after the other tests, so neither slows the other.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class SimulationCollection
{
    public const string Name = "simulation";
}
