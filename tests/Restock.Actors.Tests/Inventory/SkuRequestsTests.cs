using System.Collections.Concurrent;
using Akka.Actor;
using Akka.Cluster.Sharding;
using Restock.Actors.Domain.Inventory;
using Restock.Actors.Engine.Hosting;
using Restock.Actors.Engine.Inventory;
using Restock.Actors.Tests.Support;
using Xunit.Abstractions;

namespace Restock.Actors.Tests.Inventory;

/// <summary>
/// Several callers' commands in one message to a SKU (<see cref="SkuRequests"/>) are answered exactly as the same
/// commands one by one, and the node's batcher sends concurrent callers' commands together, in arrival order.
/// </summary>
public sealed class SkuRequestsTests(ITestOutputHelper output) : EngineTestKit(output)
{
    private static DateTimeOffset InAnHour => DateTimeOffset.UtcNow.AddHours(1);

    [Theory]
    [InlineData(11)]
    [InlineData(2026)]
    [InlineData(424242)]
    public async Task Commands_sent_together_are_answered_and_written_exactly_as_one_by_one(int seed)
    {
        var commands = Schedule(new Random(seed), 90);
        // Answers take milliseconds; the shipped 10 s timeout ran out once on a machine busy with traced benchmarks.
        var config = Db.Config($"restock.inventory.ask-timeout = {Bounded.Wait.TotalSeconds}s");
        await using (var engine = await RestockEngine.StartAsync(config))
        {
            var oneByOne = new List<SkuReply>();
            foreach (var command in commands)
                oneByOne.Add(await engine.Inventory.Execute("alone", command));

            var region = ClusterSharding.Get(engine.System).ShardRegion("sku");
            var together = await region.AskBounded<SkuReplies>(new SkuRequests("together", commands));

            Assert.Equal(oneByOne.Select(r => r with { SkuId = "" }), together.Replies.Select(r => r with { SkuId = "" }));
            // The schedule holds what a batch must decide in order: refusals for lack of stock, repeats, another shop's commands.
            Assert.Contains(oneByOne, r => r.Rejection == RejectionCode.OutOfStock);
            Assert.Contains(oneByOne, r => r.Outcome == SkuOutcome.AlreadyDone);
            Assert.Contains(oneByOne, r => r.Rejection == RejectionCode.NotOwner);
            Assert.Equal((await engine.Inventory.GetStock("alone")).Levels, (await engine.Inventory.GetStock("together")).Levels);

            // One write for the whole message; the state it leaves recovers the same after a restart.
            var stats = await engine.Inventory.GetJournalStats("together");
            Assert.Equal((commands.Count, 1L), (stats.CommandsDecided, stats.BatchesWritten));
        }
        await using var restarted = await RestockEngine.StartAsync(config);
        Assert.Equal((await restarted.Inventory.GetStock("alone")).Levels, (await restarted.Inventory.GetStock("together")).Levels);
        foreach (var command in commands.OfType<Reserve>().Take(10))
            Assert.Equal(
                (await restarted.Inventory.Execute("alone", command)) with { SkuId = "" },
                (await restarted.Inventory.Execute("together", command)) with { SkuId = "" });
    }

    [Fact]
    public async Task Callers_arriving_while_the_sku_is_busy_go_together_in_arrival_order_and_each_gets_its_own_answer()
    {
        var region = CreateTestProbe();
        var reservations = new ConcurrentQueue<SkuReply>();
        var batcher = new SkuRequestBatcher(region.Ref, AskTimeouts.Start(Sys, TimeSpan.FromSeconds(30)), inFlight: 2, mostTogether: 3, reservations.Enqueue);
        var calls = Enumerable.Range(1, 6).Select(i => batcher.Execute("mug", new Reserve($"o{i}", 1, InAnHour))).ToArray();

        // Two under way alone; the others wait for one of them and then go in messages of at most three, in the order they came.
        Assert.Equal("o1", Order(region.ExpectMsg<SkuRequest>().Command));
        var first = region.LastSender;
        Assert.Equal("o2", Order(region.ExpectMsg<SkuRequest>().Command));
        var second = region.LastSender;
        first.Tell(Reply("o1"));
        var waiting = region.ExpectMsg<SkuRequests>();
        var together = region.LastSender;
        Assert.Equal(["o3", "o4", "o5"], waiting.Commands.Select(Order));
        Assert.Equal("o1", (await calls[0]).Message);

        // A failure ends only the caller it was for; a shared answer goes to each caller in turn.
        second.Tell(new Status.Failure(new StockNotSavedException("mug", null)));
        await Assert.ThrowsAsync<StockNotSavedException>(() => calls[1]);
        Assert.Equal(["o6"], region.ExpectMsg<SkuRequests>().Commands.Select(Order));
        region.LastSender.Tell(new SkuReplies([Reply("o6")]));
        together.Tell(new SkuReplies([Reply("o3"), Reply("o4"), Reply("o5")]));
        Assert.Equal(["o3", "o4", "o5", "o6"], (await Task.WhenAll(calls[2..])).Select(r => r.Message));
        Assert.Equal(["o1", "o6", "o3", "o4", "o5"], reservations.Select(r => r.Message));

        // A shared message that fails fails each of its callers with the same cause.
        var more = Enumerable.Range(7, 4).Select(i => batcher.Execute("mug", new Reserve($"o{i}", 1, InAnHour))).ToArray();
        region.ExpectMsg<SkuRequest>();
        var seventh = region.LastSender;
        region.ExpectMsg<SkuRequest>();
        seventh.Tell(Reply("o7"));
        Assert.Equal(["o9", "o10"], region.ExpectMsg<SkuRequests>().Commands.Select(Order));
        region.LastSender.Tell(new Status.Failure(new StockOutcomeUnknownException("mug", null)));
        await Assert.ThrowsAsync<StockOutcomeUnknownException>(() => more[2]);
        await Assert.ThrowsAsync<StockOutcomeUnknownException>(() => more[3]);
    }

    [Fact]
    public async Task Concurrent_callers_of_one_sku_are_each_answered_for_their_own_reservation()
    {
        await using var engine = await RestockEngine.StartAsync(Db.Config("restock.inventory.in-flight-per-sku = 2"));
        await engine.Inventory.Execute("hot", new SetStock("a1", 150, "delivery", "shop-a"));

        var replies = await Task.WhenAll(Enumerable.Range(0, 200).Select(i =>
            Task.Run(() => engine.Inventory.Execute("hot", new Reserve($"o{i}", 1, InAnHour)))));

        // Each answer carries the levels right after its own decision: 150 distinct reserved counts, then refusals.
        Assert.Equal(Enumerable.Range(1, 150).Select(n => (long)n),
            replies.Where(r => r.Outcome == SkuOutcome.Done).Select(r => r.Levels.Reserved).Order());
        Assert.Equal(50, replies.Count(r => r.Rejection == RejectionCode.OutOfStock));
        var stats = await engine.Inventory.GetJournalStats("hot");
        Assert.Equal(201, stats.CommandsDecided);

        // Repeats, sent concurrently too, answer as the first time did.
        var repeats = await Task.WhenAll(Enumerable.Range(0, 200).Select(i =>
            Task.Run(() => engine.Inventory.Execute("hot", new Reserve($"o{i}", 1, InAnHour)))));
        for (var i = 0; i < replies.Length; i++)
            Assert.Equal(replies[i].Outcome == SkuOutcome.Done ? SkuOutcome.AlreadyDone : SkuOutcome.Rejected, repeats[i].Outcome);
        Assert.Equal(new StockLevels(0, 150, 0, 0, 0, 0), (await engine.Inventory.GetStock("hot")).Levels);
    }

    [Fact]
    public void Shared_messages_and_their_answers_cross_nodes_intact()
    {
        var deadline = new DateTimeOffset(2026, 11, 27, 12, 0, 0, TimeSpan.Zero);
        SkuCommand[] commands = [new Reserve("o1", 2, deadline), new SetStock("b1", 5, "grab", "shop-b"), new Release("o1")];
        var requests = RoundTrip(new SkuRequests("mug", commands));
        Assert.Equal("mug", requests.SkuId);
        Assert.Equal(commands, requests.Commands);
        SkuReply[] replies = [Reply("o1"), new("mug", SkuOutcome.Rejected, RejectionCode.NotOwner, "no", StockLevels.Zero, "shop-a")];
        Assert.Equal(replies, RoundTrip(new SkuReplies(replies)).Replies);
    }

    private T RoundTrip<T>(T message) where T : notnull
    {
        var serializer = (Akka.Serialization.SerializerWithStringManifest)Sys.Serialization.FindSerializerFor(message);
        return (T)serializer.FromBinary(serializer.ToBinary(message), serializer.Manifest(message));
    }

    private static string Order(SkuCommand command) => ((Reserve)command).OrderId;

    private static SkuReply Reply(string order) => new("mug", SkuOutcome.Done, null, order, StockLevels.Zero);

    /// <summary>
    /// A merchant's session on one SKU: stocked by shop-a, then reservations (new and repeated), cancellations, payments,
    /// adjustments (some repeated) and shop-b's attempts; the stock runs out and is topped up again along the way.
    /// </summary>
    private static List<SkuCommand> Schedule(Random random, int count)
    {
        var commands = new List<SkuCommand> { new SetStock("a0", 12, "delivery", "shop-a") };
        var orders = new List<Reserve>();
        var deadline = InAnHour;
        while (commands.Count < count)
        {
            var roll = random.Next(100);
            commands.Add(roll switch
            {
                < 50 => Add(orders, new Reserve($"o{orders.Count}", random.Next(1, 4), deadline)),
                < 62 when orders.Count > 0 => orders[random.Next(orders.Count)],
                < 70 when orders.Count > 0 => new Release(orders[random.Next(orders.Count)].OrderId),
                < 76 when orders.Count > 0 => new ConfirmPayment(orders[random.Next(orders.Count)].OrderId),
                < 84 => new AdjustStock($"a{random.Next(1, 6)}", 4, "delivery", "shop-a"),
                < 92 => new SetStock($"b{commands.Count}", 100, "grab", "shop-b"),
                _ => new AdjustStock($"b{commands.Count}", 5, "grab", "shop-b"),
            });
        }
        return commands;
    }

    private static Reserve Add(List<Reserve> orders, Reserve order)
    {
        orders.Add(order);
        return order;
    }
}
