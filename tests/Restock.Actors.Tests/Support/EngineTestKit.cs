using Akka.Actor;
using Akka.Persistence;
using Restock.Actors.Engine.Hosting;
using Xunit.Abstractions;

namespace Restock.Actors.Tests.Support;

/// <summary>Akka.TestKit on the shipped configuration, with a SQLite journal file of the test's own, prepared as the engine prepares it.</summary>
public abstract class EngineTestKit : Akka.TestKit.Xunit2.TestKit
{
    protected EngineTestKit(ITestOutputHelper output, params string[] overrides) : this(new TestDatabase(), output, overrides)
    {
    }

    private EngineTestKit(TestDatabase db, ITestOutputHelper output, string[] overrides) : base(db.PreparedConfig(overrides), "restock", output)
    {
        Db = db;
    }

    protected TestDatabase Db { get; }

    /// <summary>How long a journal answer may take: a store's first write creates its tables, slow on a busy machine.</summary>
    protected static readonly TimeSpan Generous = TimeSpan.FromSeconds(30);

    /// <summary>One event of <paramref name="persistenceId"/>, as an entity's write reaches the journal.</summary>
    protected static AtomicWrite JournalWrite(string persistenceId, object payload) =>
        new(new Persistent(payload, 1, persistenceId, writerGuid: "writer-1"));

    /// <summary>Sends <paramref name="writes"/> to the journal in one request; its answers come to the test actor.</summary>
    protected void WriteAll(params AtomicWrite[] writes) =>
        Persistence.Instance.Apply(Sys).JournalFor(null).Tell(new WriteMessages(writes, TestActor, 1));

    /// <summary>Writes one event of <paramref name="persistenceId"/> and expects the journal to answer that it is stored.</summary>
    protected void WriteStored(string persistenceId, object payload)
    {
        WriteAll(JournalWrite(persistenceId, payload));
        ExpectMsg<WriteMessagesSuccessful>(Generous);
        Assert.IsType<WriteMessageSuccess>(ReceiveOne(Generous));
    }

    /// <summary>Writes one event of <paramref name="persistenceId"/>, expects the journal to answer that it failed, and returns why.</summary>
    protected Exception WriteFails(string persistenceId, object payload)
    {
        WriteAll(JournalWrite(persistenceId, payload));
        ExpectMsg<WriteMessagesFailed>(Generous);
        return Assert.IsType<WriteMessageFailure>(ReceiveOne(Generous)).Cause;
    }

    /// <summary>
    /// Takes the engine's writer turn for the test's file, as a long ledger write holds it, until disposed:
    /// the engine's journal transactions wait for it before they wait for SQLite's write lock.
    /// </summary>
    protected IDisposable HoldWriterTurn()
    {
        var held = new TaskCompletionSource();
        var release = new TaskCompletionSource();
        _ = SqliteWriter.RunAsync(Db.ConnectionString, () =>
        {
            held.SetResult();
            return release.Task;
        }, CancellationToken.None);
        Assert.True(held.Task.Wait(TimeSpan.FromSeconds(30)), "the writer turn was not free within 30 s");
        return new Released(release);
    }

    private sealed class Released(TaskCompletionSource release) : IDisposable
    {
        public void Dispose() => release.TrySetResult();
    }

    protected override void AfterAll()
    {
        base.AfterAll();
        Db.Dispose();
    }
}
