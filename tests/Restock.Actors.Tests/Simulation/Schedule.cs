namespace Restock.Actors.Tests.Simulation;

/// <summary>How one client request travels: extra copies sent at once, a first try that times out, a stale copy delivered late.</summary>
public sealed record Delivery(int Copies, bool FirstTryTimesOut, int LateCopyAfterMs)
{
    public static Delivery Plain => new(1, false, 0);
}

public enum Fate
{
    /// <summary>Never paid: the payment deadline releases it.</summary>
    Abandon,
    Cancel,
    PayOnly,
    Ship,
    RefundAll,
    RefundInTwoParts,
    /// <summary>Shipment and a full refund race: one of them wins, the other is refused for good.</summary>
    ShipRacesRefund,
}

public enum ErpRole
{
    None,
    /// <summary>The shop's ERP restocks before the refund reaches the engine.</summary>
    Ahead,
    /// <summary>The ERP restock and the refund are delivered at the same moment.</summary>
    Racing,
    /// <summary>The ERP restocks after the refund was applied.</summary>
    After,
}

public abstract record Step(int AtMs);

/// <summary>One buyer's order: reserve (one or two SKUs, same order id), then its fate, each request delivered per its plan.</summary>
public sealed record Buyer(
    int AtMs, string OrderId, IReadOnlyList<(string Sku, long Quantity)> Lines, bool ShortDeadline, Fate Fate, ErpRole Erp,
    bool ManualRestock, bool RefundOvertakesPayment, int PauseMs, int Seed) : Step(AtMs);

public sealed record SwitchToggle(int AtMs, string Shop, bool On, bool OverrideErp, int Seed) : Step(AtMs);

public sealed record ErpFlagToggle(int AtMs, string Shop, bool On, int Seed) : Step(AtMs);

/// <summary>The merchant adds (or removes) units by hand, with an adjustment id of its own.</summary>
public sealed record StockAdjustment(int AtMs, string Sku, string AdjustmentId, long Delta, int Seed) : Step(AtMs);

public enum EntityKind
{
    Sku,
    Shop,
    Refunds,
}

public enum Disruption
{
    /// <summary>
    /// The actor stops at whatever point it is (a PoisonPill, as a lost node's entities do): a write in flight still
    /// lands, its callers hear nothing, and sharding starts it again (after its restart backoff, or at the next message).
    /// Not Akka's Kill: sharding 1.5.73 treats an entity stopped by its supervisor as passivated and forgets it, so an
    /// unpaid reservation would wait for the next message to its SKU (akka.net #7629, #7720; see README, "Simulation").
    /// </summary>
    Crash,
    /// <summary>The actor is told it has been idle, at whatever moment: it passivates if its own rule lets it.</summary>
    Passivate,
}

public sealed record EntityFault(int AtMs, EntityKind Kind, string EntityId, Disruption Disruption) : Step(AtMs);

/// <summary>For <paramref name="ForMs"/>, journal writes of this schedule fail or are rejected, and snapshots fail, at the given odds.</summary>
public sealed record StorageFaults(int AtMs, int ForMs, double WriteFailure, double WriteRejection, double SnapshotSave, double SnapshotLoad)
    : Step(AtMs);

/// <summary>The whole ActorSystem stops and a new one starts on the same database (SQLite schedules only).</summary>
public sealed record SystemRestart(int AtMs) : Step(AtMs);

/// <summary>What the seed decides: shops and SKUs with their starting state, then the steps in the order they start.</summary>
public sealed record Schedule(
    long Seed, IReadOnlyDictionary<string, string> ShopOfSku, IReadOnlyDictionary<string, long> InitialStock,
    IReadOnlyDictionary<string, (bool Switch, bool Erp)> InitialShops, IReadOnlyList<Step> Steps)
{
    public Schedule Prefix(int steps) => this with { Steps = Steps.Take(steps).ToList() };

    public override string ToString() =>
        $"seed {Seed}: {Steps.Count} steps ({Steps.OfType<Buyer>().Count()} buyers, {Steps.OfType<EntityFault>().Count()} crashes/passivations, " +
        $"{Steps.OfType<StorageFaults>().Count()} storage fault windows, {Steps.OfType<SystemRestart>().Count()} system restarts)";
}

/// <summary>What kinds of trouble a schedule may contain.</summary>
public sealed record FaultMix(bool Storage, bool SystemRestarts, bool RefundsOvertakingPayment)
{
    public static readonly FaultMix InMemory = new(Storage: true, SystemRestarts: false, RefundsOvertakingPayment: false);
    public static readonly FaultMix OnSqlite = new(Storage: false, SystemRestarts: true, RefundsOvertakingPayment: false);
}

public static class ScheduleGenerator
{
    public static Schedule Generate(long seed, FaultMix mix)
    {
        var random = new Random(unchecked((int)seed ^ (int)(seed >> 32)));
        string[] shops = ["north", "south"];
        var skuCount = 2 + random.Next(3);
        var shopOfSku = Enumerable.Range(1, skuCount).ToDictionary(i => $"k{i}", i => shops[i % shops.Length]);
        var initialStock = shopOfSku.Keys.ToDictionary(s => s, _ => (long)random.Next(2, 9));
        var initialShops = shops.ToDictionary(s => s, _ => (random.Next(2) == 0, random.Next(4) == 0));
        var skus = shopOfSku.Keys.ToArray();

        var steps = new List<Step>();
        var buyers = 8 + random.Next(18);
        var horizon = 400;
        for (var i = 0; i < buyers; i++)
        {
            var first = skus[random.Next(skus.Length)];
            var lines = new List<(string, long)> { (first, random.Next(1, 4)) };
            // Some orders span two SKUs of the same shop: one refund then has a line on each.
            var sameShop = skus.Where(s => s != first && shopOfSku[s] == shopOfSku[first]).ToArray();
            if (sameShop.Length > 0 && random.Next(4) == 0) lines.Add((sameShop[random.Next(sameShop.Length)], random.Next(1, 3)));
            var fate = (Fate)random.Next(Enum.GetValues<Fate>().Length);
            var erp = fate is Fate.RefundAll or Fate.RefundInTwoParts && random.Next(3) == 0
                ? (ErpRole)(1 + random.Next(3))
                : ErpRole.None;
            steps.Add(new Buyer(random.Next(horizon), $"o{i}", lines, ShortDeadline: fate == Fate.Abandon || random.Next(5) == 0, fate, erp,
                ManualRestock: random.Next(3) == 0,
                RefundOvertakesPayment: mix.RefundsOvertakingPayment && fate is Fate.RefundAll && random.Next(3) == 0, PauseMs: random.Next(30), Seed: random.Next()));
        }
        for (var i = random.Next(4); i > 0; i--)
        {
            var shop = shops[random.Next(shops.Length)];
            steps.Add(random.Next(3) == 0
                ? new ErpFlagToggle(random.Next(horizon), shop, random.Next(2) == 0, random.Next())
                : new SwitchToggle(random.Next(horizon), shop, random.Next(2) == 0, random.Next(2) == 0, random.Next()));
        }
        for (var i = random.Next(3); i > 0; i--)
        {
            var sku = skus[random.Next(skus.Length)];
            steps.Add(new StockAdjustment(random.Next(horizon), sku, $"adj{i}", random.Next(4) == 0 ? -1 : random.Next(1, 4), random.Next()));
        }
        for (var i = random.Next(5); i > 0; i--)
        {
            var kind = (EntityKind)random.Next(3);
            var id = kind switch
            {
                EntityKind.Sku => skus[random.Next(skus.Length)],
                EntityKind.Shop => shops[random.Next(shops.Length)],
                _ => $"o{random.Next(buyers)}",
            };
            steps.Add(new EntityFault(random.Next(horizon), kind, id, (Disruption)random.Next(2)));
        }
        if (mix.Storage)
        {
            for (var i = random.Next(3); i > 0; i--)
                steps.Add(new StorageFaults(random.Next(horizon), 20 + random.Next(150), Odds(random, 0.3), Odds(random, 0.1),
                    Odds(random, 0.5), Odds(random, 0.3)));
        }
        if (mix.SystemRestarts && random.Next(2) == 0)
            steps.Add(new SystemRestart(100 + random.Next(horizon - 100)));

        return new Schedule(seed, shopOfSku, initialStock, initialShops, steps.OrderBy(s => s.AtMs).ToList());
    }

    private static double Odds(Random random, double max) => random.Next(3) == 0 ? 0 : random.NextDouble() * max;
}
