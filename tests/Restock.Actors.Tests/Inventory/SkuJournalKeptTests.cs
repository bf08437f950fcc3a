using Akka.Actor;
using Akka.Persistence;
using Restock.Actors.Domain.Inventory;
using Restock.Actors.Engine.Hosting;
using Restock.Actors.Engine.Inventory;
using Restock.Actors.Tests.Support;
using Xunit.Abstractions;

namespace Restock.Actors.Tests.Inventory;

/// <summary>
/// A SKU never deletes its journal events, however many snapshots it takes: the snapshot store passes a SKU's damaged
/// snapshot over (<see cref="BatchedRecoverySnapshotStore.NeverDeletesEvents"/>) because the journal from the first event
/// recovers the SKU exactly without it.
/// </summary>
public sealed class SkuJournalKeptTests(ITestOutputHelper output)
    : EngineTestKit(output, "restock.inventory.max-batch-size = 10", "restock.inventory.snapshot-every = 10")
{
    private const string Sku = "kept";

    private static readonly DateTimeOffset Deadline = DateTimeOffset.UtcNow.AddDays(1);

    private InventorySettings Settings => InventorySettings.From(Sys.Settings.Config);

    private static string PersistenceId => SkuActor.PersistenceIdFor(Sku);

    private void Send(IActorRef sku, IReadOnlyList<SkuCommand> commands)
    {
        foreach (var command in commands) sku.Tell(new SkuRequest(Sku, command), TestActor);
        Assert.All(ReceiveN(commands.Count, TimeSpan.FromSeconds(30)).Cast<SkuReply>(), r => Assert.Equal(SkuOutcome.Done, r.Outcome));
    }

    /// <summary>What the SKU answers: its levels, and a repeat of every order's reservation (answered from what it remembers, no event).</summary>
    private async Task<string> Answers(IActorRef sku, int orders)
    {
        var answers = new List<string> { (await sku.AskBounded<SkuReply>(new GetStock(Sku))).Levels.ToString() };
        for (var i = 0; i < orders; i++)
        {
            var reply = await sku.AskBounded<SkuReply>(new SkuRequest(Sku, new Reserve($"o{i}", 1, Deadline)));
            answers.Add($"o{i} {reply.Outcome} {reply.Rejection}");
        }
        return string.Join("\n", answers);
    }

    /// <summary>The sequence numbers of the SKU's journal rows, replayed from the first as a recovery reads them.</summary>
    private List<long> JournalRows()
    {
        Persistence.Instance.Apply(Sys).JournalFor(null).Tell(new ReplayMessages(1, long.MaxValue, long.MaxValue, PersistenceId, TestActor));
        var rows = new List<long>();
        object? message;
        while ((message = ReceiveOne(Generous)) is ReplayedMessage replayed) rows.Add(replayed.Persistent.SequenceNr);
        Assert.IsType<RecoverySuccess>(message);
        return rows;
    }

    [Fact]
    public async Task A_sku_keeps_every_event_past_its_snapshots_and_recovers_exactly_from_its_journal_when_they_are_damaged()
    {
        var sku = Sys.ActorOf(SkuActor.Props(Sku, Settings));
        Send(sku, [new SetStock("a1", 1_000, "delivery", "shop-a")]);
        var snapshots = new SortedSet<long>();
        const int rounds = 5, perRound = 20;
        for (var round = 0; round < rounds; round++)
        {
            // Each round leaves open lines behind (reserved, some paid), so the snapshots grow and come further apart.
            var orders = Enumerable.Range(round * perRound, perRound).Select(i => $"o{i}").ToList();
            Send(sku, orders.Select(o => (SkuCommand)new Reserve(o, 1, Deadline)).ToList());
            Send(sku, [.. orders.Take(10).Select(o => new ConfirmPayment(o)), .. orders.Take(5).Select(o => new Ship(o)), .. orders.Skip(15).Select(o => new Release(o))]);
            snapshots.Add((await sku.AskBounded<JournalStats>(new GetJournalStats(Sku))).LastSnapshotAt);
        }
        snapshots.Remove(0);
        Assert.True(snapshots.Count >= 3, $"snapshots at {string.Join(", ", snapshots)}");
        var written = (await sku.AskBounded<JournalStats>(new GetJournalStats(Sku))).EventsWritten;
        var before = await Answers(sku, rounds * perRound);
        Watch(sku);
        sku.Tell(StopEntity.Instance);
        ExpectTerminated(sku, TimeSpan.FromSeconds(20));

        var rows = JournalRows();
        Assert.Equal(Enumerable.Range(1, rows.Count).Select(i => (long)i), rows);
        Assert.True(rows[^1] >= snapshots.Max, $"journal rows up to {rows[^1]}, a snapshot at {snapshots.Max}");

        // A stop waits for its writes, not for the store's last save or for the deletes each save's success sends: damaging
        // a head those then replace or remove would leave one to recover from. Settled, the store holds the last head only.
        IReadOnlyList<string> heads = [];
        await AwaitAssertAsync(() =>
        {
            heads = Db.Snapshots.Strings($"SELECT sequence_number FROM snapshot WHERE persistence_id = '{PersistenceId}'");
            Assert.True(heads.Count == 1 && long.Parse(heads[0]) >= snapshots.Max, $"heads at {string.Join(", ", heads)}");
        }, Generous);

        // Every head the store holds damaged (the last digit of its available count): none is left to recover from.
        foreach (var head in heads)
        {
            using var connection = new Microsoft.Data.Sqlite.SqliteConnection(Db.Snapshots.ConnectionString);
            connection.Open();
            using var read = connection.CreateCommand();
            read.CommandText = $"SELECT snapshot FROM snapshot WHERE persistence_id = '{PersistenceId}' AND sequence_number = {head}";
            var bytes = (byte[])read.ExecuteScalar()!;
            var at = bytes.AsSpan().IndexOf("\"available\":"u8) + "\"available\":"u8.Length;
            Assert.True(at > 20);
            while (char.IsAsciiDigit((char)bytes[at + 1])) at++;
            bytes[at] ^= 1;
            using var write = connection.CreateCommand();
            write.CommandText = $"UPDATE snapshot SET snapshot = $bytes WHERE persistence_id = '{PersistenceId}' AND sequence_number = {head}";
            write.Parameters.AddWithValue("$bytes", bytes);
            Assert.Equal(1, write.ExecuteNonQuery());
        }

        var recovered = Sys.ActorOf(SkuActor.Props(Sku, Settings));
        var stats = await recovered.AskBounded<JournalStats>(new GetJournalStats(Sku));
        // Every event replayed: no snapshot was offered. The SKU then heals by saving a fresh one at its last row, which an
        // ask arriving after its recovery already sees.
        Assert.Equal(written, stats.EventsReplayed);
        Assert.Contains(stats.LastSnapshotAt, new[] { 0L, rows[^1] });
        Assert.Equal(before, await Answers(recovered, rounds * perRound));
    }
}
