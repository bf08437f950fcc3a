using Restock.Actors.Domain.Inventory;

namespace Restock.Actors.Engine.Ledger;

/// <summary>One restock: a refunded line that went back on sale, once, and why.</summary>
public sealed record RestockEntry(
    long LedgerId, string ShopId, string OrderId, string RefundId, string SkuId, long Quantity, long StockBefore, long StockAfter,
    RestockTrigger Trigger, long SettingVersion, DateTimeOffset At);

/// <summary>A line refunded with the shop's switch off: the merchant may restock it by hand, once.</summary>
public sealed record NotRestockedEntry(
    long EntryId, string ShopId, string OrderId, string RefundId, string SkuId, long Quantity, long SettingVersion, DateTimeOffset RefundedAt);

/// <summary>
/// A refund line the SKU kept refusing for a reason that could have changed (<paramref name="Code"/>: NotPaid,
/// UnknownOrderLine...) from <paramref name="Since"/> until it was parked: it waits for the refund to be submitted again.
/// </summary>
public sealed record NeedsAttentionEntry(
    long EntryId, string ShopId, string OrderId, string RefundId, string SkuId, long Quantity, string Code, string? Message,
    DateTimeOffset Since, DateTimeOffset ParkedAt);

/// <summary>
/// Which entries to return. At least one of order, SKU or shop; <paramref name="Cursor"/> is the
/// <c>nextCursor</c> of the previous page (entries come newest first, in a stable order).
/// </summary>
public sealed record LedgerQuery(
    string? ShopId = null, string? OrderId = null, string? SkuId = null, DateTimeOffset? From = null, DateTimeOffset? To = null,
    long? Cursor = null, int Limit = 50)
{
    public const int MaxLimit = 500;
}

public sealed record LedgerPage<T>(IReadOnlyList<T> Entries, long? NextCursor);
