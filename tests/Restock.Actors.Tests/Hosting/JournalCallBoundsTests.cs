using Akka.Actor;
using Akka.Pattern;
using Akka.Persistence;
using Microsoft.Data.Sqlite;
using Restock.Actors.Tests.Support;
using Xunit.Abstractions;

namespace Restock.Actors.Tests.Hosting;

/// <summary>
/// The journal's breaker has an infinite call-timeout (so that it makes no timer per entity write): its calls other
/// than writes are bounded by the journal itself, each failing cleanly instead of leaving its caller waiting for ever.
/// </summary>
public sealed class JournalCallBoundsTests(ITestOutputHelper output) : EngineTestKit(output,
    "akka.persistence.journal.sql.write-timeout = 1s",
    "akka.persistence.journal.sql.write-lock-wait = 500ms",
    "akka.persistence.journal.sql.recovery-event-timeout = 1s")
{
    private IActorRef Journal => Persistence.Instance.Apply(Sys).JournalFor(null);

    [Fact]
    public void A_recovery_whose_highest_sequence_number_waits_on_a_write_that_does_not_end_fails_after_the_recovery_event_timeout()
    {
        WriteStored("first", "before");

        using (HoldWriterTurn())
        {
            WriteFails("second", "while held");
            // The read of the highest sequence number waits for that write, which neither commits nor fails while the turn is held.
            Journal.Tell(new ReplayMessages(1, long.MaxValue, long.MaxValue, "second", TestActor));
            var failure = ExpectMsg<ReplayMessagesFailure>(Generous);
            Assert.Contains("recovery-event-timeout", Assert.IsType<TimeoutException>(failure.Cause).Message);
        }
    }

    [Fact]
    public void A_delete_held_up_by_the_write_lock_fails_after_the_write_timeout()
    {
        WriteStored("first", "before");

        using (var other = new SqliteConnection(Db.ConnectionString))
        {
            other.Open();
            using var transaction = other.BeginTransaction();
            Journal.Tell(new DeleteMessagesTo("first", 1, TestActor));
            var failure = ExpectMsg<DeleteMessagesFailure>(Generous);
            Assert.Contains("write-timeout", Assert.IsType<TimeoutException>(failure.Cause).Message);
            transaction.Commit();
        }

        // With the lock free, a delete is done.
        Journal.Tell(new DeleteMessagesTo("first", 1, TestActor));
        ExpectMsg<DeleteMessagesSuccess>(Generous);
        Journal.Tell(new ReplayMessages(1, long.MaxValue, long.MaxValue, "first", TestActor));
        ExpectMsg<RecoverySuccess>(Generous);
    }
}

/// <summary>
/// With an infinite call-timeout, Akka's breaker still counts failed calls: after max-failures of them in a row the
/// journal fails every write at once, without touching the database, and after reset-timeout it lets one through again.
/// The failures here are writes stalled behind a transaction that does not end, the case the breaker's timer once caught.
/// </summary>
public sealed class JournalCircuitBreakerTests(ITestOutputHelper output) : EngineTestKit(output,
    "akka.persistence.journal.sql.write-timeout = 1s",
    "akka.persistence.journal.sql.write-lock-wait = 500ms",
    "akka.persistence.journal.sql.circuit-breaker.max-failures = 3",
    "akka.persistence.journal.sql.circuit-breaker.reset-timeout = 2s")
{
    [Fact]
    public void After_max_failures_the_journal_refuses_writes_at_once_and_writes_again_after_the_reset_timeout()
    {
        WriteStored("first", "before");

        using (HoldWriterTurn())
        {
            Assert.IsType<TimeoutException>(WriteFails("stalled-1", "payload"));
            Assert.IsType<TimeoutException>(WriteFails("stalled-2", "payload"));
            Assert.IsType<TimeoutException>(WriteFails("stalled-3", "payload"));
        }

        // The database is free again, but the breaker is open: the write is refused without being tried.
        Assert.IsType<OpenCircuitException>(WriteFails("refused", "payload"));
        Assert.DoesNotContain("refused", Db.Strings("SELECT persistence_id FROM journal"));

        // After reset-timeout one write is let through, and it is stored.
        var stored = false;
        for (var deadline = DateTime.UtcNow + Generous; !stored && DateTime.UtcNow < deadline;)
        {
            WriteAll(JournalWrite("after", "payload"));
            var answer = ExpectMsg<object>(Generous);
            ReceiveN(1, Generous);
            stored = answer is WriteMessagesSuccessful;
            if (!stored) Thread.Sleep(200);
        }
        Assert.True(stored, "the breaker did not let a write through within 30 s");
        Assert.Contains("after", Db.Strings("SELECT persistence_id FROM journal"));
    }
}
