using System.Collections.Immutable;
using System.Diagnostics.Metrics;
using Akka.Actor;
using Akka.Persistence;
using Akka.Persistence.Journal;
using Akka.Persistence.Query;
using Akka.Persistence.Sql.Query;
using Akka.Streams;
using Akka.Streams.Dsl;
using Microsoft.Data.Sqlite;
using Restock.Actors.Engine.Hosting;
using Restock.Actors.Tests.Support;
using Xunit.Abstractions;

namespace Restock.Actors.Tests.Hosting;

/// <summary>
/// On SQLite the engine inserts the journal's rows itself (one prepared statement per transaction): they must be the
/// rows Akka.Persistence.Sql writes, readable by its replays and tag queries, and a write that cannot be serialized
/// must be refused alone.
/// </summary>
public sealed class SqliteJournalWritesTests(ITestOutputHelper output) : EngineTestKit(output)
{
    // A journal's first write creates its tables: on a busy machine that can take longer than TestKit's 3 s default.
    private static readonly TimeSpan FirstWrite = TimeSpan.FromSeconds(30);

    private const string PluginJournal = "akka.persistence.journal.sql.class = \"Akka.Persistence.Sql.Journal.SqlWriteJournal, Akka.Persistence.Sql\"";

    private sealed class Unserializable
    {
        public int Value => throw new InvalidOperationException("this event cannot be serialized");
    }

    private static AtomicWrite Write(string persistenceId, long sequenceNr, object payload) =>
        new(new Persistent(payload, sequenceNr, persistenceId, writerGuid: "writer-1"));

    private static void WriteAll(ActorSystem system, IActorRef replyTo, params AtomicWrite[] writes) =>
        Persistence.Instance.Apply(system).JournalFor(null).Tell(new WriteMessages(writes, replyTo, 1));

    [Fact]
    public void A_write_that_cannot_be_serialized_is_refused_and_the_writes_sharing_its_transaction_are_stored()
    {
        WriteAll(Sys, TestActor,
            Write("good-1", 1, "first"),
            Write("bad", 1, new Unserializable()),
            Write("good-2", 1, new Tagged("second", ["restock"])));

        ExpectMsg<WriteMessagesSuccessful>(FirstWrite);
        var answers = ReceiveN(3).ToList();
        Assert.IsType<WriteMessageSuccess>(answers[0]);
        var refused = Assert.IsType<WriteMessageRejected>(answers[1]);
        Assert.Equal("bad", refused.Persistent.PersistenceId);
        Assert.IsType<WriteMessageSuccess>(answers[2]);

        Assert.Equal(["good-1", "good-2"], Db.Strings("SELECT persistence_id FROM journal ORDER BY ordering"));
    }

    [Fact]
    public async Task Rows_written_here_equal_the_plugins_and_its_replays_and_tag_queries_read_them()
    {
        var events = new[] { Write("sku-a", 1, "untagged"), Write("sku-a", 2, new Tagged("tagged", ["restock", "other"])), Write("sku-b", 1, 42L) };
        WriteAll(Sys, TestActor, events);
        ExpectMsg<WriteMessagesSuccessful>(FirstWrite);
        ReceiveN(3);

        using var pluginDb = new TestDatabase();
        var plugin = ActorSystem.Create("restock", pluginDb.Config(PluginJournal));
        try
        {
            var probe = CreateTestProbe(plugin);
            WriteAll(plugin, probe.Ref, events);
            probe.ExpectMsg<WriteMessagesSuccessful>(FirstWrite);
            probe.ReceiveN(3);
        }
        finally
        {
            await plugin.Terminate();
        }
        const string rows = "SELECT persistence_id || '|' || sequence_number || '|' || deleted || '|' || hex(message) || '|' || tags || '|' || " +
                            "manifest || '|' || identifier FROM journal ORDER BY ordering";
        Assert.Equal(pluginDb.Strings(rows), Db.Strings(rows));

        // The plugin's own readers: a replay (the engine reads short ones itself, so ask the plugin's class directly)
        // and the tag query the ledger follows.
        var materializer = Sys.Materializer();
        var journal = PersistenceQuery.Get(Sys).ReadJournalFor<SqlReadJournal>("akka.persistence.query.journal.sql");
        var replayed = await journal.CurrentEventsByPersistenceId("sku-a", 0, long.MaxValue).RunWith(Sink.Seq<EventEnvelope>(), materializer);
        Assert.Equal(["untagged", "tagged"], replayed.Select(e => e.Event));
        var tagged = await journal.CurrentEventsByTag("restock", Offset.NoOffset()).RunWith(Sink.Seq<EventEnvelope>(), materializer);
        Assert.Equal(("sku-a", 2L, "tagged"), tagged.Select(e => (e.PersistenceId, e.SequenceNr, (string)e.Event)).Single());
        Assert.Equal(ImmutableHashSet.Create("restock", "other"), tagged.Single().Tags.ToImmutableHashSet());
    }

    [Fact]
    public void A_write_waits_while_another_writer_holds_SQLites_lock_then_is_stored_and_the_wait_is_counted()
    {
        WriteAll(Sys, TestActor, Write("first", 1, "before"));
        ExpectMsg<WriteMessagesSuccessful>(FirstWrite);
        ReceiveN(1);
        var waits = 0L;
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == RestockMetrics.MeterName && instrument.Name == "restock.journal.lock_wait") l.EnableMeasurementEvents(instrument);
        };
        listener.SetMeasurementEventCallback<double>((_, _, _, _) => Interlocked.Increment(ref waits));
        listener.Start();

        // Another writer (as the ledger's projection) holds the write lock: the journal's write waits for it, unanswered.
        using (var other = new SqliteConnection(Db.ConnectionString))
        {
            other.Open();
            using var transaction = other.BeginTransaction();
            WriteAll(Sys, TestActor, Write("second", 1, "while locked"));
            ExpectNoMsg(TimeSpan.FromMilliseconds(300));
            transaction.Commit();
        }

        ExpectMsg<WriteMessagesSuccessful>(FirstWrite);
        Assert.IsType<WriteMessageSuccess>(ReceiveOne());
        Assert.Equal(["first", "second"], Db.Strings("SELECT persistence_id FROM journal ORDER BY ordering"));
        Assert.True(Interlocked.Read(ref waits) >= 1, "the wait for the lock is counted");
    }

    [Fact]
    public async Task A_write_waits_while_another_write_of_the_engine_holds_the_files_turn_then_is_stored_and_the_wait_is_counted()
    {
        WriteAll(Sys, TestActor, Write("first", 1, "before"));
        ExpectMsg<WriteMessagesSuccessful>(FirstWrite);
        ReceiveN(1);
        var waits = new List<double>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == RestockMetrics.MeterName && instrument.Name == "restock.journal.turn_wait") l.EnableMeasurementEvents(instrument);
        };
        listener.SetMeasurementEventCallback<double>((_, value, _, _) =>
        {
            lock (waits) waits.Add(value);
        });
        listener.Start();

        // Another write of the engine's to the same file (the ledger's, a WAL restart) holds the turn: the journal's
        // write waits for it, unanswered, and counts the wait once it has the turn.
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var holding = SqliteWriter.RunAsync(Db.ConnectionString, () => release.Task, CancellationToken.None);
        WriteAll(Sys, TestActor, Write("second", 1, "while the turn is held"));
        ExpectNoMsg(TimeSpan.FromMilliseconds(600));
        release.SetResult();
        await holding.WaitAsync(FirstWrite);

        ExpectMsg<WriteMessagesSuccessful>(FirstWrite);
        Assert.IsType<WriteMessageSuccess>(ReceiveOne());
        Assert.Equal(["first", "second"], Db.Strings("SELECT persistence_id FROM journal ORDER BY ordering"));
        // The meter is the process's: tests running beside this one may add their own waits, never this one's length.
        // The turn was held 600 ms; up to 400 ms of it may pass before the journal's write asks for it on a loaded machine.
        lock (waits) Assert.True(waits.Any(w => w >= 200), $"the wait for the turn is counted: {string.Join(", ", waits)}");
    }
}
