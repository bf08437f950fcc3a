namespace Restock.Actors.Domain.Inventory;

/// <summary>
/// Which shop a SKU belongs to, and who may act on it. The first stock command naming a shop records that shop
/// as the owner (<see cref="SkuOwnerRecorded"/>); it never changes afterwards. A stock command, refund line or
/// restock naming another shop is refused with <see cref="RejectionCode.NotOwner"/> before anything else is
/// looked at, so a repeat of an id from another shop cannot read the first answer either.
/// <para>
/// SKUs stocked before ownership existed have no owner in their journal. Such a legacy SKU gets its owner from
/// the operator's first stock command naming a shop after the upgrade: nothing says which shop it is, so a shop
/// asking for itself would take over another shop's SKU. Until then a shop's stock commands are refused, its
/// refund lines are applied as before, with the shop the refund names, and restocks on request are refused.
/// </para>
/// </summary>
public static class SkuOwnership
{
    public static Rejected? RefuseStock(SkuState state, string? shopId, bool byOperator) =>
        state.Owner is { } owner ? (owner != shopId ? NotOwner(shopId) : null)
        : state.IsKnown && shopId is not null && !byOperator ? new Rejected(RejectionCode.NotOwner,
            $"no such SKU for shop {shopId}: it was stocked before shops owned SKUs, and the operator gives it to its shop")
        : null;

    /// <summary>An accepted stock change of a SKU without an owner records the asking shop first.</summary>
    public static Decision ClaimOnFirstStock(SkuState state, string? shopId, Decision decision) =>
        decision is Accepted { Events.Count: > 0 } accepted && state.Owner is null && !string.IsNullOrWhiteSpace(shopId)
            ? accepted with { Events = [new SkuOwnerRecorded(shopId), .. accepted.Events] }
            : decision;

    public static Rejected? RefuseRefund(SkuState state, string shopId) =>
        state.Owner is { } owner && owner != shopId ? NotOwner(shopId) : null;

    public static Rejected? RefuseRestock(SkuState state, string shopId) =>
        state.Owner is { } owner ? (owner != shopId ? NotOwner(shopId) : null)
        : state.IsKnown ? new Rejected(RejectionCode.NotOwner,
            "this SKU has no owner yet (stocked before shops owned SKUs): its shop sets or adjusts its stock first")
        : null;

    private static Rejected NotOwner(string? shopId) =>
        new(RejectionCode.NotOwner, $"no such SKU for shop {shopId ?? "(none)"}");
}
