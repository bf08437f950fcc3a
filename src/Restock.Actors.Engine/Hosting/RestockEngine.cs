using System.Diagnostics;
using Akka.Actor;
using Akka.Cluster;
using Akka.Cluster.Sharding;
using Akka.Cluster.Tools.Singleton;
using Akka.Configuration;
using Akka.Event;
using Akka.Pattern;
using Restock.Actors.Engine.Inventory;
using Restock.Actors.Engine.Ledger;
using Restock.Actors.Engine.Refunds;
using Restock.Actors.Engine.Shops;

namespace Restock.Actors.Engine.Hosting;

/// <summary>Whether a node should receive traffic, and why not.</summary>
public sealed record Readiness(bool Ready, string MemberStatus, bool DatabaseReachable, bool ShardingStarted);

/// <summary>
/// The one place that builds the ActorSystem: joins (or forms) the cluster, starts the sharded entity
/// types and hands out the facades callers use.
/// </summary>
public sealed class RestockEngine : IAsyncDisposable
{
    private static readonly TimeSpan ShardStatsInterval = TimeSpan.FromSeconds(5);

    private readonly bool _ownsSystem;
    private readonly ClusterStats _clusterStats;
    private readonly IDisposable _shardGauges;
    private readonly CancellationTokenSource _stopping = new();

    private RestockEngine(ActorSystem system, IInventory inventory, IShops shops, IRefunds refunds, LedgerStore ledger, bool ownsSystem,
        AskTimeouts askTimeouts, ClusterStats clusterStats)
    {
        System = system;
        Inventory = inventory;
        Shops = shops;
        Refunds = refunds;
        Ledger = ledger;
        AskTimeouts = askTimeouts;
        _ownsSystem = ownsSystem;
        _clusterStats = clusterStats;
        _shardGauges = RestockMetrics.TrackShards(() => clusterStats.Local);
        _ = RefreshShardStatsAsync(_stopping.Token);
    }

    public ActorSystem System { get; }

    public IInventory Inventory { get; }

    public IShops Shops { get; }

    public IRefunds Refunds { get; }

    /// <summary>The restock ledger's queries (they read its tables, never the actors).</summary>
    public LedgerStore Ledger { get; }

    /// <summary>How long callers wait for an entity now (shorter while shards may be moving).</summary>
    public AskTimeouts AskTimeouts { get; }

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
        // Beside the start's waits (the schema, sharding's start, the join): in a fresh process the rehearsal is the
        // first use of the recovery's code, which a recovery running beside it would otherwise share the cores with.
        var rehearsed = RehearseRecoveryAsync(system);
        RestockConfig.CheckClusterSafety(config);
        RestockConfig.CheckJournalTimeouts(config);
        RestockConfig.CheckAskTimeouts(config);
        // Settings are read (and refused) before anything touches the database.
        var inventory = InventorySettings.From(config);
        var refunds = RefundSettings.From(config);
        var ledgerSettings = LedgerSettings.From(config);
        JournalStore.Prepare(config, system.Log);
        var ledger = LedgerStore.From(config);
        await ledger.EnsureSchemaAsync(cancellationToken);
        // On SQLite (one node to a file) the plugins start now, after the ledger's tables, not at sharding's first use of
        // them: in a fresh process their start and first queries (linq2db builds them) otherwise lie between the first
        // command and its SKU's recovery. Not on PostgreSQL: nodes leaving the ledger's schema lock one after another would
        // each create the plugins' tables at once, outside that lock, and a journal whose start fails stops for good.
        if (JournalStore.IsSqlite(config))
        {
            var persistence = Akka.Persistence.Persistence.Instance.Apply(system);
            persistence.JournalFor(null);
            persistence.SnapshotStoreFor(null);
        }

        // The regions (and with them sharding's replicator) start before the node joins: the coordinators write their
        // state to a majority of the members, and a member that is Up without a replicator fails those writes.

        var sharding = ClusterSharding.Get(system);
        var shardingSettings = ClusterShardingSettings.Create(system);
        // Handoff stops entities with StopEntity (never a bare PoisonPill): each stops once its writes are confirmed.
        var skuRegion = await sharding.StartAsync(
            "sku",
            skuId => SkuActor.Props(skuId, inventory),
            shardingSettings,
            new SkuMessageExtractor(inventory.Shards),
            sharding.DefaultShardAllocationStrategy(shardingSettings),
            StopEntity.Instance);
        var shopRegion = await sharding.StartAsync(
            "shop",
            shopId => ShopSettingsActor.Props(shopId, inventory.IdleBeforePassivation),
            shardingSettings,
            new ShopMessageExtractor(config.GetInt("restock.shops.shards")),
            sharding.DefaultShardAllocationStrategy(shardingSettings),
            StopEntity.Instance);
        var refundRegion = await sharding.StartAsync(
            "order-refunds",
            orderId => RefundCoordinator.Props(orderId, shopRegion, skuRegion, refunds),
            shardingSettings,
            new OrderRefundsMessageExtractor(refunds.Shards),
            sharding.DefaultShardAllocationStrategy(shardingSettings),
            StopEntity.Instance);
        await JoinClusterAsync(Cluster.Get(system), cancellationToken);
        // This node's callers get the engine once the rehearsal has run, so their first commands' recoveries run on compiled
        // code. Recoveries sharding starts before that (remembered SKUs, commands routed from other nodes) run beside it.
        await rehearsed;

        if (ledgerSettings.RunProjection)
            StartLedgerProjection(system, ledger, ledgerSettings);

        var askTimeouts = AskTimeouts.Start(system, inventory.AskTimeout);
        var regions = new Dictionary<string, IActorRef> { ["sku"] = skuRegion, ["shop"] = shopRegion, ["order-refunds"] = refundRegion };
        return new RestockEngine(system, new ShardedInventory(skuRegion, askTimeouts, inventory), new ShardedShops(shopRegion, askTimeouts),
            new ShardedRefunds(refundRegion, askTimeouts), ledger, ownsSystem, askTimeouts, new ClusterStats(system, regions));
    }

    /// <summary>A SKU's recovery run once on another thread (<see cref="SkuRecoveryRehearsal"/>); its failure is logged, never the start's.</summary>
    private static async Task RehearseRecoveryAsync(ActorSystem system)
    {
        var took = Stopwatch.StartNew();
        try
        {
            await Task.Run(() => SkuRecoveryRehearsal.Run(system.Serialization), CancellationToken.None);
            system.Log.Info("A SKU's recovery rehearsed at start in {0:N0} ms", took.ElapsedMilliseconds);
        }
        catch (Exception e)
        {
            system.Log.Warning(e, "A SKU's recovery rehearsed once at start failed");
        }
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

    /// <summary>Members, their status and the shards each one hosts (sharding's cluster-wide statistics).</summary>
    public Task<ClusterView> ClusterViewAsync(TimeSpan timeout) => _clusterStats.ViewAsync(AskTimeouts.TakeoverUnderway, timeout);

    /// <summary>
    /// Whether this node should receive traffic: it is an Up member (not joining, leaving or downed), its journal's
    /// database (which also holds the ledger) answers, and every entity type's shard coordinator answers.
    /// </summary>
    public async Task<Readiness> ReadinessAsync(TimeSpan timeout)
    {
        var status = Cluster.Get(System).SelfMember.Status;
        var database = await Ledger.PingAsync(timeout);
        var sharding = status == MemberStatus.Up && await _clusterStats.CoordinatorsAnswerAsync(timeout);
        return new Readiness(status == MemberStatus.Up && database && sharding, status.ToString(), database, sharding);
    }

    private async Task RefreshShardStatsAsync(CancellationToken stopping)
    {
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                await _clusterStats.RefreshLocalAsync(ShardStatsInterval);
                await Task.Delay(ShardStatsInterval, stopping);
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is AskTimeoutException or TaskCanceledException)
            {
                // The gauges keep the last counts until the regions answer again.
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        _shardGauges.Dispose();
        if (_ownsSystem)
            await CoordinatedShutdown.Get(System).Run(CoordinatedShutdown.ClrExitReason.Instance);
    }
}
