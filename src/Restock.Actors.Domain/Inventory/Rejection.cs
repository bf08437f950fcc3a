namespace Restock.Actors.Domain.Inventory;

/// <summary>Why a command changed nothing. Callers act on the code; the message is for people.</summary>
public enum RejectionCode
{
    InvalidId = 1,
    InvalidQuantity = 2,
    UnknownSku = 3,
    OutOfStock = 4,
    NegativeStock = 5,
    UnknownOrderLine = 6,
    ConflictingRepeat = 7,
    NotPaid = 8,
    AlreadyPaid = 9,
    AlreadyShipped = 10,
    AlreadyReleased = 11,
    AlreadyRefunded = 12,
    RefundExceedsRemaining = 13,
    UnknownRefund = 14,
    RefundPending = 15,

    /// <summary>The SKU belongs to another shop (or to none yet, for a restock): callers outside it learn nothing more.</summary>
    NotOwner = 16,

    /// <summary>A reservation retried after its units went back on sale (cancelled or payment deadline passed).</summary>
    ReservationReleased = 17,

    /// <summary>
    /// A restock on request of a refund applied without restock, after its manual-restock window closed: the SKU no
    /// longer offers it; the merchant puts the units back with a stock adjustment instead.
    /// </summary>
    RestockWindowClosed = 18,
}

/// <summary>The outcome of deciding one command: the events to store, or why nothing happens.</summary>
public abstract record Decision;

/// <summary>The command holds. No events means it was already done (an idempotent repeat) or had nothing to do.</summary>
public sealed record Accepted(IReadOnlyList<SkuEvent> Events, string? Note = null) : Decision
{
    public static readonly Accepted AlreadyDone = new(Array.Empty<SkuEvent>());
}

/// <summary>
/// The command is refused. <paramref name="Settles"/> are events the refusal itself makes true, stored before the
/// answer (a refund refused for good frees the line an ERP restock of it held back); usually none.
/// </summary>
public sealed record Rejected(RejectionCode Code, string Message, IReadOnlyList<SkuEvent>? Settles = null) : Decision;
