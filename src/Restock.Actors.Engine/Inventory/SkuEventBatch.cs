using Restock.Actors.Domain;
using Restock.Actors.Domain.Inventory;

namespace Restock.Actors.Engine.Inventory;

/// <summary>
/// The events of one group-committed journal write, in decision order, stored as one journal row: a row costs the
/// journal about as much as its payload is small, so one row per write instead of one per event. Recovery and the
/// restock ledger expand it; a write of a single event stores that event alone, as rows did before batches existed.
/// </summary>
public sealed record SkuEventBatch(IReadOnlyList<SkuEvent> Events) : IRestockMessage
{
    /// <summary>The events of a journal row, whether it holds one event or a batch.</summary>
    public static IReadOnlyList<SkuEvent> Expand(object stored) => stored switch
    {
        SkuEventBatch batch => batch.Events,
        SkuEvent single => [single],
        _ => [],
    };
}
