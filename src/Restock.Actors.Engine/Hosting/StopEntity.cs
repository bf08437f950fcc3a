namespace Restock.Actors.Engine.Hosting;

/// <summary>
/// How sharding stops a SKU, shop or refund entity, on passivation and on shard handoff (instead of the default
/// PoisonPill, which can stop an entity between a journal write and its confirmation). An ordinary message: it
/// waits behind whatever is in the entity's mailbox, and each entity stops only once its writes are confirmed.
/// Sent only inside a node (by the entity's own shard), so it needs no serializer.
/// </summary>
public sealed class StopEntity
{
    public static readonly StopEntity Instance = new();

    private StopEntity()
    {
    }
}
