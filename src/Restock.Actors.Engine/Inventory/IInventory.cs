using System.Diagnostics;
using Akka.Actor;
using Akka.Cluster.Sharding;
using Restock.Actors.Domain.Inventory;
using Restock.Actors.Engine.Hosting;

namespace Restock.Actors.Engine.Inventory;

/// <summary>
/// The engine's stock operations for callers (HTTP API, load tests, refund coordinator).
/// A task that faults means the request's outcome is unknown to the caller and may be retried with the same id.
/// </summary>
public interface IInventory
{
    Task<SkuReply> Execute(string skuId, SkuCommand command, CancellationToken cancellationToken = default);

    Task<SkuReply> GetStock(string skuId, CancellationToken cancellationToken = default);

    Task<JournalStats> GetJournalStats(string skuId, CancellationToken cancellationToken = default);
}

internal sealed class ShardedInventory(IActorRef skuRegion, AskTimeouts askTimeouts) : IInventory
{
    public async Task<SkuReply> Execute(string skuId, SkuCommand command, CancellationToken cancellationToken = default)
    {
        var reply = await askTimeouts.Ask<SkuReply>(skuRegion, new SkuRequest(skuId, command), cancellationToken);
        if (command is Reserve)
            RestockMetrics.Reservations.Add(1, new TagList
            {
                { "outcome", reply.Outcome == SkuOutcome.Rejected ? "rejected" : "accepted" },
                { "reason", reply.Rejection?.ToString() ?? "none" },
            });
        return reply;
    }

    public Task<SkuReply> GetStock(string skuId, CancellationToken cancellationToken = default) =>
        askTimeouts.Ask<SkuReply>(skuRegion, new GetStock(skuId), cancellationToken);

    public Task<JournalStats> GetJournalStats(string skuId, CancellationToken cancellationToken = default) =>
        askTimeouts.Ask<JournalStats>(skuRegion, new GetJournalStats(skuId), cancellationToken);
}

internal sealed class SkuMessageExtractor(int shards) : HashCodeMessageExtractor(shards)
{
    public override string EntityId(object message) => (message as ISkuMessage)?.SkuId!;
}
