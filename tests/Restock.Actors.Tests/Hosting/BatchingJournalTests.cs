using Restock.Actors.Domain.Inventory;
using Restock.Actors.Engine.Hosting;
using Restock.Actors.Engine.Inventory;
using Restock.Actors.Tests.Support;

namespace Restock.Actors.Tests.Hosting;

/// <summary>
/// The journal shares queries and transactions between entities (<see cref="BatchingJournal"/>,
/// <see cref="BatchedRecoverySnapshotStore"/>): whatever the batch, each SKU recovers exactly its own journal.
/// </summary>
public sealed class BatchingJournalTests : IDisposable
{
    // A SKU snapshots after 150 events; replays of fewer than 100 events are read together with other SKUs'.
    private const string Snapshots = "restock.inventory.snapshot-every = 150";

    private readonly TestDatabase _db = new();

    private static DateTimeOffset InAnHour => DateTimeOffset.UtcNow.AddHours(1);

    /// <summary>SKUs of every recovery path: no events since stocked, a short replay, a long one, a snapshot plus a short replay.</summary>
    private static readonly (string Sku, int Orders)[] Skus =
    [
        .. Enumerable.Range(0, 60).Select(i => ($"few-{i}", i % 7)),
        .. Enumerable.Range(0, 3).Select(i => ($"long-{i}", 130)),
        .. Enumerable.Range(0, 3).Select(i => ($"snapshotted-{i}", 200)),
    ];

    [Fact]
    public async Task Skus_recovering_together_after_a_restart_come_back_with_exactly_their_journaled_state()
    {
        Dictionary<string, StockLevels> before;
        await using (var first = await RestockEngine.StartAsync(_db.Config(Snapshots)).Within("the engine to start"))
        {
            // SKUs write at the same time (their writes share transactions); each SKU's own commands go in order.
            await Task.WhenAll(Skus.Select(async s =>
            {
                Assert.Equal(SkuOutcome.Done, (await first.Inventory.Execute(s.Sku, new SetStock("delivery", 1_000, "stock", "shop-a"))).Outcome);
                for (var o = 0; o < s.Orders; o++)
                {
                    Assert.Equal(SkuOutcome.Done, (await first.Inventory.Execute(s.Sku, new Reserve($"o{o}", 1 + o % 3, InAnHour))).Outcome);
                    if (o % 4 == 1) Assert.Equal(SkuOutcome.Done, (await first.Inventory.Execute(s.Sku, new Release($"o{o}"))).Outcome);
                }
            }));
            before = await LevelsAsync(first);
            await AwaitSnapshotsAsync();
        }

        await using (var second = await RestockEngine.StartAsync(_db.Config(Snapshots)).Within("the engine to start"))
        {
            Assert.Equal(before, await LevelsAsync(second));
            await Task.WhenAll(Skus.Select(async s =>
            {
                // Remembered ids came back, and the next write follows the journal's last sequence number.
                var repeat = await second.Inventory.Execute(s.Sku, new SetStock("delivery", 1_000, "stock", "shop-a"));
                Assert.Equal(SkuOutcome.AlreadyDone, repeat.Outcome);
                Assert.Equal(SkuOutcome.Done, (await second.Inventory.Execute(s.Sku, new Reserve("after-restart", 1, InAnHour))).Outcome);
            }));
            before = await LevelsAsync(second);
        }

        await using var third = await RestockEngine.StartAsync(_db.Config(Snapshots)).Within("the engine to start");
        Assert.Equal(before, await LevelsAsync(third));
    }

    private async Task AwaitSnapshotsAsync()
    {
        for (var waited = 0; waited < 200; waited++)
        {
            if (_db.Snapshots.Count("SELECT COUNT(DISTINCT persistence_id) FROM snapshot WHERE persistence_id LIKE 'sku-snapshotted-%'") == 3) return;
            await Task.Delay(100);
        }
        Assert.Fail("the snapshotted SKUs took no snapshot");
    }

    private static async Task<Dictionary<string, StockLevels>> LevelsAsync(RestockEngine engine)
    {
        var replies = await Task.WhenAll(Skus.Select(s => engine.Inventory.GetStock(s.Sku)));
        return replies.ToDictionary(r => r.SkuId, r => r.Levels);
    }

    public void Dispose() => _db.Dispose();
}
