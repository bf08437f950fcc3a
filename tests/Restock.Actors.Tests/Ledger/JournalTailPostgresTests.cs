using Npgsql;
using Restock.Actors.Domain.Inventory;
using Restock.Actors.Engine.Hosting;
using Restock.Actors.Engine.Ledger;
using Restock.Actors.Tests.Support;
namespace Restock.Actors.Tests.Ledger;

/// <summary>
/// On PostgreSQL a journal row can commit after a row with a higher ordering: the ledger's tail must wait for it, whatever
/// the rows above it say about when they were written. Their <c>created</c> time is the writing node's clock, taken before
/// the INSERT: a node whose clock is behind, or a write that waited (a lock, a stalled server) longer than the gap window,
/// commits a row that looks old at once while a write below it is still in flight. Needs a server (<c>.ci/postgres</c>,
/// RESTOCK_TEST_POSTGRES).
/// </summary>
public sealed class JournalTailPostgresTests : PostgresTest
{
    [SkippableFact]
    public async Task A_write_still_in_flight_is_waited_for_under_a_committed_row_whose_created_time_is_old()
    {
        SkipWithoutServer();
        var connectionString = Database.ConnectionString;
        await using var engine = await StartEngineAsync(connectionString);
        await engine.Inventory.Execute("pg-mug", new SetStock("a1", 5, "delivery"));

        await using var inFlight = new NpgsqlConnection(connectionString);
        await inFlight.OpenAsync();
        await using var transaction = await inFlight.BeginTransactionAsync();
        // Takes its ordering now and commits later.
        var missing = await CopyLastRow(inFlight, transaction, sequenceOffset: 1_000, writtenAgo: TimeSpan.Zero);
        long above;
        await using (var other = new NpgsqlConnection(connectionString))
        {
            await other.OpenAsync();
            // Committed above it, written (by its node's clock) two minutes ago.
            above = await CopyLastRow(other, null, sequenceOffset: 2_000, writtenAgo: TimeSpan.FromMinutes(2));
        }
        Assert.True(above > missing);

        await using var tail = new JournalTail(engine.System.Settings.Config.GetConfig("akka.persistence.journal.sql"), engine.System.Serialization,
            TimeSpan.FromSeconds(20), 0, new TestClock(DateTimeOffset.UtcNow));
        await tail.AdvanceAsync(CancellationToken.None);
        Assert.Equal(missing - 1, tail.CompleteUpTo);

        await transaction.CommitAsync();
        await tail.AdvanceAsync(CancellationToken.None);
        Assert.True(tail.CompleteUpTo >= above);
    }

    /// <summary>
    /// A write that rolled back leaves its ordering missing for good. A tail started later (a restarted projection) needs
    /// not wait the gap window for it: no writer of the journal is in flight, so nothing can fill it. The gap window never
    /// passes on the test's clock.
    /// </summary>
    [SkippableFact]
    public async Task An_old_gap_left_by_a_rolled_back_write_is_skipped_at_once_by_a_new_tail()
    {
        SkipWithoutServer();
        var connectionString = Database.ConnectionString;
        await using var engine = await StartEngineAsync(connectionString);
        await engine.Inventory.Execute("pg-mug", new SetStock("a1", 5, "delivery"));

        long missing;
        await using (var rolledBack = new NpgsqlConnection(connectionString))
        {
            await rolledBack.OpenAsync();
            await using var transaction = await rolledBack.BeginTransactionAsync();
            missing = await CopyLastRow(rolledBack, transaction, sequenceOffset: 1_000, writtenAgo: TimeSpan.Zero);
            await transaction.RollbackAsync();
        }
        long above;
        await using (var other = new NpgsqlConnection(connectionString))
        {
            await other.OpenAsync();
            above = await CopyLastRow(other, null, sequenceOffset: 2_000, writtenAgo: TimeSpan.Zero);
        }
        Assert.True(above > missing);

        await using var tail = new JournalTail(engine.System.Settings.Config.GetConfig("akka.persistence.journal.sql"), engine.System.Serialization,
            TimeSpan.FromSeconds(20), 0, new TestClock(DateTimeOffset.UtcNow));
        // A journal write of the engine's own (sharding's bookkeeping) may be in flight at first: it ends at once.
        for (var i = 0; i < 50 && tail.CompleteUpTo < above; i++)
        {
            await tail.AdvanceAsync(CancellationToken.None);
            if (tail.CompleteUpTo < above) await Task.Delay(100);
        }
        Assert.True(tail.CompleteUpTo >= above);
    }

    private static Task<RestockEngine> StartEngineAsync(string connectionString) =>
        RestockEngine.StartAsync(RestockConfig.Load(name => name switch
        {
            "RESTOCK_JOURNAL" => "postgresql",
            "RESTOCK_CONNECTION_STRING" => connectionString,
            "RESTOCK_SINGLE_NODE" => "on",
            _ => null,
        }, ["restock.ledger.projection = off", "restock.ledger.reconcile-every = 0s"])).Within("the engine to start");

    /// <summary>A copy of the journal's last row under another sequence number; its ordering.</summary>
    private static async Task<long> CopyLastRow(NpgsqlConnection connection, NpgsqlTransaction? transaction, long sequenceOffset, TimeSpan writtenAgo)
    {
        await using var command = new NpgsqlCommand(
            """
            INSERT INTO journal (persistence_id, sequence_number, deleted, tags, message, manifest, identifier, writer_uuid, created)
            SELECT persistence_id, sequence_number + @offset, deleted, tags, message, manifest, identifier, writer_uuid, created - @ago
            FROM journal WHERE ordering = (SELECT MAX(ordering) FROM journal WHERE sequence_number < 1000)
            RETURNING ordering
            """, connection, transaction);
        command.Parameters.AddWithValue("offset", sequenceOffset);
        command.Parameters.AddWithValue("ago", writtenAgo.Ticks);
        return (long)(await command.ExecuteScalarAsync())!;
    }
}
