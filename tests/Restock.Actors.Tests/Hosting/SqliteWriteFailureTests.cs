using System.Diagnostics.Metrics;
using Akka.Actor;
using Akka.Persistence;
using Microsoft.Data.Sqlite;
using Restock.Actors.Engine.Hosting;
using Restock.Actors.Tests.Support;
using Xunit.Abstractions;

namespace Restock.Actors.Tests.Hosting;

/// <summary>
/// The journal's raw transaction on a pooled connection: whatever fails once SQLite's write lock is taken, the
/// transaction ends there. A connection going back to Microsoft.Data.Sqlite's pool inside it would keep the file's one
/// write lock: every later write of the engine and the ledger would wait for it and fail.
/// </summary>
[Collection(ProcessWideListenerCollection.Name)]
public sealed class SqliteWriteFailureTests(ITestOutputHelper output) : EngineTestKit(output)
{
    [Fact]
    public void A_write_failing_after_it_took_the_write_lock_gives_the_lock_back_and_later_writes_are_stored()
    {
        WriteStored("first", "before");

        // Something failing between the lock and the insert: here the meter of the time waited for the lock, once.
        var failOnce = 1;
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == RestockMetrics.MeterName && instrument.Name == "restock.journal.lock_wait") l.EnableMeasurementEvents(instrument);
        };
        listener.SetMeasurementEventCallback<double>((_, _, _, _) =>
        {
            if (Interlocked.Exchange(ref failOnce, 0) == 1) throw new InvalidOperationException("a meter failed");
        });
        listener.Start();

        // Another writer holds the lock, so the journal's write waits for it and then meters the wait.
        using (var other = new SqliteConnection(Db.ConnectionString + ";Pooling=False"))
        {
            other.Open();
            using var transaction = other.BeginTransaction();
            WriteAll(JournalWrite("second", "failing"));
            ExpectNoMsg(TimeSpan.FromSeconds(1));
            transaction.Commit();
        }
        ExpectMsg<WriteMessagesFailed>(Generous);
        ReceiveN(1);
        Assert.Equal(0, Volatile.Read(ref failOnce));

        // The lock is free: another connection takes it at once, and the journal's next write is stored.
        using (var other = new SqliteConnection(Db.ConnectionString + ";Pooling=False;Default Timeout=2"))
        {
            other.Open();
            using var transaction = other.BeginTransaction();
            transaction.Commit();
        }
        WriteStored("third", "after");
        Assert.Equal(["first", "third"], Db.Strings("SELECT persistence_id FROM journal ORDER BY ordering"));
    }
}

/// <summary>Tests whose listener or setting acts on the whole process: they run alone, after the parallel ones.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ProcessWideListenerCollection
{
    public const string Name = "process-wide listener";
}
