using Akka.Configuration;
using Restock.Actors.Engine.Hosting;

namespace Restock.Actors.Engine.Inventory;

/// <summary>The <c>restock.inventory</c> section of the configuration.</summary>
public sealed record InventorySettings(
    int MaxBatchSize,
    int SnapshotEvery,
    TimeSpan IdleBeforePassivation,
    TimeSpan RememberIdsFor,
    int Shards,
    TimeSpan AskTimeout,
    TimeSpan ManualRestockWindow,
    bool SnapshotIdsInChunks = false,
    int InFlightPerSku = 0)
{
    public static InventorySettings From(Config config)
    {
        var c = config.GetConfig("restock.inventory");
        var settings = new InventorySettings(
            c.GetInt("max-batch-size"),
            c.GetInt("snapshot-every"),
            c.GetTimeSpan("idle-before-passivation"),
            c.GetTimeSpan("remember-ids-for"),
            c.GetInt("shards"),
            c.GetTimeSpan("ask-timeout"),
            c.GetTimeSpan("manual-restock-window"),
            SnapshotStoreKeepsChunks(config),
            c.GetInt("in-flight-per-sku"));
        if (settings.MaxBatchSize < 1 || settings.SnapshotEvery < 1 || settings.Shards < 1)
            throw new ConfigurationException("restock.inventory: max-batch-size, snapshot-every and shards must be at least 1");
        if (settings.InFlightPerSku < 0)
            throw new ConfigurationException("restock.inventory.in-flight-per-sku must be 0 or more");
        if (settings.RememberIdsFor <= TimeSpan.Zero)
            throw new ConfigurationException("restock.inventory.remember-ids-for must be longer than zero");
        // The record also answers repeats of its refund within the horizon: the window never ends before it.
        if (settings.ManualRestockWindow < settings.RememberIdsFor)
            throw new ConfigurationException("restock.inventory.manual-restock-window must be at least remember-ids-for");
        return settings;
    }

    /// <summary>Remembered ids go into snapshot chunks only where the configured snapshot store reads them back (ours, on SQL).</summary>
    private static bool SnapshotStoreKeepsChunks(Config config)
    {
        var plugin = config.GetString("akka.persistence.snapshot-store.plugin", "");
        if (plugin == "" || !config.HasPath(plugin + ".class")) return false;
        var store = Type.GetType(config.GetString(plugin + ".class"), throwOnError: false);
        return store == typeof(BatchedRecoverySnapshotStore)
               && BatchedRecoverySnapshotStore.Supports(config.GetString(plugin + ".provider-name", ""));
    }
}
