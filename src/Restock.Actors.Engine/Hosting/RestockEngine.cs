using Akka.Actor;
using Akka.Cluster;
using Akka.Cluster.Sharding;
using Akka.Cluster.Tools.Singleton;
using Akka.Configuration;
using Akka.Pattern;
using Restock.Actors.Engine.Inventory;
using Restock.Actors.Engine.Ledger;
using Restock.Actors.Engine.Refunds;
using Restock.Actors.Engine.Shops;

namespace Restock.Actors.Engine.Hosting;

/// <summary>
/// The one place that builds the ActorSystem: joins (or forms) the cluster, starts the sharded entity
/// types and hands out the facades callers use.
/// </summary>
public sealed class RestockEngine : IAsyncDisposable
{
    private readonly bool _ownsSystem;

    private RestockEngine(ActorSystem system, IInventory inventory, IShops shops, IRefunds refunds, LedgerStore ledger, bool ownsSystem)
    {
        System = system;
        Inventory = inventory;
        Shops = shops;
        Refunds = refunds;
        Ledger = ledger;
        _ownsSystem = ownsSystem;
    }

    public ActorSystem System { get; }

    public IInventory Inventory { get; }

    public IShops Shops { get; }

    public IRefunds Refunds { get; }

    /// <summary>The restock ledger's queries (they read its tables, never the actors).</summary>
    public LedgerStore Ledger { get; }

    /// <summary>How long callers wait for an entity now (shorter while shards may be moving).</summary>
    public AskTimeouts AskTimeouts { get; private init; } = null!;

    /// <summary>The sharded entity types, by type name, for the cluster view.</summary>
    public static readonly string[] EntityTypes = ["sku", "shop", "order-refunds"];

    public static async Task<RestockEngine> StartAsync(Config config, CancellationToken cancellationToken = default)
    {
        var system = ActorSystem.Create(config.GetString("restock.system-name"), config);
        try
        {
            return await StartOnAsync(system, ownsSystem: true, cancellationToken);
        }
        catch
        {
            await system.Terminate();
            throw;
        }
    }

    /// <summary>Starts the engine on a system built elsewhere (Akka.TestKit builds its own) from <see cref="RestockConfig"/>.</summary>
    public static Task<RestockEngine> StartOnAsync(ActorSystem system, CancellationToken cancellationToken = default) =>
        StartOnAsync(system, ownsSystem: false, cancellationToken);

    private static async Task<RestockEngine> StartOnAsync(ActorSystem system, bool ownsSystem, CancellationToken cancellationToken)
    {
        var config = system.Settings.Config;
        RestockConfig.CheckClusterSafety(config);
        JournalStore.Prepare(config);
        await JoinClusterAsync(Cluster.Get(system), cancellationToken);

        var ledger = LedgerStore.From(config);
        await ledger.EnsureSchemaAsync(cancellationToken);

        var inventory = InventorySettings.From(config);
        var sharding = ClusterSharding.Get(system);
        var shardingSettings = ClusterShardingSettings.Create(system);
        var skuRegion = await sharding.StartAsync(
            "sku",
            skuId => SkuActor.Props(skuId, inventory),
            shardingSettings,
            new SkuMessageExtractor(inventory.Shards));
        var shopRegion = await sharding.StartAsync(
            "shop",
            shopId => ShopSettingsActor.Props(shopId, inventory.IdleBeforePassivation),
            shardingSettings,
            new ShopMessageExtractor(config.GetInt("restock.shops.shards")));
        var refunds = RefundSettings.From(config);
        var refundRegion = await sharding.StartAsync(
            "order-refunds",
            orderId => RefundCoordinator.Props(orderId, shopRegion, skuRegion, refunds),
            shardingSettings,
            new OrderRefundsMessageExtractor(refunds.Shards));

        var ledgerSettings = LedgerSettings.From(config);
        if (ledgerSettings.RunProjection)
            StartLedgerProjection(system, ledger, ledgerSettings);

        var askTimeouts = AskTimeouts.Start(system, inventory.AskTimeout);
        return new RestockEngine(system, new ShardedInventory(skuRegion, askTimeouts), new ShardedShops(shopRegion, askTimeouts),
            new ShardedRefunds(refundRegion, askTimeouts), ledger, ownsSystem) { AskTimeouts = askTimeouts };
    }

    /// <summary>One projection per cluster (a singleton), restarted with backoff whenever it fails.</summary>
    private static void StartLedgerProjection(ActorSystem system, LedgerStore ledger, LedgerSettings settings)
    {
        var supervised = BackoffSupervisor.Props(Backoff.OnFailure(
            LedgerProjection.Props(ledger, settings), LedgerProjection.Name,
            TimeSpan.FromMilliseconds(500), TimeSpan.FromSeconds(30), 0.2, maxNrOfRetries: -1));
        system.ActorOf(ClusterSingletonManager.Props(supervised, PoisonPill.Instance, ClusterSingletonManagerSettings.Create(system)),
            LedgerProjection.Name);
    }

    /// <summary>Without seed nodes the node forms a cluster of its own (the embedded default).</summary>
    private static async Task JoinClusterAsync(Cluster cluster, CancellationToken cancellationToken)
    {
        var up = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        cluster.RegisterOnMemberUp(() => up.TrySetResult());
        if (cluster.Settings.SeedNodes.Count == 0)
            await cluster.JoinAsync(cluster.SelfAddress, cancellationToken);
        await up.Task.WaitAsync(cancellationToken);
    }

    /// <summary>Runs a ledger reconciliation pass now; only on the node that runs the projection (the singleton's node).</summary>
    public Task<LedgerProjection.Reconciled> ReconcileLedgerAsync(TimeSpan timeout) =>
        System.ActorSelection($"/user/{LedgerProjection.Name}/singleton/{LedgerProjection.Name}")
            .Ask<LedgerProjection.Reconciled>(LedgerProjection.Reconcile.Instance, timeout);

    public async ValueTask DisposeAsync()
    {
        if (_ownsSystem)
            await CoordinatedShutdown.Get(System).Run(CoordinatedShutdown.ClrExitReason.Instance);
    }
}
