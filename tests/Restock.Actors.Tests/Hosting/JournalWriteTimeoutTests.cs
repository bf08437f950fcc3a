using Akka.Actor;
using Akka.Persistence;
using Microsoft.Data.Sqlite;
using Restock.Actors.Tests.Support;
using Xunit.Abstractions;

namespace Restock.Actors.Tests.Hosting;

/// <summary>
/// Akka's breaker no longer times each entity's write (its call-timeout is infinite): a transaction that does not end
/// must still fail its writers after the journal's write-timeout, and the journal must go on writing afterwards. Here the
/// write lock wait is longer than the write-timeout, so only the transaction's deadline can answer.
/// </summary>
public sealed class JournalWriteTimeoutTests(ITestOutputHelper output) : EngineTestKit(output,
    "akka.persistence.journal.sql.write-timeout = 1s",
    "akka.persistence.journal.sql.write-lock-wait = 60s")
{
    // A store's first write creates its tables: on a busy machine that can take longer than TestKit's 3 s default.
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(30);

    [Fact]
    public void A_journal_write_that_does_not_end_fails_its_callers_and_later_writes_are_stored()
    {
        WriteAll(JournalWrite("first", "before"));
        ExpectMsg<WriteMessagesSuccessful>(Generous);
        ReceiveN(1);

        using (var other = new SqliteConnection(Db.ConnectionString))
        {
            other.Open();
            using var transaction = other.BeginTransaction();
            WriteAll(JournalWrite("second", "while locked"), JournalWrite("third", "while locked"));
            // The lock is still held: only the deadline can have answered, and it answers every write in the transaction.
            ExpectMsg<WriteMessagesFailed>(Generous);
            var failures = ReceiveN(2, Generous);
            Assert.All(failures, f => Assert.IsType<TimeoutException>(Assert.IsType<WriteMessageFailure>(f).Cause));
            transaction.Commit();
        }

        WriteAll(JournalWrite("fourth", "after"));
        ExpectMsg<WriteMessagesSuccessful>(Generous);
        ReceiveN(1);
        Assert.Contains("fourth", Db.Strings("SELECT persistence_id FROM journal ORDER BY ordering"));
    }

    [Fact]
    public void A_recovery_waits_for_a_timed_out_write_that_may_still_commit()
    {
        WriteAll(JournalWrite("first", "before"));
        ExpectMsg<WriteMessagesSuccessful>(Generous);
        ReceiveN(1);

        using (var other = new SqliteConnection(Db.ConnectionString))
        {
            other.Open();
            using var transaction = other.BeginTransaction();
            WriteAll(JournalWrite("second", "while locked"));
            ExpectMsg<WriteMessagesFailed>(Generous);
            ReceiveN(1, Generous);
            // The entity told its write failed recovers: the write is still waiting for the lock, and may yet commit.
            Persistence.Instance.Apply(Sys).JournalFor(null).Tell(new ReplayMessages(1, long.MaxValue, long.MaxValue, "second", TestActor));
            // Time for a journal that did not wait to answer (it would find no row: the write has not committed).
            ExpectNoMsg(TimeSpan.FromMilliseconds(500));
            transaction.Commit();
        }

        // The recovery answered once the write had ended, so it replays what that write stored.
        Assert.Equal(1, ExpectMsg<ReplayedMessage>(Generous).Persistent.SequenceNr);
        Assert.Equal(1, ExpectMsg<RecoverySuccess>(Generous).HighestSequenceNr);
    }
}
