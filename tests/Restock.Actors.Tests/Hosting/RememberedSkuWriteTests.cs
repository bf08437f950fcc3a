using Restock.Actors.Domain.Inventory;
using Restock.Actors.Engine.Hosting;
using Restock.Actors.Engine.Inventory;
using Restock.Actors.Tests.Support;

namespace Restock.Actors.Tests.Hosting;

/// <summary>
/// Sharding remembers a SKU new to its shard (a journal write) before it hands the SKU its first request. Akka gives up on
/// that write after updating-state-timeout (5 s by default), restarts the shard and drops the request: a write held up
/// longer (a busy machine, another write holding the journal file's turn) left the caller waiting its whole ask timeout
/// for an answer that never came. CI met it as a fresh engine's first request unanswered.
/// </summary>
public sealed class RememberedSkuWriteTests
{
    // Longer than Akka's default for the write.
    private static readonly TimeSpan TurnHeld = TimeSpan.FromSeconds(7);

    [Fact]
    public void A_remember_write_outlasts_the_callers_ask_timeout_and_the_journals_write_timeout()
    {
        var config = RestockConfig.Load(_ => null);
        var remember = config.GetTimeSpan("akka.cluster.sharding.updating-state-timeout");
        Assert.True(remember > config.GetTimeSpan("restock.inventory.ask-timeout"), $"updating-state-timeout {remember}");
        Assert.True(remember > config.GetTimeSpan("akka.persistence.journal.sql.write-timeout"), $"updating-state-timeout {remember}");
    }

    [Fact]
    public async Task A_new_skus_first_request_waiting_for_a_slow_remember_write_is_answered_not_dropped()
    {
        // Below updating-state-timeout as the shipped one is, and long enough that the answer, due soon after the turn
        // ends, cannot miss it on a busy machine: without the fix the request is dropped and no wait would do.
        await using var engine = await TestEngine.StartAsync("restock.inventory.ask-timeout = 14s");
        const string first = "kettle";
        var newcomer = SameShardAs(engine, first);
        // The shard runs already: the newcomer's request meets a shard that only has to remember it.
        await engine.Stock("shop", first, 3);

        var held = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var turn = SqliteWriter.RunAsync(engine.Database.ConnectionString, async () =>
        {
            held.SetResult();
            await Task.Delay(TurnHeld);
        }, CancellationToken.None);
        await held.Task;

        // Within the engine's ask timeout, or this throws.
        var reply = await engine.Engine.Inventory.Execute(newcomer, new SetStock("first-delivery", 5, "delivery", "shop"));
        Assert.True(reply.Succeeded, reply.Message);
        await turn;
        Assert.Equal(new StockLevels(5, 0, 0, 0, 0, 0), await engine.Levels(newcomer));
    }

    private static string SameShardAs(TestEngine engine, string sku)
    {
        var shards = new SkuMessageExtractor(engine.Engine.System.Settings.Config.GetInt("restock.inventory.shards"));
        var shard = shards.ShardId(sku, new GetStock(sku));
        return Enumerable.Range(1, 10_000).Select(i => $"{sku}-{i}").First(other => shards.ShardId(other, new GetStock(other)) == shard);
    }
}
