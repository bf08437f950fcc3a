using Restock.Actors.Domain.Inventory;
using Restock.Actors.Engine.Inventory;

namespace Restock.Actors.Engine.Hosting;

/// <summary>
/// Every stored or remotely sent type with its manifest. A manifest is written into the journal with each
/// event, so it never changes once shipped: rename a class freely, never its manifest.
/// </summary>
internal static class Contracts
{
    public static readonly IReadOnlyList<(Type Type, string Manifest)> All =
    [
        (typeof(SetStock), "sku.set-stock"),
        (typeof(AdjustStock), "sku.adjust-stock"),
        (typeof(Reserve), "sku.reserve"),
        (typeof(Release), "sku.release"),
        (typeof(ExpireReservations), "sku.expire-reservations"),
        (typeof(ConfirmPayment), "sku.confirm-payment"),
        (typeof(Ship), "sku.ship"),
        (typeof(RefundLine), "sku.refund-line"),

        (typeof(StockAdjusted), "sku.stock-adjusted"),
        (typeof(StockReserved), "sku.stock-reserved"),
        (typeof(ReservationReleased), "sku.reservation-released"),
        (typeof(PaymentConfirmed), "sku.payment-confirmed"),
        (typeof(LineShipped), "sku.line-shipped"),
        (typeof(LineRefunded), "sku.line-refunded"),
        (typeof(SkuSnapshot), "sku.snapshot"),

        (typeof(SkuRequest), "sku.request"),
        (typeof(GetStock), "sku.get-stock"),
        (typeof(GetJournalStats), "sku.get-journal-stats"),
        (typeof(SkuReply), "sku.reply"),
        (typeof(JournalStats), "sku.journal-stats"),
    ];
}
