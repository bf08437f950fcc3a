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

internal sealed class ShardedInventory(IActorRef skuRegion, AskTimeouts askTimeouts, InventorySettings settings) : IInventory
{
    private readonly SkuRequestBatcher? _batcher = settings.InFlightPerSku > 0
        ? new SkuRequestBatcher(skuRegion, askTimeouts, settings.InFlightPerSku, settings.MaxBatchSize, CountReservation)
        : null;

    /// <summary>
    /// Concurrent callers of one SKU share its messages (<see cref="SkuRequestBatcher"/>); a caller that may cancel is sent
    /// alone, so that its cancellation ends only its own wait.
    /// </summary>
    public Task<SkuReply> Execute(string skuId, SkuCommand command, CancellationToken cancellationToken = default) =>
        _batcher is not null && !cancellationToken.CanBeCanceled
            ? _batcher.Execute(skuId, command)
            // Reservations are counted as their answers arrive: no continuation (and state machine) per request for it.
            : askTimeouts.Ask(skuRegion, new SkuRequest(skuId, command), command is Reserve ? CountReservation : null, cancellationToken);

    private static readonly Action<SkuReply> CountReservation = reply =>
        RestockMetrics.Reservations.Add(1, new TagList
        {
            { "outcome", reply.Outcome == SkuOutcome.Rejected ? "rejected" : "accepted" },
            { "reason", reply.Rejection?.ToString() ?? "none" },
        });

    public Task<SkuReply> GetStock(string skuId, CancellationToken cancellationToken = default) =>
        askTimeouts.Ask<SkuReply>(skuRegion, new GetStock(skuId), cancellationToken);

    public Task<JournalStats> GetJournalStats(string skuId, CancellationToken cancellationToken = default) =>
        askTimeouts.Ask<JournalStats>(skuRegion, new GetJournalStats(skuId), cancellationToken);
}

internal sealed class SkuMessageExtractor(int shards) : HashCodeMessageExtractor(shards)
{
    public override string EntityId(object message) => (message as ISkuMessage)?.SkuId!;
}
