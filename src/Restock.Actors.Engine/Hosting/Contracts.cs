using System.Runtime.Serialization;
using Restock.Actors.Domain.Inventory;
using Restock.Actors.Domain.Refunds;
using Restock.Actors.Domain.Shops;
using Restock.Actors.Engine.Access;
using Restock.Actors.Engine.Inventory;
using Restock.Actors.Engine.Refunds;
using Restock.Actors.Engine.Shops;

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

        (typeof(RestockRefund), "sku.restock-refund"),
        (typeof(RefundRestocked), "sku.refund-restocked"),
        (typeof(SkuOwnerRecorded), "sku.owner-recorded"),
        (typeof(ErpRestockReleased), "sku.erp-restock-released"),

        (typeof(SetAutoRestock), "shop.set-auto-restock"),
        (typeof(SetErpRestocks), "shop.set-erp-restocks"),
        (typeof(ImportFromWhitelist), "shop.import-from-whitelist"),
        (typeof(AutoRestockChanged), "shop.auto-restock-changed"),
        (typeof(ErpRestocksChanged), "shop.erp-restocks-changed"),
        (typeof(ShopRequest), "shop.request"),
        (typeof(GetShopSettings), "shop.get-settings"),
        (typeof(GetRestockPolicy), "shop.get-restock-policy"),
        (typeof(RestockPolicyReply), "shop.restock-policy"),
        (typeof(ShopReply), "shop.reply"),

        (typeof(RefundReceived), "refund.received"),
        (typeof(RestockDecided), "refund.restock-decided"),
        (typeof(LineSettled), "refund.line-settled"),
        (typeof(LineDeferred), "refund.line-deferred"),
        (typeof(LineParked), "refund.line-parked"),
        (typeof(LinesRearmed), "refund.lines-rearmed"),
        (typeof(RefundSucceeded), "refund.succeeded"),
        (typeof(GetRefund), "refund.get"),
        (typeof(ResumeRefunds), "refund.resume"),
        (typeof(RefundReply), "refund.reply"),

        (typeof(SkuRequest), "sku.request"),
        (typeof(GetStock), "sku.get-stock"),
        (typeof(ResumeSku), "sku.resume"),
        (typeof(GetJournalStats), "sku.get-journal-stats"),
        (typeof(SkuReply), "sku.reply"),
        (typeof(SkuRequests), "sku.requests"),
        (typeof(SkuReplies), "sku.replies"),
        (typeof(JournalStats), "sku.journal-stats"),

        (typeof(KeyRevoked), "access.key-revoked"),
    ];

    /// <summary>Types stored in a binary layout of their own (large, and read where time counts), with their manifests.</summary>
    public static readonly IReadOnlyList<(Type Type, string Manifest, Func<object, Func<object, byte[]>, byte[]> Write,
        Func<byte[], Func<ReadOnlyMemory<byte>, Type, object>, object> Read)> Binary =
    [
        (typeof(SkuSnapshot), "sku.snapshot.v2",
            (o, json) => SkuSnapshotFormat.Write((SkuSnapshot)o, s => json(s)),
            (bytes, json) => SkuSnapshotFormat.Read(bytes, head => (SkuSnapshot)json(head, typeof(SkuSnapshot)))),
        (typeof(IdChunk), "sku.id-chunk",
            (o, _) => SkuSnapshotFormat.Write((IdChunk)o),
            (bytes, _) => SkuSnapshotFormat.ReadChunk(bytes)),
        (typeof(OpenLinesPart), "sku.open-lines-part",
            (o, _) => ((OpenLinesPart)o).Write(),
            (bytes, _) => OpenLinesPart.Read(bytes)),
        (typeof(SkuEventBatch), "sku.event-batch.v2",
            (o, json) => SkuEventBatchFormat.Write((SkuEventBatch)o, e => (ManifestOf(e.GetType()), json(e))),
            (bytes, json) => SkuEventBatchFormat.Read(bytes, (manifest, body) => (SkuEvent)json(body, TypeOf(manifest)))),
    ];

    /// <summary>
    /// Binary types stored under a manifest of their own when they hold what a build older than it would misread without
    /// noticing; read as the type's layout. A snapshot head whose open lines are in parts: a build from before parts ignores
    /// the parts and would recover the SKU with no open lines; under a manifest it does not know, it fails the SKU's
    /// recovery instead (README, "Upgrading and rolling back").
    /// </summary>
    public static readonly IReadOnlyList<(Type Type, string Manifest, Func<object, bool> When)> Variants =
    [
        (typeof(SkuSnapshot), "sku.snapshot.v2.line-parts", o => ((SkuSnapshot)o).LineParts is not null),
    ];

    /// <summary>Manifests no longer written but still read, as JSON: stored data outlives the layout it was written in.</summary>
    public static readonly IReadOnlyList<(Type Type, string Manifest)> ReadOnly =
    [
        (typeof(SkuSnapshot), "sku.snapshot"),
        (typeof(SkuEventBatch), "sku.event-batch"),
    ];

    private static string ManifestOf(Type type) => All.First(c => c.Type == type).Manifest;

    private static Type TypeOf(string manifest) =>
        All.FirstOrDefault(c => c.Manifest == manifest).Type ?? throw new SerializationException($"unknown manifest '{manifest}'");
}
