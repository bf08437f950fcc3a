using Akka.Actor;
using Akka.Persistence;
using Restock.Actors.Tests.Support;
using Xunit.Abstractions;

namespace Restock.Actors.Tests.Hosting;

/// <summary>
/// Akka's breaker no longer times each entity's write (its call-timeout is infinite): a transaction that does not end
/// must still fail its writers after the journal's write-timeout, and the journal must go on writing afterwards. Here the
/// transaction waits for the engine's writer turn, held by the test (as a stalled ledger write or disk would hold it),
/// before it ever waits for SQLite's write lock: only the transaction's deadline can answer.
/// </summary>
public sealed class JournalWriteTimeoutTests(ITestOutputHelper output) : EngineTestKit(output,
    "akka.persistence.journal.sql.write-timeout = 1s",
    "akka.persistence.journal.sql.write-lock-wait = 500ms")
{
    [Fact]
    public void A_journal_write_that_does_not_end_fails_its_callers_and_later_writes_are_stored()
    {
        WriteStored("first", "before");

        using (HoldWriterTurn())
        {
            WriteAll(JournalWrite("second", "while held"), JournalWrite("third", "while held"));
            // The turn is still held: only the deadline can have answered, and it answers every write in the transaction.
            ExpectMsg<WriteMessagesFailed>(Generous);
            var failures = ReceiveN(2, Generous);
            Assert.All(failures, f => Assert.IsType<TimeoutException>(Assert.IsType<WriteMessageFailure>(f).Cause));
        }

        WriteStored("fourth", "after");
        Assert.Contains("fourth", Db.Strings("SELECT persistence_id FROM journal ORDER BY ordering"));
    }

    [Fact]
    public void Writes_waiting_behind_a_transaction_that_does_not_end_fail_at_their_own_deadline()
    {
        WriteStored("first", "before");

        using (HoldWriterTurn())
        {
            WriteFails("second", "while held");
            // The transaction of "second" is still in flight (SQLite's journal takes one at a time): these wait for its end.
            Assert.IsType<TimeoutException>(WriteFails("third", "behind it"));
            Assert.IsType<TimeoutException>(WriteFails("fourth", "behind it"));
        }

        WriteStored("fifth", "after");
        // Failed while waiting, "third" and "fourth" were never written; "second" was in a transaction, which committed late.
        Assert.Equal(["first", "second", "fifth"], Db.Strings("SELECT persistence_id FROM journal ORDER BY ordering"));
    }

    [Fact]
    public void A_recovery_waits_for_a_timed_out_write_that_may_still_commit()
    {
        WriteStored("first", "before");

        using (HoldWriterTurn())
        {
            WriteFails("second", "while held");
            // The entity told its write failed recovers: the write is still waiting for its turn, and may yet commit.
            Persistence.Instance.Apply(Sys).JournalFor(null).Tell(new ReplayMessages(1, long.MaxValue, long.MaxValue, "second", TestActor));
            // Time for a journal that did not wait to answer (it would find no row: the write has not committed).
            ExpectNoMsg(TimeSpan.FromMilliseconds(500));
        }

        // The recovery answered once the write had ended, so it replays what that write stored.
        Assert.Equal(1, ExpectMsg<ReplayedMessage>(Generous).Persistent.SequenceNr);
        Assert.Equal(1, ExpectMsg<RecoverySuccess>(Generous).HighestSequenceNr);
    }
}
