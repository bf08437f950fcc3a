using Akka.Actor;
using Akka.Cluster;
using Akka.Cluster.Sharding;

namespace Restock.Actors.Engine.Hosting;

/// <summary>The cluster as one node sees it: members, their status, and the shards and entities each one hosts.</summary>
public sealed record ClusterView(string Self, string? Leader, bool TakeoverUnderway, IReadOnlyList<ClusterMemberView> Members);

/// <param name="Shards">Per entity type (sku, shop, order-refunds): how many shards and entities the member hosts.</param>
public sealed record ClusterMemberView(string Address, string Status, bool Reachable, IReadOnlyList<string> Roles,
    IReadOnlyDictionary<string, ShardCount> Shards);

public sealed record ShardCount(int Shards, int Entities);

/// <summary>Reads the cluster's membership and sharding's statistics (Akka's own queries).</summary>
internal sealed class ClusterStats(ActorSystem system, IReadOnlyDictionary<string, IActorRef> regions)
{
    private volatile IReadOnlyDictionary<string, ShardCount> _local = new Dictionary<string, ShardCount>();

    /// <summary>This node's shards and entities per type, as of the last <see cref="RefreshLocalAsync"/>.</summary>
    public IReadOnlyDictionary<string, ShardCount> Local => _local;

    public async Task RefreshLocalAsync(TimeSpan timeout)
    {
        var counts = new Dictionary<string, ShardCount>();
        foreach (var (type, region) in regions)
        {
            var stats = await region.Ask<ShardRegionStats>(GetShardRegionStats.Instance, timeout);
            counts[type] = new ShardCount(stats.Stats.Count, stats.Stats.Values.Sum());
        }
        _local = counts;
    }

    public async Task<ClusterView> ViewAsync(bool takeoverUnderway, TimeSpan timeout)
    {
        var perType = new Dictionary<string, ClusterShardingStats>();
        foreach (var (type, region) in regions)
            perType[type] = await region.Ask<ClusterShardingStats>(new GetClusterShardingStats(timeout), timeout + TimeSpan.FromSeconds(1));

        var cluster = Cluster.Get(system);
        var state = cluster.State;
        var members = state.Members.Select(m => new ClusterMemberView(
                m.Address.ToString(),
                m.Status.ToString(),
                !state.Unreachable.Contains(m),
                m.Roles.ToList(),
                perType.ToDictionary(t => t.Key, t => t.Value.Regions.TryGetValue(m.Address, out var r)
                    ? new ShardCount(r.Stats.Count, r.Stats.Values.Sum())
                    : new ShardCount(0, 0))))
            .ToList();
        return new ClusterView(cluster.SelfAddress.ToString(), state.Leader?.ToString(), takeoverUnderway, members);
    }

    /// <summary>True when every region's shard coordinator answers: the sharded entity types are started and reachable.</summary>
    public async Task<bool> CoordinatorsAnswerAsync(TimeSpan timeout)
    {
        try
        {
            foreach (var region in regions.Values)
                await region.Ask<CurrentRegions>(GetCurrentRegions.Instance, timeout);
            return true;
        }
        catch (Exception e) when (e is AskTimeoutException or TaskCanceledException)
        {
            return false;
        }
    }
}
