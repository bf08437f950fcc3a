using Akka.Actor;
using Akka.Persistence;
using Restock.Actors.Engine.Hosting;
using Restock.Actors.Tests.Support;
using Xunit.Abstractions;

namespace Restock.Actors.Tests.Hosting;

/// <summary>
/// A recovery's highest sequence number is read in one statement with the short replay that follows it
/// (<see cref="BatchingJournal"/>): every replay must answer what Akka.Persistence.Sql's own journal answers, and a
/// replay racing the entity's writes gets every event up to the highest sequence number it reports.
/// </summary>
public sealed class RecoveryReadAheadTests(ITestOutputHelper output) : EngineTestKit(output)
{
    // A journal's first write creates its tables: on a busy machine that can take longer than TestKit's 3 s default.
    private static readonly TimeSpan FirstWrite = TimeSpan.FromSeconds(30);

    internal const string PluginJournal = "akka.persistence.journal.sql.class = \"Akka.Persistence.Sql.Journal.SqlWriteJournal, Akka.Persistence.Sql\"";

    private static IActorRef Journal(ActorSystem system) => Persistence.Instance.Apply(system).JournalFor(null);

    private static void Store(ActorSystem system, string persistenceId, int events)
    {
        var probe = new Akka.TestKit.TestProbe(system, new Akka.TestKit.Xunit2.XunitAssertions());
        var writes = Enumerable.Range(1, events)
            .Select(i => new AtomicWrite(new Persistent($"{persistenceId}-{i}", i, persistenceId, writerGuid: "writer-1")))
            .ToList();
        Journal(system).Tell(new WriteMessages(writes, probe.Ref, 1));
        probe.ExpectMsg<WriteMessagesSuccessful>(FirstWrite);
        probe.ReceiveN(events, FirstWrite);
    }

    /// <returns>The replayed events (sequence number and payload) and the highest sequence number reported.</returns>
    private static (List<string> Events, long Highest) Replay(ActorSystem system, long from, long to, long max, string persistenceId)
    {
        var probe = new Akka.TestKit.TestProbe(system, new Akka.TestKit.Xunit2.XunitAssertions());
        Journal(system).Tell(new ReplayMessages(from, to, max, persistenceId, probe.Ref));
        var events = new List<string>();
        while (true)
        {
            switch (probe.ReceiveOne(FirstWrite))
            {
                case ReplayedMessage replayed:
                    events.Add($"{replayed.Persistent.SequenceNr}:{replayed.Persistent.Payload}");
                    break;
                case RecoverySuccess success:
                    return (events, success.HighestSequenceNr);
                case var other:
                    throw new InvalidOperationException($"the replay answered {other}");
            }
        }
    }

    [Fact]
    public Task Every_replay_answers_what_the_plugins_own_journal_answers() =>
        AssertReplaysAsThePluginAsync(Sys, () => ActorSystem.Create("restock", Db.Config(PluginJournal)));

    /// <summary>
    /// Stores histories through <paramref name="engine"/>'s journal, then asks it and the plugin's own journal (a system of
    /// <paramref name="startPlugin"/> on the same database) for the same replays.
    /// </summary>
    internal static async Task AssertReplaysAsThePluginAsync(ActorSystem engine, Func<ActorSystem> startPlugin)
    {
        Store(engine, "short", 8);
        Store(engine, "long", 130);
        // Replayed whole, longer than a shared replay reads (the plugin's way); in parts, read shared.
        Store(engine, "longer", 1_100);
        var probe = new Akka.TestKit.TestProbe(engine, new Akka.TestKit.Xunit2.XunitAssertions());
        Journal(engine).Tell(new DeleteMessagesTo("short", 2, probe.Ref));
        probe.ExpectMsg<DeleteMessagesSuccess>(FirstWrite);
        (long From, long To, long Max, string Id)[] replays =
        [
            (1, long.MaxValue, long.MaxValue, "short"), (4, long.MaxValue, long.MaxValue, "short"), (1, 5, long.MaxValue, "short"),
            (1, long.MaxValue, 3, "short"), (8, long.MaxValue, long.MaxValue, "short"), (9, long.MaxValue, long.MaxValue, "short"),
            (1, long.MaxValue, long.MaxValue, "long"), (40, long.MaxValue, long.MaxValue, "long"), (100, 120, long.MaxValue, "long"),
            (1, long.MaxValue, long.MaxValue, "longer"), (90, 1_050, long.MaxValue, "longer"), (101, 1_100, 950, "longer"),
            (1, long.MaxValue, long.MaxValue, "never-written"),
        ];

        var answers = replays.Select(r => Replay(engine, r.From, r.To, r.Max, r.Id)).ToList();

        var plugin = startPlugin();
        try
        {
            var expected = replays.Select(r => Replay(plugin, r.From, r.To, r.Max, r.Id)).ToList();
            for (var i = 0; i < replays.Length; i++)
            {
                Assert.Equal(expected[i].Highest, answers[i].Highest);
                Assert.Equal(expected[i].Events, answers[i].Events);
            }
        }
        finally
        {
            await plugin.Terminate();
        }
        Assert.Equal(["3:short-3", "4:short-4", "5:short-5"], answers[2].Events);
    }

    [Fact]
    public async Task A_replay_racing_the_entitys_writes_gets_every_event_up_to_the_highest_it_reports()
    {
        Store(Sys, "racing", 1);
        using var stop = new CancellationTokenSource();
        var writer = Task.Run(() =>
        {
            var probe = new Akka.TestKit.TestProbe(Sys, new Akka.TestKit.Xunit2.XunitAssertions());
            var next = 2L;
            while (!stop.IsCancellationRequested)
            {
                var writes = Enumerable.Range(0, 3)
                    .Select(i => new AtomicWrite(new Persistent($"racing-{next + i}", next + i, "racing", writerGuid: "writer-1")))
                    .ToList();
                Journal(Sys).Tell(new WriteMessages(writes, probe.Ref, 1));
                probe.ExpectMsg<WriteMessagesSuccessful>(FirstWrite);
                probe.ReceiveN(writes.Count, FirstWrite);
                next += writes.Count;
            }
        });

        var highestSeen = new List<long>();
        for (var replay = 0; replay < 30; replay++)
        {
            var (events, highest) = Replay(Sys, 1, long.MaxValue, long.MaxValue, "racing");
            Assert.Equal(Enumerable.Range(1, (int)highest).Select(i => $"{i}:racing-{i}"), events);
            highestSeen.Add(highest);
        }
        await stop.CancelAsync();
        await writer.Within("the writer to stop");
        Assert.True(highestSeen.Distinct().Count() > 1, "the replays ran while the entity wrote");
    }
}
