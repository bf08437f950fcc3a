using Akka.Actor;
using Akka.Persistence;
using Microsoft.Data.Sqlite;
using Restock.Actors.Tests.Support;
using Xunit.Abstractions;

namespace Restock.Actors.Tests.Hosting;

/// <summary>
/// A journal write fails its callers after the journal's write-timeout (Akka's circuit breaker does the same for a
/// snapshot save after its call-timeout): the engine's own SQLite writes must give up on the write lock before that, or a
/// write the entity was told had failed could still be stored once the lock is free.
/// </summary>
public sealed class SqliteWriteLockTimeoutTests(ITestOutputHelper output) : EngineTestKit(output,
    "akka.persistence.journal.sql.write-timeout = 2s",
    "akka.persistence.journal.sql.write-lock-wait = 1s",
    "akka.persistence.snapshot-store.sql.circuit-breaker.call-timeout = 2s")
{
    // Longer than the timeouts above.
    private static readonly TimeSpan LockHeld = TimeSpan.FromSeconds(4);

    private void Save(string persistenceId, string snapshot) =>
        Persistence.Instance.Apply(Sys).SnapshotStoreFor(null).Tell(new SaveSnapshot(new SnapshotMetadata(persistenceId, 1, DateTime.UtcNow), snapshot), TestActor);

    [Fact]
    public void A_journal_write_that_timed_out_while_another_writer_holds_the_lock_fails_its_callers_and_is_never_stored()
    {
        WriteStored("first", "before");

        using (var other = new SqliteConnection(Db.ConnectionString))
        {
            other.Open();
            using var transaction = other.BeginTransaction();
            WriteFails("second", "while locked");
            Thread.Sleep(LockHeld);
            transaction.Commit();
        }

        // The engine's writes to a file take turns: once a later write is stored, the failed one is over.
        WriteStored("third", "after");
        Assert.Equal(["first", "third"], Db.Strings("SELECT persistence_id FROM journal ORDER BY ordering"));
    }

    [Fact]
    public void A_snapshot_save_timed_out_by_the_breaker_while_another_writer_holds_the_lock_is_never_stored()
    {
        Save("first", "before");
        ExpectMsg<SaveSnapshotSuccess>(Generous);

        using (var other = new SqliteConnection(Db.Snapshots.ConnectionString))
        {
            other.Open();
            using var transaction = other.BeginTransaction();
            Save("second", "while locked");
            Thread.Sleep(LockHeld);
            transaction.Commit();
        }
        // Akka deletes a failed save's snapshot before answering, and that delete takes the write lock too.
        ExpectMsg<SaveSnapshotFailure>(Generous);

        Save("third", "after");
        ExpectMsg<SaveSnapshotSuccess>(Generous);
        Assert.Equal(["first", "third"], Db.Snapshots.Strings("SELECT persistence_id FROM snapshot ORDER BY persistence_id"));
    }
}
