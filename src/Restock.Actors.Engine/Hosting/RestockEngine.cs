using Akka.Actor;
using Akka.Cluster;
using Akka.Cluster.Sharding;
using Akka.Configuration;
using Restock.Actors.Engine.Inventory;

namespace Restock.Actors.Engine.Hosting;

/// <summary>
/// The one place that builds the ActorSystem: joins (or forms) the cluster, starts the sharded entity
/// types and hands out the facades callers use.
/// </summary>
public sealed class RestockEngine : IAsyncDisposable
{
    private readonly bool _ownsSystem;

    private RestockEngine(ActorSystem system, IInventory inventory, bool ownsSystem)
    {
        System = system;
        Inventory = inventory;
        _ownsSystem = ownsSystem;
    }

    public ActorSystem System { get; }

    public IInventory Inventory { get; }

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
        JournalStore.Prepare(config);
        await JoinClusterAsync(Cluster.Get(system), cancellationToken);

        var inventory = InventorySettings.From(config);
        var skuRegion = await ClusterSharding.Get(system).StartAsync(
            "sku",
            skuId => SkuActor.Props(skuId, inventory),
            ClusterShardingSettings.Create(system),
            new SkuMessageExtractor(inventory.Shards));

        return new RestockEngine(system, new ShardedInventory(skuRegion, inventory.AskTimeout), ownsSystem);
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

    public async ValueTask DisposeAsync()
    {
        if (_ownsSystem)
            await CoordinatedShutdown.Get(System).Run(CoordinatedShutdown.ClrExitReason.Instance);
    }
}
