namespace Restock.Actors.LoadTests.Scenarios;

/// <summary>The flash-sale simulations platform engineers run before a promotion. Command-line options override sizes.</summary>
public static class Catalog
{
    public static readonly IReadOnlyList<Scenario> All =
    [
        new("flash-sale",
            "One hot SKU with a fixed stock and far more buyers than units, all at once; the winners pay or cancel, " +
            "and unpaid reservations are released when their payment deadline passes.",
            Skus: 1, StockPerSku: 10_000, Shops: 1,
            Mix: new OperationMix(Reserve: 90, Pay: 6, Cancel: 2, LedgerQuery: 0),
            Model: new LoadModel(LoadKind.Closed, Concurrency: 500),
            Attempts: 200_000, Duration: TimeSpan.FromMinutes(3),
            Thresholds: ["oversold=0", "fail-rate<0.1%"],
            PaymentWindow: TimeSpan.FromSeconds(5)),

        new("promo-mix",
            "10,000 SKUs across 20 shops with Zipf-skewed demand: reserve, pay, cancel, ship, pre-shipment refunds, " +
            "manual restocks and ledger searches; half the shops restock automatically.",
            Skus: 10_000, StockPerSku: 50, Shops: 20,
            Mix: new OperationMix(Reserve: 40, Pay: 25, Cancel: 5, Ship: 15, Refund: 8, ManualRestock: 2, LedgerQuery: 5),
            Model: new LoadModel(LoadKind.Open, Concurrency: 2_000, Rate: 2_000),
            Attempts: 0, Duration: TimeSpan.FromSeconds(60),
            Thresholds: ["oversold=0", "p99:reserve<10ms", "fail-rate<0.1%"],
            Zipf: 1.1, MaxQuantity: 3, AutoRestockShare: 0.5,
            // Capacity, not start-up: the first seconds after the engine starts still compile hundreds of methods a second.
            WarmUp: TimeSpan.FromSeconds(10)),

        new("refund-storm",
            "A wave of pre-shipment refunds, each delivered several times, ERP restocks racing the automatic ones, " +
            "and every shop's switch toggled half-way: no refunded unit may come back twice.",
            Skus: 50, StockPerSku: 1_000, Shops: 4,
            Mix: new OperationMix(Reserve: 25, Pay: 25, Refund: 40, ManualRestock: 5, LedgerQuery: 5),
            Model: new LoadModel(LoadKind.Closed, Concurrency: 100),
            Attempts: 0, Duration: TimeSpan.FromSeconds(30),
            Thresholds: ["oversold=0", "double-restocks=0"],
            MaxQuantity: 3, AutoRestockShare: 0.5, RefundCopies: 3, ErpRaceShare: 0.3, ToggleSwitchMidRun: true),

        new("crash",
            "The HTTP service, started by the runner, is killed with SIGKILL at a random moment mid-sale and restarted; " +
            "every reservation acknowledged before the crash must still be there.",
            Skus: 5, StockPerSku: 2_000, Shops: 1,
            Mix: new OperationMix(Reserve: 70, Pay: 20, Cancel: 5, Refund: 5),
            Model: new LoadModel(LoadKind.Closed, Concurrency: 50),
            Attempts: 0, Duration: TimeSpan.FromSeconds(30),
            Thresholds: ["oversold=0", "lost-acks=0"],
            AutoRestockShare: 1, CrashMidRun: true),

        new("node-loss",
            "A sale across a cluster of service processes on PostgreSQL, started by the runner; one node is killed with " +
            "SIGKILL mid-sale: how long until every SKU answers again, what buyers saw meanwhile, and nothing acknowledged lost.",
            Skus: 24, StockPerSku: 2_000, Shops: 1,
            Mix: new OperationMix(Reserve: 70, Pay: 20, Cancel: 5, Refund: 5),
            // Open: buyers of the killed node's SKUs wait for their 503 without holding back the healthy SKUs' buyers.
            Model: new LoadModel(LoadKind.Open, Concurrency: 60, Rate: 250),
            Attempts: 0, Duration: TimeSpan.FromSeconds(45),
            Thresholds: ["oversold=0", "lost-acks=0"],
            AutoRestockShare: 1, KillNodeMidRun: true),

        new("hot-sku-bench",
            "The engine's ceiling: one SKU whose stock covers every reservation, in-process, a closed model that saturates " +
            "it, durable acknowledgements; group commit against one journal write per command, then memory per active SKU actor.",
            Skus: 1, StockPerSku: 1_000_000_000, Shops: 1,
            Mix: new OperationMix(Reserve: 1),
            Model: new LoadModel(LoadKind.Closed, Concurrency: 2_000),
            Attempts: 0, Duration: TimeSpan.FromSeconds(20),
            Thresholds: ["oversold=0"]),

        new("sku-memory",
            "Memory per active SKU actor alone (hot-sku-bench's last part): --memory-skus SKUs touched once, managed heap before " +
            "and after. --duration keeps the process up after measuring (its id is printed), e.g. for dotnet-gcdump.",
            Skus: 1, StockPerSku: 10, Shops: 1,
            Mix: new OperationMix(Reserve: 0),
            Model: new LoadModel(LoadKind.Closed, Concurrency: 1_000),
            Attempts: 0, Duration: TimeSpan.Zero,
            Thresholds: []),

        new("recovery-bench",
            "Recovery of one large SKU: --events journaled events of which --open-lines reservations stay open, built through " +
            "the engine, which is then restarted on its journal; the first command's answer is timed, with finished ids inside " +
            "and older than the horizon. --concurrency sets the requests in flight while building.",
            Skus: 1, StockPerSku: 1_000_000_000, Shops: 1,
            Mix: new OperationMix(Reserve: 1),
            Model: new LoadModel(LoadKind.Closed, Concurrency: 1_000),
            Attempts: 0, Duration: TimeSpan.FromSeconds(1),
            Thresholds: []),

        new("cold-start",
            "SKU activations per second: the first command to SKUs this node has never seen (each with its recovery), then " +
            "a restart on the same journal where remember-entities brings them all back, then a command to each.",
            Skus: 50_000, StockPerSku: 10, Shops: 1,
            Mix: new OperationMix(Reserve: 0),
            Model: new LoadModel(LoadKind.Closed, Concurrency: 1_000),
            Attempts: 0, Duration: TimeSpan.Zero,
            Thresholds: []),
    ];

    public static Scenario? Find(string name) => All.FirstOrDefault(s => s.Name.Equals(name, StringComparison.OrdinalIgnoreCase));
}
