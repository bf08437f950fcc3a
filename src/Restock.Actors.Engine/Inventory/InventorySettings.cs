using Akka.Configuration;

namespace Restock.Actors.Engine.Inventory;

/// <summary>The <c>restock.inventory</c> section of the configuration.</summary>
public sealed record InventorySettings(
    int MaxBatchSize,
    int SnapshotEvery,
    TimeSpan IdleBeforePassivation,
    int RememberedIds,
    int Shards,
    TimeSpan AskTimeout)
{
    public static InventorySettings From(Config config)
    {
        var c = config.GetConfig("restock.inventory");
        var settings = new InventorySettings(
            c.GetInt("max-batch-size"),
            c.GetInt("snapshot-every"),
            c.GetTimeSpan("idle-before-passivation"),
            c.GetInt("remembered-ids"),
            c.GetInt("shards"),
            c.GetTimeSpan("ask-timeout"));
        if (settings.MaxBatchSize < 1 || settings.SnapshotEvery < 1 || settings.RememberedIds < 1 || settings.Shards < 1)
            throw new ConfigurationException("restock.inventory: max-batch-size, snapshot-every, remembered-ids and shards must be at least 1");
        return settings;
    }
}
