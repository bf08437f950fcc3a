using Restock.Actors.Domain;
using Restock.Actors.Domain.Shops;

namespace Restock.Actors.Engine.Shops;

/// <summary>Anything addressed to one shop's settings actor.</summary>
public interface IShopMessage : IRestockMessage
{
    string ShopId { get; }
}

public sealed record ShopRequest(string ShopId, ShopCommand Command) : IShopMessage;

public sealed record GetShopSettings(string ShopId) : IShopMessage;

/// <summary>Asks which restock policy applies to a refund completed at <paramref name="CompletedAt"/>.</summary>
public sealed record GetRestockPolicy(string ShopId, DateTimeOffset CompletedAt) : IShopMessage;

public sealed record RestockPolicyReply(string ShopId, bool Restock, long SettingVersion) : IRestockMessage;

public enum ShopOutcome
{
    Done = 1,
    AlreadyDone = 2,
    Rejected = 3,
}

/// <summary>The answer to a shop request: the settings after it, and why nothing changed if so.</summary>
public sealed record ShopReply(string ShopId, ShopOutcome Outcome, ShopRejectionCode? Rejection, string? Message, ShopSettings Settings)
    : IRestockMessage;
