using Restock.Actors.Domain.Shops;

namespace Restock.Actors.Tests.Shops;

public sealed class ShopRulesTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 26, 9, 0, 0, TimeSpan.Zero);

    private static ShopSettings Run(ShopSettings s, ShopCommand c) => ShopRules.Decide(s, c) switch
    {
        ShopAccepted a => a.Events.Aggregate(s, ShopRules.Apply),
        ShopRejected r => throw new InvalidOperationException(r.Message),
        _ => throw new InvalidOperationException(),
    };

    private static SetAutoRestock Merchant(bool on, DateTimeOffset at, bool overrideErp = false) =>
        new(on, SettingOrigin.Merchant, "merchant:ann", "test", overrideErp, at);

    [Fact]
    public void A_shop_never_seen_does_not_restock()
    {
        Assert.False(ShopSettings.Default.AutoRestock);
        Assert.Equal(new RestockPolicy(false, 0), ShopSettings.Default.PolicyAt(T0));
    }

    [Fact]
    public void The_switch_applies_to_refunds_completed_after_each_change_only()
    {
        var s = Run(ShopSettings.Default, Merchant(true, T0));
        s = Run(s, Merchant(false, T0.AddHours(2)));

        Assert.Equal(new RestockPolicy(false, 0), s.PolicyAt(T0.AddSeconds(-1)));
        Assert.Equal(new RestockPolicy(true, 1), s.PolicyAt(T0));
        Assert.Equal(new RestockPolicy(true, 1), s.PolicyAt(T0.AddHours(1)));
        Assert.Equal(new RestockPolicy(false, 2), s.PolicyAt(T0.AddHours(3)));
    }

    [Fact]
    public void A_shop_whose_erp_restocks_cannot_turn_the_switch_on_without_an_explicit_override()
    {
        var s = Run(ShopSettings.Default, new SetErpRestocks(true, "merchant:ann", "our ERP does it", T0));

        var refused = Assert.IsType<ShopRejected>(ShopRules.Decide(s, Merchant(true, T0.AddMinutes(1))));
        Assert.Equal(ShopRejectionCode.ErpRestocks, refused.Code);

        s = Run(s, Merchant(true, T0.AddMinutes(2), overrideErp: true));
        Assert.True(s.AutoRestock);
        Assert.True(s.History[^1].ErpOverride);
    }

    [Fact]
    public void Declaring_that_the_erp_restocks_turns_the_switch_off_and_says_why()
    {
        var s = Run(ShopSettings.Default, Merchant(true, T0));
        var decision = Assert.IsType<ShopAccepted>(ShopRules.Decide(s, new SetErpRestocks(true, "merchant:ann", "ERP live", T0.AddHours(1))));
        s = decision.Events.Aggregate(s, ShopRules.Apply);

        Assert.False(s.AutoRestock);
        Assert.True(s.ErpRestocks);
        Assert.Equal(SettingOrigin.ErpGuard, s.Origin);
        Assert.Contains("ERP", s.History[^1].Reason);
        Assert.Equal(new RestockPolicy(false, 3), s.PolicyAt(T0.AddHours(2)));
    }

    [Fact]
    public void The_whitelist_import_turns_listed_shops_on_once_and_never_overrides_a_later_merchant_choice()
    {
        var import = new ImportFromWhitelist("operator:bob", T0);
        var imported = Run(ShopSettings.Default, import);
        Assert.True(imported.AutoRestock);
        Assert.Equal(SettingOrigin.Whitelist, imported.Origin);

        Assert.Empty(Assert.IsType<ShopAccepted>(ShopRules.Decide(imported, import with { At = T0.AddDays(1) })).Events);

        var merchantTurnedOff = Run(imported, Merchant(false, T0.AddHours(1)));
        var again = Assert.IsType<ShopAccepted>(ShopRules.Decide(merchantTurnedOff, import with { At = T0.AddDays(1) }));
        Assert.Empty(again.Events);
        Assert.Contains("merchant", again.Note);

        var erpShop = Run(ShopSettings.Default, new SetErpRestocks(true, "merchant:ann", "ERP", T0));
        Assert.Empty(Assert.IsType<ShopAccepted>(ShopRules.Decide(erpShop, import)).Events);
    }

    [Fact]
    public void Setting_the_switch_to_its_current_value_changes_nothing()
    {
        var decision = Assert.IsType<ShopAccepted>(ShopRules.Decide(ShopSettings.Default, Merchant(false, T0)));
        Assert.Empty(decision.Events);
    }
}
