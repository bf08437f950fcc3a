using System.Diagnostics;

namespace Restock.Actors.Tests.Simulation;

public sealed record ScheduleResult(
    Schedule Schedule, IReadOnlyList<Violation> Violations, string Faults, int Restarts, TimeSpan Took, IReadOnlyList<(string Phase, TimeSpan Took)> Phases)
{
    public string PhaseSummary => string.Join(", ", Phases.Select(p => $"{p.Phase} {p.Took.TotalMilliseconds:F0} ms"));
}

/// <summary>A failing schedule cut to its shortest failing prefix.</summary>
public sealed record Failure(long Seed, int Steps, int PrefixSteps, IReadOnlyList<Violation> Violations, string ReplayCommand);

/// <summary>
/// Runs seeded schedules against a host, many at once, checks the invariants after each, and cuts any failing
/// schedule down to its shortest failing prefix. Settings come from the environment:
/// <c>RESTOCK_SIM_SEED</c> (+ optional <c>RESTOCK_SIM_STEPS</c>) replays one schedule,
/// <c>RESTOCK_SIM_SCHEDULES</c> / <c>RESTOCK_SIM_SECONDS</c> set a soak's size or time budget,
/// <c>RESTOCK_SIM_FIRST_SEED</c> moves the seed range.
/// </summary>
public sealed class Simulator(Func<Task<ISimHost>> hostFor, Func<ISimHost, Task> release, FaultMix mix, string testName)
{
    /// <summary>Invariants that are known to fail today, each with the reason it is excused; empty means every invariant counts.</summary>
    public static readonly IReadOnlyDictionary<string, string> KnownFailures = new Dictionary<string, string>();

    public FaultMix Mix => mix;

    public async Task<ScheduleResult> RunOneAsync(Schedule schedule)
    {
        var host = await hostFor();
        var clock = Stopwatch.StartNew();
        try
        {
            var run = new ScheduleRun(host, schedule);
            await run.RunAsync();
            var checking = Stopwatch.StartNew();
            var violations = (await SimInvariants.CheckAsync(run, host)).Where(v => !KnownFailures.ContainsKey(v.Invariant)).ToList();
            return new ScheduleResult(schedule, violations, run.FaultSummary, run.Restarts, clock.Elapsed, [.. run.Phases, ("invariants", checking.Elapsed)]);
        }
        catch (Exception e)
        {
            return new ScheduleResult(schedule, [new Violation("schedule-completes", e.ToString())], "", 0, clock.Elapsed, []);
        }
        finally
        {
            await release(host);
        }
    }

    /// <summary>Runs seeds from <paramref name="firstSeed"/> on, <paramref name="parallel"/> at a time, until the count or the time budget is spent.</summary>
    public async Task<(int Ran, IReadOnlyList<ScheduleResult> Failed, long FaultsInjected)> RunManyAsync(
        long firstSeed, int count, TimeSpan? budget, int parallel, Action<string> log)
    {
        var failed = new List<ScheduleResult>();
        var ran = 0;
        long faulted = 0, restarts = 0;
        ScheduleResult? slowest = null;
        var next = firstSeed - 1;
        var clock = Stopwatch.StartNew();
        var cpuBefore = System.Diagnostics.Process.GetCurrentProcess().TotalProcessorTime.TotalSeconds;
        var phases = new Dictionary<string, TimeSpan>();
        var took = new List<TimeSpan>();
        var workers = Enumerable.Range(0, parallel).Select(async _ =>
        {
            while (true)
            {
                var seed = Interlocked.Increment(ref next);
                if (seed - firstSeed >= count || (budget is { } b && clock.Elapsed > b)) return;
                var result = await RunOneAsync(ScheduleGenerator.Generate(seed, mix));
                lock (failed)
                {
                    ran++;
                    took.Add(result.Took);
                    foreach (var (phase, time) in result.Phases) phases[phase] = phases.GetValueOrDefault(phase) + time;
                    restarts += result.Restarts;
                    if (slowest is null || result.Took > slowest.Took) slowest = result;
                    if (result.Faults.Length > 0 && !result.Faults.StartsWith("0 journal write failures, 0 rejections, 0 snapshot", StringComparison.Ordinal))
                        faulted++;
                    if (result.Violations.Count > 0)
                    {
                        failed.Add(result);
                        log($"FAILED {result.Schedule}: {string.Join(" | ", result.Violations.Take(3))}");
                    }
                    if (ran % 100 == 0)
                        log($"{ran} schedules, {failed.Count} failed, {clock.Elapsed.TotalSeconds:F0} s, " +
                            $"CPU {System.Diagnostics.Process.GetCurrentProcess().TotalProcessorTime.TotalSeconds - cpuBefore:F0} s");
                }
            }
        });
        await Task.WhenAll(workers);
        log($"CPU used: {System.Diagnostics.Process.GetCurrentProcess().TotalProcessorTime.TotalSeconds - cpuBefore:F0} s (process total, other tests included)");
        if (restarts > 0) log($"{restarts} full system restarts");
        if (slowest is not null) log($"slowest schedule: seed {slowest.Schedule.Seed}, {slowest.Took.TotalSeconds:F1} s ({slowest.PhaseSummary})");
        if (ran > 0)
        {
            took.Sort();
            log($"schedule wall time: median {took[ran / 2].TotalSeconds:F2} s, 90th percentile {took[ran * 9 / 10].TotalSeconds:F2} s; " +
                $"mean per phase: {string.Join(", ", phases.Select(p => $"{p.Key} {p.Value.TotalMilliseconds / ran:F0} ms"))}");
        }
        return (ran, failed, faulted);
    }

    /// <summary>
    /// The shortest prefix of the schedule that still fails (binary search over prefix lengths; thread timing varies
    /// between runs, so each length is tried twice before it counts as passing). After 90 s it reports the shortest
    /// failing prefix found so far.
    /// </summary>
    public async Task<Failure> ShrinkAsync(ScheduleResult failing)
    {
        var schedule = failing.Schedule;
        IReadOnlyList<Violation> violations = failing.Violations;
        int low = 0, high = schedule.Steps.Count;
        var budget = Stopwatch.StartNew();
        while (low < high && budget.Elapsed < TimeSpan.FromSeconds(90))
        {
            var mid = (low + high) / 2;
            var found = false;
            for (var attempt = 0; attempt < 2 && !found; attempt++)
            {
                var result = await RunOneAsync(schedule.Prefix(mid));
                if (result.Violations.Count > 0)
                {
                    violations = result.Violations;
                    found = true;
                }
            }
            if (found) high = mid;
            else low = mid + 1;
        }
        return new Failure(schedule.Seed, schedule.Steps.Count, high, violations,
            $"RESTOCK_SIM_SEED={schedule.Seed} RESTOCK_SIM_STEPS={high} dotnet test Restock.Actors.sln --filter \"FullyQualifiedName~{testName}\"");
    }

    public static long? Setting(string name) => Environment.GetEnvironmentVariable(name) is { Length: > 0 } s ? long.Parse(s) : null;
}
