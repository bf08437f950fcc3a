using System.Globalization;
using Restock.Actors.LoadTests.Running;
using Restock.Actors.LoadTests.Scenarios;

namespace Restock.Actors.LoadTests;

/// <summary>The runner's command line: a scenario name, then options that override the scenario's sizes and load.</summary>
public sealed record CommandLine(RunOptions Options, bool ShowHelp, int MemorySkus, long RecoveryEvents = 1_000_000, int RecoveryOpenLines = 10_000,
    bool FindRate = false, int Repeat = 1, bool RecoveryCrashOnly = false, bool JitLog = false,
    bool RecoveryFreshProcess = false)
{
    public static string Help => $"""
        restock-load SCENARIO [options]     flash-sale load simulations against Restock.Actors

        scenarios:
        {string.Join("\n", Catalog.All.Select(s => $"  {s.Name,-15} {s.Description}"))}

        options:
          --target inproc|http|cluster
                                 where the engine runs (default inproc: started here on a fresh SQLite file;
                                 the crash scenario always starts its own service as a child process; cluster:
                                 --nodes service processes started here on a fresh PostgreSQL database, the
                                 node-loss scenario's target)
          --nodes N              cluster: how many nodes (default 3)
          --postgres CONN        cluster: the PostgreSQL server, e.g. "Host=127.0.0.1;Username=postgres;Password=..."
                                 (default: RESTOCK_TEST_POSTGRES; `sudo bash .ci/postgres` prints one)
          --url URL[,URL...]     the service for --target http, e.g. http://127.0.0.1:5080; several: a cluster, used in turn
          --key KEY              its operator key (default: RESTOCK_OPERATOR_KEY)
          --seed N               drives every random choice (default 1)
          --duration 30s|2m      how long load is generated (the scenario's default otherwise)
          --warm-up 10s|0        open model: the same load first on other SKUs, unmeasured, this long (promo-mix: 10s)
          --attempts N           at most N requests (0 = no limit)
          --concurrency N        closed model: N concurrent buyers
          --rate N               open model: N arrivals per second ...
          --ramp-to N            ... ramping linearly to N per second
          --skus N, --stock N    SKUs in play and units of each
          --threshold RULE       pass/fail rule, repeatable: p99<20ms, p99:reserve<10ms, fail-rate<0.1%,
                                 rate>=1000, oversold=0 (adds to the scenario's own)
          --engine "HOCON"       in-process engine: a configuration entry on top of hocon/, repeatable,
                                 e.g. --engine "restock.inventory.max-batch-size = 1"
          --reports DIR          where report folders go (default ./reports)
          --memory-skus N        hot-sku-bench, sku-memory: SKUs touched for the memory measurement (default 100000)
          --events N             recovery-bench: events journaled for the SKU (default 1000000)
          --open-lines N         recovery-bench: of which reservations left open (default 10000)
          --crash-only           recovery-bench: only the restart after a crash with the ids inside the horizon (the
                                 case that misses), to profile it or A/B it alone
          --fresh-process        recovery-bench: each restart in a new process of this runner on the same files, as
                                 a crashed node restarts (its code compiled for the first time while the first
                                 answer is awaited); adds the time from its spawn and from its own start
          --jit-log              recovery-bench: every method the JIT compiled while each first answer was awaited,
                                 with its tier (a file in the report folder; counts by type printed)
          --repeat N             cold-start: the whole bench N times in this process, each on a fresh file; every
                                 round is reported, and the median of each phase (default 1)
          --find-rate            open model: the highest rate that still passes (thresholds and invariants), from
                                 --rate doubling until a run fails, then bisecting to within 10%; one run per trial
          -h, --help             this text

        Exit code: 0 when every invariant and threshold held, 1 otherwise, 2 for a usage error.
        """;

    public static CommandLine Parse(string[] args)
    {
        if (args.Length == 0 || args.Contains("-h") || args.Contains("--help"))
            return new CommandLine(new RunOptions(Catalog.All[0]), true, 0);
        var scenario = Catalog.Find(args[0]) ?? throw new ArgumentException(
            $"unknown scenario '{args[0]}'; one of: {string.Join(", ", Catalog.All.Select(s => s.Name))}");
        var options = new RunOptions(scenario);
        var thresholds = new List<string>();
        var engine = new List<string>();
        var memorySkus = 100_000;
        var recoveryEvents = 1_000_000L;
        var recoveryOpenLines = 10_000;
        var findRate = false;
        var repeat = 1;
        var crashOnly = false;
        var jitLog = false;
        var freshProcess = false;
        for (var i = 1; i < args.Length; i++)
        {
            var name = args[i];
            string Value() => ++i < args.Length ? args[i] : throw new ArgumentException($"{name} needs a value");
            long Number(long min) => long.TryParse(Value(), CultureInfo.InvariantCulture, out var n) && n >= min
                ? n : throw new ArgumentException($"{name} needs a whole number ≥ {min}");
            switch (name)
            {
                case "--target":
                    options = options with
                    {
                        Target = Value() switch
                        {
                            "inproc" => TargetKind.InProcess,
                            "http" => TargetKind.Http,
                            "cluster" => TargetKind.Cluster,
                            var other => throw new ArgumentException($"--target is inproc, http or cluster, not '{other}'"),
                        },
                    };
                    break;
                case "--url":
                    // A comma-separated list is a cluster: requests go to its nodes in turn, as a load balancer would send them.
                    options = options with
                    {
                        Urls = Value().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                            .Select(u => Uri.TryCreate(u, UriKind.Absolute, out var url) ? url : throw new ArgumentException($"--url needs absolute URLs, not '{u}'"))
                            .ToList(),
                    };
                    break;
                case "--key": options = options with { Key = Value() }; break;
                case "--nodes": options = options with { Nodes = (int)Number(1) }; break;
                case "--postgres": options = options with { Postgres = Value() }; break;
                case "--seed": options = options with { Seed = (int)Number(0) }; break;
                case "--duration": scenario = scenario with { Duration = Duration(Value()) }; break;
                case "--warm-up":
                    var warmUp = Value();
                    scenario = scenario with { WarmUp = warmUp is "0" or "0s" ? TimeSpan.Zero : Duration(warmUp, "--warm-up") };
                    break;
                case "--attempts": scenario = scenario with { Attempts = Number(0) }; break;
                case "--concurrency": scenario = scenario with { Model = scenario.Model with { Kind = LoadKind.Closed, Concurrency = (int)Number(1) } }; break;
                case "--rate": scenario = scenario with { Model = scenario.Model with { Kind = LoadKind.Open, Rate = Number(1) } }; break;
                case "--ramp-to": scenario = scenario with { Model = scenario.Model with { Kind = LoadKind.Open, RampToRate = Number(1) } }; break;
                case "--skus": scenario = scenario with { Skus = (int)Number(1) }; break;
                case "--stock": scenario = scenario with { StockPerSku = Number(1) }; break;
                case "--threshold":
                    var rule = Value();
                    thresholds.Add(Thresholds.IsValid(rule) ? rule : throw new ArgumentException($"not a threshold: '{rule}'"));
                    break;
                case "--reports": options = options with { ReportsFolder = Value() }; break;
                case "--engine": engine.Add(Value()); break;
                case "--memory-skus": memorySkus = (int)Number(1); break;
                case "--events": recoveryEvents = Number(2); break;
                case "--open-lines": recoveryOpenLines = (int)Number(0); break;
                case "--find-rate": findRate = true; break;
                case "--repeat": repeat = (int)Number(1); break;
                case "--crash-only": crashOnly = true; break;
                case "--jit-log": jitLog = true; break;
                case "--fresh-process": freshProcess = true; break;
                default: throw new ArgumentException($"unknown option '{name}'");
            }
        }
        if (scenario.KillNodeMidRun) options = options with { Target = TargetKind.Cluster };
        if (scenario.KillNodeMidRun && options.Nodes < 2) throw new ArgumentException($"{scenario.Name} needs --nodes 2 or more");
        if (options.Target == TargetKind.Cluster)
            options = options with { Postgres = options.Postgres ?? Environment.GetEnvironmentVariable("RESTOCK_TEST_POSTGRES") };
        if (options.Target == TargetKind.Cluster && string.IsNullOrWhiteSpace(options.Postgres))
            throw new ArgumentException("--target cluster needs a PostgreSQL server: --postgres or RESTOCK_TEST_POSTGRES");
        if (options.Target == TargetKind.Http && options.Urls is not { Count: > 0 } && !scenario.CrashMidRun)
            throw new ArgumentException("--target http needs --url");
        if (scenario.Model.Kind == LoadKind.Open && scenario.Model.Rate <= 0)
            throw new ArgumentException("the open model needs --rate");
        if (recoveryEvents <= recoveryOpenLines) throw new ArgumentException("--events must be larger than --open-lines");
        if (findRate && scenario.Model.Kind != LoadKind.Open)
            throw new ArgumentException("--find-rate needs the open model (--rate)");
        return new CommandLine(options with { Scenario = scenario, ExtraThresholds = thresholds, EngineOverrides = engine }, false, memorySkus,
            recoveryEvents, recoveryOpenLines, findRate, repeat, crashOnly, jitLog, freshProcess);
    }

    private static TimeSpan Duration(string text, string option = "--duration")
    {
        var unit = text.TrimStart("0123456789.".ToCharArray());
        if (!double.TryParse(text[..^unit.Length], CultureInfo.InvariantCulture, out var n) || n <= 0)
            throw new ArgumentException($"{option} needs a number and a unit, e.g. 30s or 2m, not '{text}'");
        return unit switch
        {
            "s" or "" => TimeSpan.FromSeconds(n),
            "m" => TimeSpan.FromMinutes(n),
            "ms" => TimeSpan.FromMilliseconds(n),
            _ => throw new ArgumentException($"{option} unit is s, m or ms, not '{unit}'"),
        };
    }
}
