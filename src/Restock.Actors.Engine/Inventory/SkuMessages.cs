using Restock.Actors.Domain;
using Restock.Actors.Domain.Inventory;

namespace Restock.Actors.Engine.Inventory;

/// <summary>Anything addressed to one SKU's actor; the SKU id picks the shard and the entity.</summary>
public interface ISkuMessage : IRestockMessage
{
    string SkuId { get; }
}

public sealed record SkuRequest(string SkuId, SkuCommand Command) : ISkuMessage;

/// <summary>
/// Several callers' commands for one SKU in one message (see <see cref="SkuRequestBatcher"/>): decided in order exactly as
/// one by one, written in one journal write, answered with one <see cref="SkuReplies"/> in the same order after it.
/// </summary>
public sealed record SkuRequests(string SkuId, IReadOnlyList<SkuCommand> Commands) : ISkuMessage;

/// <summary>The answers to a <see cref="SkuRequests"/>, one per command, in its order.</summary>
public sealed record SkuReplies(IReadOnlyList<SkuReply> Replies) : IRestockMessage;

public sealed record GetStock(string SkuId) : ISkuMessage;

/// <summary>
/// Starts the SKU again, which arms its payment deadlines as it recovers: sent by a SKU to its shard when it stops after
/// asking to be passivated and a reservation with a deadline came in meanwhile.
/// </summary>
public sealed record ResumeSku(string SkuId) : ISkuMessage;

public sealed record GetJournalStats(string SkuId) : ISkuMessage;

public enum SkuOutcome
{
    /// <summary>The command changed the stock and the change is durable.</summary>
    Done = 1,

    /// <summary>The command had already been applied (or had nothing to do): nothing changed.</summary>
    AlreadyDone = 2,

    /// <summary>A business rule refused the command: nothing changed.</summary>
    Rejected = 3,
}

/// <summary>
/// The answer to every SKU request, sent only once everything decided before it is durable.
/// <paramref name="Levels"/> are the stock levels right after this request; <paramref name="Owner"/> is the shop
/// the SKU belongs to, so a caller can hide it from other shops.
/// </summary>
public sealed record SkuReply(string SkuId, SkuOutcome Outcome, RejectionCode? Rejection, string? Message, StockLevels Levels, string? Owner = null)
    : IRestockMessage
{
    [System.Text.Json.Serialization.JsonIgnore]
    public bool Succeeded => Outcome != SkuOutcome.Rejected;
}

/// <summary>
/// How a SKU actor has used the journal since it started: group commit shows as batches far below commands.
/// <paramref name="LargestBatch"/> is the most events one write held; <paramref name="LastSnapshotAt"/> the
/// sequence number of the latest snapshot taken (or recovered from); <paramref name="EventsReplayed"/> the events its
/// recovery read from the journal after that snapshot.
/// </summary>
public sealed record JournalStats(
    string SkuId, long CommandsDecided, long EventsWritten, long BatchesWritten, long LargestBatch = 0, long LastSnapshotAt = 0,
    long EventsReplayed = 0) : IRestockMessage;

/// <summary>A journal write failed; the decisions waiting on it were not made durable and are void.</summary>
public sealed class StockNotSavedException(string skuId, Exception? cause)
    : Exception($"stock change for SKU {skuId} was not saved; nothing was applied, retry the request", cause);

/// <summary>
/// The SKU stopped or its journal failed while this request's write was under way: the change may or may not be
/// stored. Retrying with the same id is safe and tells which (a repeat answers with the first outcome).
/// </summary>
public sealed class StockOutcomeUnknownException(string skuId, Exception? cause)
    : Exception($"the outcome of this stock change for SKU {skuId} is unknown: retry the request with the same id", cause);
