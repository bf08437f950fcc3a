using System.Collections.Immutable;

namespace Restock.Actors.Domain.Shops;

/// <summary>Where the current value of a shop's switch came from.</summary>
public enum SettingOrigin
{
    Default = 0,
    Merchant = 1,
    Whitelist = 2,
    Operator = 3,

    /// <summary>Turned off by the engine when the shop declared that its ERP restocks unshipped refunds.</summary>
    ErpGuard = 4,
}

public abstract record ShopCommand : IRestockMessage;

/// <summary>Turns the auto-restock switch on or off. On while the ERP restocks needs <paramref name="OverrideErp"/>.</summary>
public sealed record SetAutoRestock(bool On, SettingOrigin Origin, string Actor, string Reason, bool OverrideErp, DateTimeOffset At)
    : ShopCommand;

/// <summary>Declares whether the shop's ERP restocks unshipped refunds itself.</summary>
public sealed record SetErpRestocks(bool On, string Actor, string Reason, DateTimeOffset At) : ShopCommand;

/// <summary>The one-time migration of the old whitelist: on, unless someone has decided otherwise since.</summary>
public sealed record ImportFromWhitelist(string Actor, DateTimeOffset At) : ShopCommand;

public abstract record ShopEvent : IRestockMessage;

public sealed record AutoRestockChanged(bool On, SettingOrigin Origin, string Actor, string Reason, bool ErpOverride, DateTimeOffset At)
    : ShopEvent;

public sealed record ErpRestocksChanged(bool On, string Actor, string Reason, DateTimeOffset At) : ShopEvent;

/// <summary>One line of a shop's settings history. <paramref name="Version"/> counts every change of the shop.</summary>
public sealed record SettingChange(
    long Version, string Setting, bool From, bool To, SettingOrigin Origin, string Actor, string Reason, bool ErpOverride,
    DateTimeOffset At);

/// <summary>Whether a refund completed at a given time restocks, and the setting version that says so (0 = the default).</summary>
public sealed record RestockPolicy(bool Restock, long SettingVersion);

/// <summary>
/// A shop's restock settings with their history. The history stays in the state because deciding a refund
/// needs the value in force when the refund completed, which may precede the latest change.
/// </summary>
public sealed record ShopSettings(bool AutoRestock, bool ErpRestocks, SettingOrigin Origin, long Version, ImmutableList<SettingChange> History)
{
    public static readonly ShopSettings Default = new(false, false, SettingOrigin.Default, 0, ImmutableList<SettingChange>.Empty);

    public RestockPolicy PolicyAt(DateTimeOffset completedAt)
    {
        for (var i = History.Count - 1; i >= 0; i--)
        {
            var change = History[i];
            if (change.Setting == ShopRules.AutoRestockSetting && change.At <= completedAt)
                return new RestockPolicy(change.To, change.Version);
        }
        return new RestockPolicy(false, 0);
    }
}

public enum ShopRejectionCode
{
    InvalidInput = 1,
    ErpRestocks = 2,
}

public abstract record ShopDecision;

/// <summary>No events: nothing to change; <paramref name="Note"/> says why.</summary>
public sealed record ShopAccepted(IReadOnlyList<ShopEvent> Events, string? Note = null) : ShopDecision;

public sealed record ShopRejected(ShopRejectionCode Code, string Message) : ShopDecision;
