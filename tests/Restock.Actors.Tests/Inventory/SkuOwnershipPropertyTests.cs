using CsCheck;
using Restock.Actors.Domain.Inventory;

namespace Restock.Actors.Tests.Inventory;

/// <summary>
/// Two shops and the platform send every kind of command to one SKU, in random order: whoever stocks it first owns
/// it, and from then on nothing the other shop sends changes it, restocks it, or gets an answer other than
/// <see cref="RejectionCode.NotOwner"/>; every refund and restock it records carries the owner.
/// </summary>
public sealed class SkuOwnershipPropertyTests
{
    private static readonly DateTimeOffset Start = new(2026, 11, 26, 12, 0, 0, TimeSpan.Zero);
    private static readonly string[] Shops = ["shop-a", "shop-b", "shop-c"];
    private static readonly Gen<string> Shop = Gen.Int[0, Shops.Length - 1].Select(i => Shops[i]);

    private static readonly Gen<SkuCommand> Command = Gen.OneOf<SkuCommand>(
        Gen.Select(Gen.Int[0, 4], Gen.Long[0, 12], Shop, (a, q, s) => new SetStock($"a{a}", q, "count", s)),
        Gen.Select(Gen.Int[0, 4], Gen.Long[-6, 6], Shop, (a, d, s) => new AdjustStock($"a{a}", d, "fix", s)),
        Gen.Select(Gen.Int[0, 7], Gen.Long[1, 5], (o, q) => new Reserve($"o{o}", q, Start.AddMinutes(30))),
        Gen.Select(Gen.Int[0, 7], o => new Release($"o{o}")),
        Gen.Select(Gen.Int[0, 7], o => new ConfirmPayment($"o{o}")),
        Gen.Select(Gen.Int[0, 7], o => new Ship($"o{o}")),
        Gen.Select(Gen.Int[0, 5], Gen.Int[0, 7], Gen.Long[1, 4], Gen.Bool, Shop,
            (r, o, q, restock, s) => new RefundLine($"r{r}", $"o{o}", s, q, restock, 1, Start)),
        Gen.Select(Gen.Int[0, 5], Shop, (r, s) => new RestockRefund($"r{r}", null, null, RestockTrigger.Manual, s, "merchant", Start)),
        Gen.Select(Gen.Int[0, 5], Gen.Int[0, 7], Gen.Long[1, 4], Shop,
            (r, o, q, s) => new RestockRefund($"r{r}", $"o{o}", q, RestockTrigger.Erp, s, "erp", Start)));

    [Fact]
    public void No_schedule_lets_another_shop_change_restock_or_take_over_a_sku()
    {
        Command.Array[1, 120].Sample(schedule =>
        {
            var state = SkuState.Empty();
            string? firstStocker = null;
            foreach (var command in schedule)
            {
                var decision = SkuStock.Decide(state, command);
                var asking = ShopOf(command);
                if (state.Owner is { } owner && asking is not null && asking != owner || state.Owner is not null && IsStock(command) && asking != state.Owner)
                {
                    Assert.Equal(RejectionCode.NotOwner, Assert.IsType<Rejected>(decision).Code);
                    continue;
                }
                if (decision is not Accepted accepted) continue;
                var ownerBefore = state.Owner; // Apply changes the state in place
                var next = SkuStock.ApplyAll(state, accepted.Events);
                if (IsStock(command) && accepted.Events.Count > 0) firstStocker ??= asking;

                Assert.Equal(firstStocker, next.Owner);
                Assert.True(ownerBefore is null || ownerBefore == next.Owner, "the owner changed");
                Assert.Equal(ownerBefore is null && next.Owner is not null ? 1 : 0, accepted.Events.OfType<SkuOwnerRecorded>().Count());
                foreach (var e in accepted.Events)
                {
                    if (e is LineRefunded refunded) Assert.Equal(next.Owner, refunded.ShopId);
                    if (e is RefundRestocked restocked) Assert.Equal(next.Owner, restocked.ShopId);
                }
                state = next;
            }
        }, iter: 3000, seed: "0N0XIzNsQ0O2");
    }

    [Fact]
    public void A_legacy_sku_gets_its_owner_from_the_operators_first_stock_command_after_the_upgrade()
    {
        // Events written before SKUs had owners.
        var legacy = SkuStock.ApplyAll(SkuState.Empty(),
        [
            new StockAdjusted("old", 5, "delivery"), new StockReserved("o1", 2, Start), new PaymentConfirmed("o1", 2),
        ]);
        Assert.Null(legacy.Owner);

        // Until a shop stocks it, a refund line is applied as before and a restock on request is refused.
        var refunded = SkuStock.ApplyAll(legacy, Events(SkuStock.Decide(legacy, new RefundLine("r1", "o1", "shop-a", 1, false, 1, Start))));
        Assert.Equal(RejectionCode.NotOwner, Rejection(SkuStock.Decide(refunded,
            new RestockRefund("r1", null, null, RestockTrigger.Manual, "shop-a", "merchant", Start))));

        // No shop can take it for itself: it may be another shop's.
        Assert.Equal(RejectionCode.NotOwner, Rejection(SkuStock.Decide(refunded, new SetStock("grab", 0, "count", "shop-b"))));
        Assert.Equal(RejectionCode.NotOwner, Rejection(SkuStock.Decide(refunded, new AdjustStock("grab", 1, "count", "shop-a"))));

        var owned = SkuStock.ApplyAll(refunded, Events(SkuStock.Decide(refunded, new AdjustStock("new", 1, "count", "shop-a", ByOperator: true))));
        Assert.Equal("shop-a", owned.Owner);
        Assert.Equal(RejectionCode.NotOwner, Rejection(SkuStock.Decide(owned, new SetStock("b", 50, "count", "shop-b"))));
        Assert.Equal(RejectionCode.NotOwner, Rejection(SkuStock.Decide(owned,
            new RestockRefund("r1", null, null, RestockTrigger.Manual, "shop-b", "merchant", Start))));
        Assert.Single(Events(SkuStock.Decide(owned, new RestockRefund("r1", null, null, RestockTrigger.Manual, "shop-a", "merchant", Start))));
    }

    [Fact]
    public void A_repeated_adjustment_id_from_another_shop_is_refused_not_answered_as_a_repeat()
    {
        var state = SkuStock.ApplyAll(SkuState.Empty(), Events(SkuStock.Decide(SkuState.Empty(), new SetStock("a1", 5, "count", "shop-a"))));
        Assert.Equal(RejectionCode.NotOwner, Rejection(SkuStock.Decide(state, new SetStock("a1", 5, "count", "shop-b"))));
        Assert.Equal(RejectionCode.NotOwner, Rejection(SkuStock.Decide(state, new SetStock("a1", 5, "count"))));
        Assert.Empty(Events(SkuStock.Decide(state, new SetStock("a1", 5, "count", "shop-a"))));
    }

    private static bool IsStock(SkuCommand c) => c is SetStock or AdjustStock;

    private static string? ShopOf(SkuCommand c) => c switch
    {
        SetStock s => s.ShopId,
        AdjustStock a => a.ShopId,
        RefundLine r => r.ShopId,
        RestockRefund r => r.ShopId,
        _ => null,
    };

    private static IReadOnlyList<SkuEvent> Events(Decision d) => Assert.IsType<Accepted>(d).Events;

    private static RejectionCode Rejection(Decision d) => Assert.IsType<Rejected>(d).Code;
}
