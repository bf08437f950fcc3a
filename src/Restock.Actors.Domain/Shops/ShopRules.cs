namespace Restock.Actors.Domain.Shops;

/// <summary>The rules of a shop's auto-restock switch: pure functions.</summary>
public static class ShopRules
{
    public const string AutoRestockSetting = "autoRestock";
    public const string ErpRestocksSetting = "erpRestocks";

    public static ShopDecision Decide(ShopSettings s, ShopCommand command) => command switch
    {
        SetAutoRestock c => DecideSwitch(s, c),
        SetErpRestocks c => DecideErp(s, c),
        ImportFromWhitelist c => DecideImport(s, c),
        _ => throw new ArgumentOutOfRangeException(nameof(command), command.GetType().Name, "unknown shop command"),
    };

    public static ShopSettings Apply(ShopSettings s, ShopEvent @event)
    {
        var version = s.Version + 1;
        return @event switch
        {
            AutoRestockChanged e => s with
            {
                AutoRestock = e.On,
                Origin = e.Origin,
                Version = version,
                History = s.History.Add(new SettingChange(version, AutoRestockSetting, s.AutoRestock, e.On, e.Origin, e.Actor,
                    e.Reason, e.ErpOverride, e.At)),
            },
            ErpRestocksChanged e => s with
            {
                ErpRestocks = e.On,
                Version = version,
                History = s.History.Add(new SettingChange(version, ErpRestocksSetting, s.ErpRestocks, e.On, SettingOrigin.Merchant,
                    e.Actor, e.Reason, false, e.At)),
            },
            _ => throw new ArgumentOutOfRangeException(nameof(@event), @event.GetType().Name, "unknown shop event"),
        };
    }

    private static ShopDecision DecideSwitch(ShopSettings s, SetAutoRestock c)
    {
        if (Invalid(c.Actor, c.Reason) is { } bad) return bad;
        if (c.Origin is not (SettingOrigin.Merchant or SettingOrigin.Operator))
            return new ShopRejected(ShopRejectionCode.InvalidInput, "the switch is changed by a merchant or an operator");
        if (s.AutoRestock == c.On)
            return new ShopAccepted([], $"auto-restock is already {(c.On ? "on" : "off")}");
        if (c.On && s.ErpRestocks && !c.OverrideErp)
            return new ShopRejected(ShopRejectionCode.ErpRestocks,
                "this shop's ERP restocks unshipped refunds: turning auto-restock on too would put the same units back twice " +
                "(oversell). Turn the ERP flag off first, or override explicitly.");
        return new ShopAccepted([new AutoRestockChanged(c.On, c.Origin, c.Actor, c.Reason, c.On && s.ErpRestocks, c.At)]);
    }

    private static ShopDecision DecideErp(ShopSettings s, SetErpRestocks c)
    {
        if (Invalid(c.Actor, c.Reason) is { } bad) return bad;
        if (s.ErpRestocks == c.On)
            return new ShopAccepted([], $"the ERP flag is already {(c.On ? "on" : "off")}");
        var flag = new ErpRestocksChanged(c.On, c.Actor, c.Reason, c.At);
        if (!c.On || !s.AutoRestock) return new ShopAccepted([flag]);
        return new ShopAccepted(
        [
            flag,
            new AutoRestockChanged(false, SettingOrigin.ErpGuard, c.Actor,
                "turned off because the shop's ERP restocks unshipped refunds (both would restock twice)", false, c.At),
        ], "auto-restock was turned off: the ERP restocks");
    }

    private static ShopDecision DecideImport(ShopSettings s, ImportFromWhitelist c)
    {
        if (Invalid(c.Actor, "whitelist import") is { } bad) return bad;
        if (s.AutoRestock)
            return new ShopAccepted([], "already on");
        if (s.Origin != SettingOrigin.Default)
            return new ShopAccepted([], $"kept off: set by {s.Origin.ToString().ToLowerInvariant()} since");
        if (s.ErpRestocks)
            return new ShopAccepted([], "kept off: the shop's ERP restocks unshipped refunds");
        return new ShopAccepted([new AutoRestockChanged(true, SettingOrigin.Whitelist, c.Actor, "whitelist import", false, c.At)]);
    }

    private static ShopRejected? Invalid(string actor, string reason) =>
        string.IsNullOrWhiteSpace(actor) || actor.Length > 200 || reason.Length > 500
            ? new ShopRejected(ShopRejectionCode.InvalidInput, "actor is required (at most 200 characters), reason at most 500")
            : null;
}
