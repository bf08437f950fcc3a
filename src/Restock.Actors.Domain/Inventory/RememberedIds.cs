using System.Collections.Immutable;

namespace Restock.Actors.Domain.Inventory;

/// <summary>How an id finished, which decides the answer to its repeat.</summary>
public enum Finish : byte
{
    /// <summary>A stock change stored before the kind was recorded: set or adjust, unknown.</summary>
    StockChanged = 1,
    StockSet = 2,
    StockAdjusted = 3,
    LineReleased = 4,
    LineShipped = 5,
    LineRefunded = 6,
}

/// <summary>
/// What is remembered of a finished id, and nothing more: how it finished, the one number its repeat must
/// match (the quantity set, the delta, the units ordered) and when (ticks of the SKU's clock).
/// </summary>
public readonly record struct Fingerprint(Finish Finish, long Amount, long AtTicks);

public enum IdKind : byte
{
    OrderLine = 1,
    Adjustment = 2,
    Refund = 3,
}

/// <summary>An id in the order it was remembered, for forgetting it once it is older than the horizon.</summary>
public readonly record struct Remembering(IdKind Kind, string Id, long AtTicks);

/// <summary>
/// Finished order lines and adjustments, each remembered for at least <see cref="Horizon"/> after it finished,
/// whatever the volume. <see cref="Clock"/> is the latest time the SKU's events carried; ids older than the
/// horizon by it are forgotten as the next events are applied.
/// </summary>
public sealed record RememberedIds(
    TimeSpan Horizon,
    DateTimeOffset Clock,
    ImmutableDictionary<string, Fingerprint> Lines,
    ImmutableDictionary<string, Fingerprint> Adjustments,
    ImmutableQueue<Remembering> Queue)
{
    public static RememberedIds Empty(TimeSpan horizon) => new(
        horizon,
        DateTimeOffset.MinValue,
        ImmutableDictionary<string, Fingerprint>.Empty.WithComparers(StringComparer.Ordinal),
        ImmutableDictionary<string, Fingerprint>.Empty.WithComparers(StringComparer.Ordinal),
        ImmutableQueue<Remembering>.Empty);

    public int Count => Lines.Count + Adjustments.Count;

    /// <summary>The clock moves forward only: an event carrying an earlier time (or none) keeps it.</summary>
    public RememberedIds Tick(DateTimeOffset? at) => at is { } t && t > Clock ? this with { Clock = t } : this;

    public RememberedIds Line(string orderId, Finish finish, long ordered) => this with
    {
        Lines = Lines.SetItem(orderId, new Fingerprint(finish, ordered, Clock.UtcTicks)),
        Queue = Queue.Enqueue(new Remembering(IdKind.OrderLine, orderId, Clock.UtcTicks)),
    };

    public RememberedIds Adjustment(string adjustmentId, Finish finish, long amount) => this with
    {
        Adjustments = Adjustments.SetItem(adjustmentId, new Fingerprint(finish, amount, Clock.UtcTicks)),
        Queue = Queue.Enqueue(new Remembering(IdKind.Adjustment, adjustmentId, Clock.UtcTicks)),
    };

    /// <summary>Queues a refund record to be considered for forgetting one horizon from now.</summary>
    public RememberedIds Refund(string refundId) => this with
    {
        Queue = Queue.Enqueue(new Remembering(IdKind.Refund, refundId, Clock.UtcTicks)),
    };
}
