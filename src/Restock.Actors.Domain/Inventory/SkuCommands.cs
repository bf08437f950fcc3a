namespace Restock.Actors.Domain.Inventory;

/// <summary>
/// A request to change one SKU's stock. Each carries the id that makes a retry harmless. The SKU actor stamps
/// <see cref="ReceivedAt"/> on arrival: the domain has no clock, and remembers ids for a time from it.
/// </summary>
public abstract record SkuCommand : IRestockMessage
{
    public DateTimeOffset? ReceivedAt { get; init; }
}

/// <summary>
/// Merchant or ERP puts the sellable stock to an absolute quantity. <paramref name="ShopId"/> is the shop asking:
/// the first stock command records it as the SKU's owner; from then on only that shop may change the stock.
/// <paramref name="ByOperator"/>: the operator asks, and only the operator may give a SKU stocked before owners
/// existed to a shop (see <see cref="SkuOwnership"/>).
/// </summary>
public sealed record SetStock(string AdjustmentId, long Quantity, string Reason, string? ShopId = null, bool ByOperator = false) : SkuCommand;

/// <summary>Merchant or ERP moves the sellable stock up or down by <paramref name="Delta"/>; the shop and operator as for <see cref="SetStock"/>.</summary>
public sealed record AdjustStock(string AdjustmentId, long Delta, string Reason, string? ShopId = null, bool ByOperator = false) : SkuCommand;

/// <summary>An order holds units until it is paid or the payment deadline passes.</summary>
public sealed record Reserve(string OrderId, long Quantity, DateTimeOffset PaymentDeadline) : SkuCommand;

/// <summary>The buyer cancels an unpaid order: its units go back on sale.</summary>
public sealed record Release(string OrderId) : SkuCommand;

/// <summary>
/// Releases the reservations whose payment deadline is at or before <paramref name="Now"/>, oldest deadline
/// first, at most <paramref name="Limit"/> of them (the rest on the next command).
/// </summary>
public sealed record ExpireReservations(DateTimeOffset Now, int Limit = int.MaxValue) : SkuCommand;

public sealed record ConfirmPayment(string OrderId) : SkuCommand;

public sealed record Ship(string OrderId) : SkuCommand;

/// <summary>
/// The SKU side of a refund after payment and before shipment: <paramref name="Quantity"/> paid units leave
/// the order line; when <paramref name="Restock"/> is true (the shop's switch, at
/// <paramref name="SettingVersion"/>, was on) they go back on sale.
/// </summary>
public sealed record RefundLine(
    string RefundId, string OrderId, string ShopId, long Quantity, bool Restock, long SettingVersion, DateTimeOffset At)
    : SkuCommand;

/// <summary>
/// Puts a refunded line back on sale outside the automatic path: by the merchant (a refund applied with the
/// switch off) or by the shop's ERP (which may report its restock before the refund reaches the engine, so it
/// names the order and quantity). Keyed by the refund: a refund line is restocked at most once, whoever asks.
/// </summary>
public sealed record RestockRefund(
    string RefundId, string? OrderId, long? Quantity, RestockTrigger Trigger, string ShopId, string Actor, DateTimeOffset At)
    : SkuCommand;

public enum RestockTrigger
{
    Auto = 1,
    Manual = 2,
    Erp = 3,
}
