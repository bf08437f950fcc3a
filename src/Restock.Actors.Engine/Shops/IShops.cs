using Akka.Actor;
using Akka.Cluster.Sharding;
using Restock.Actors.Domain.Shops;
using Restock.Actors.Engine.Hosting;

namespace Restock.Actors.Engine.Shops;

/// <summary>Shops' restock settings for callers: read, change, import the old whitelist.</summary>
public interface IShops
{
    Task<ShopReply> Get(string shopId, CancellationToken cancellationToken = default);

    Task<ShopReply> Execute(string shopId, ShopCommand command, CancellationToken cancellationToken = default);
}

internal sealed class ShardedShops(IActorRef shopRegion, AskTimeouts askTimeouts) : IShops
{
    public Task<ShopReply> Get(string shopId, CancellationToken cancellationToken = default) =>
        askTimeouts.Ask<ShopReply>(shopRegion, new GetShopSettings(shopId), cancellationToken);

    public Task<ShopReply> Execute(string shopId, ShopCommand command, CancellationToken cancellationToken = default) =>
        askTimeouts.Ask<ShopReply>(shopRegion, new ShopRequest(shopId, command), cancellationToken);
}

internal sealed class ShopMessageExtractor(int shards) : HashCodeMessageExtractor(shards)
{
    public override string EntityId(object message) => (message as IShopMessage)?.ShopId!;
}
