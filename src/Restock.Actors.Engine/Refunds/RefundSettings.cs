using Akka.Configuration;
using Restock.Actors.Engine.Hosting;
using Restock.Actors.Engine.Inventory;

namespace Restock.Actors.Engine.Refunds;

/// <summary>The <c>restock.refunds</c> section, with the ask timeout and idle time shared with inventory.</summary>
public sealed record RefundSettings(
    int Shards, TimeSpan AskTimeout, TimeSpan IdleBeforePassivation, TimeSpan RetryFor, TimeSpan LongestRetryDelay, TimeSpan ShopAnswerBeforeFirstWrite)
{
    public static RefundSettings From(Config config)
    {
        var inventory = InventorySettings.From(config);
        var c = config.GetConfig("restock.refunds");
        var settings = new RefundSettings(c.GetInt("shards"), inventory.AskTimeout, inventory.IdleBeforePassivation,
            c.GetTimeSpan("retry-for"), c.GetTimeSpan("longest-retry-delay"), c.GetTimeSpan("shop-answer-before-first-write"));
        if (settings.Shards < 1 || settings.RetryFor < TimeSpan.Zero || settings.LongestRetryDelay <= TimeSpan.Zero)
            throw new ConfigurationException("restock.refunds: shards must be at least 1, retry-for at least 0 and longest-retry-delay above 0");
        // The refund's submitter waits ask-timeout for its acknowledgement, which waits for this first.
        if (settings.ShopAnswerBeforeFirstWrite <= TimeSpan.Zero || settings.ShopAnswerBeforeFirstWrite >= settings.AskTimeout / 2)
            throw new ConfigurationException("restock.refunds: shop-answer-before-first-write must be above 0 and below half of restock.inventory.ask-timeout");
        // While the shop's shard moves, a caller waits takeover-ask-timeout before its 503: the refund must be written first.
        // Necessary, not sufficient: the write itself needs time after the wait (the shipped 1 s leaves 500 ms).
        var takeover = RestockConfig.TakeoverAskTimeoutOf(config);
        if (settings.ShopAnswerBeforeFirstWrite >= takeover)
            throw new ConfigurationException(
                $"restock.refunds: shop-answer-before-first-write ({settings.ShopAnswerBeforeFirstWrite.TotalMilliseconds} ms) must be below {RestockConfig.TakeoverAskTimeout} ({takeover.TotalMilliseconds} ms)");
        return settings;
    }
}
