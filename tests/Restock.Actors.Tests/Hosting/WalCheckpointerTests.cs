using Akka.Actor;
using Akka.Persistence;
using Akka.Persistence.Query;
using Akka.Persistence.Sql.Query;
using Akka.Streams;
using Akka.Streams.Dsl;
using Microsoft.Data.Sqlite;
using Restock.Actors.Engine.Hosting;
using Restock.Actors.Engine.Ledger;
using Restock.Actors.Tests.Support;
using Xunit.Abstractions;

namespace Restock.Actors.Tests.Hosting;

/// <summary>
/// The engine checkpoints its SQLite file's WAL itself, off the writers' commits (SQLite's own checkpoint at commit is off
/// on the engine's write connections): the WAL must still be restarted while writes go on, and every acknowledged
/// event must still be read back from the checkpointed file.
/// </summary>
public sealed class WalCheckpointerTests(ITestOutputHelper output) : EngineTestKit(output)
{
    private static readonly TimeSpan FirstWrite = TimeSpan.FromSeconds(30);
    private const int RowBytes = 16 * 1024;

    /// <summary>0 when no WAL is left: another test clearing Microsoft.Data.Sqlite's pools closes the file's last connection.</summary>
    private long WalBytes => new FileInfo(Db.Path + "-wal") is { Exists: true } wal ? wal.Length : 0;

    private void PrepareWalFile(string table)
    {
        Db.Execute("PRAGMA journal_mode=WAL;");
        Db.Execute($"CREATE TABLE IF NOT EXISTS {table} (id INTEGER PRIMARY KEY, payload BLOB NOT NULL);");
    }

    /// <summary>One row of <see cref="RowBytes"/> in a write turn of its own, as the journal and snapshot store write.</summary>
    private Task WriteRow(string table, int id) => WriteRow(Db.ConnectionString, table, id);

    private static Task WriteRow(string connectionString, string table, int id) => SqliteWriter.RunAsync(connectionString, () =>
    {
        using var connection = SqliteWriter.OpenForWrite(connectionString);
        using var command = connection.CreateCommand();
        command.CommandText = $"INSERT INTO {table} (id, payload) VALUES ($id, $payload)";
        command.Parameters.AddWithValue("$id", id);
        command.Parameters.AddWithValue("$payload", new byte[RowBytes]);
        command.ExecuteNonQuery();
        return Task.CompletedTask;
    }, CancellationToken.None);

    [Fact]
    public async Task Writes_that_pause_between_bursts_keep_the_WAL_to_about_one_burst()
    {
        PrepareWalFile("bursts");
        const int bursts = 40, rowsPerBurst = 64; // 40 bursts of 1 MB
        for (var burst = 0; burst < bursts; burst++)
        {
            for (var row = 0; row < rowsPerBurst; row++) await WriteRow("bursts", burst * rowsPerBurst + row);
            await SqliteWriter.CheckpointsIdleAsync(Db.ConnectionString);
        }

        // Without a checkpoint the WAL would hold all 40 MB: SQLite's own is off on these connections.
        Assert.InRange(WalBytes, 0, 8L << 20);
        Assert.Equal(bursts * rowsPerBurst, Db.Count("SELECT count(*) FROM bursts"));
    }

    [Fact]
    public async Task Writes_that_never_pause_still_restart_the_WAL()
    {
        PrepareWalFile("steady");
        const int rows = 3_072; // 48 MB, written back to back
        for (var row = 0; row < rows; row++) await WriteRow("steady", row);
        await SqliteWriter.CheckpointsIdleAsync(Db.ConnectionString);

        // Without a restart the WAL holds at least all 48 MB; with one, how much it holds at the end depends on when the
        // last restart fell (a busy machine left 24.1 MB once): three quarters still tells the two apart.
        Assert.InRange(WalBytes, 0, (long)rows * RowBytes * 3 / 4);
        Assert.Equal(rows, Db.Count("SELECT count(*) FROM steady"));
    }

    [Fact]
    public async Task A_file_named_by_a_uri_which_the_engine_does_not_checkpoint_keeps_sqlites_own_checkpoint()
    {
        PrepareWalFile("uri");
        var uri = $"Data Source=file:{Db.Path}";
        const int rows = 3_072; // 48 MB, written back to back
        for (var row = 0; row < rows; row++) await WriteRow(uri, "uri", row);

        // SQLite's own checkpoint restarts the WAL at about 1,000 pages (4 MB); with it off, the WAL would hold all 48 MB.
        Assert.InRange(WalBytes, 0, 8L << 20);
        Assert.Equal(rows, Db.Count("SELECT count(*) FROM uri"));
    }

    /// <summary>
    /// The ledger writes in the writers' turn of the journal's file: a commit of its that copied a long WAL into the file
    /// (SQLite's own checkpoint, at 1,000 pages) and synced it would hold every journal write meanwhile. Written outside the
    /// turn, no checkpointer's pass follows: only the commit itself could copy the WAL.
    /// </summary>
    [Fact]
    public async Task A_ledger_commit_leaves_a_long_WAL_to_the_checkpointer()
    {
        PrepareWalFile("long_wal");
        await using var connection = await new LedgerStore(Db.ConnectionString, sqlite: true).OpenAsync(CancellationToken.None);
        var before = new FileInfo(Db.Path).Length;
        await using (var insert = connection.CreateCommand())
        {
            insert.CommandText = "INSERT INTO long_wal (id, payload) VALUES (1, zeroblob(5 * 1024 * 1024))"; // 1,280 pages
            await insert.ExecuteNonQueryAsync();
        }

        Assert.Equal(before, new FileInfo(Db.Path).Length);
        Assert.InRange(WalBytes, 5L << 20, long.MaxValue);
    }

    [Fact]
    public async Task A_checkpointed_journal_replays_every_acknowledged_event()
    {
        Db.Execute("PRAGMA journal_mode=WAL;");
        var journal = Persistence.Instance.Apply(Sys).JournalFor(null);
        var payload = new string('x', 8 * 1024);
        const int writes = 40, eventsPerWrite = 50; // 2,000 events, ~16 MB
        for (var w = 0; w < writes; w++)
        {
            var events = Enumerable.Range(1, eventsPerWrite)
                .Select(i => new AtomicWrite(new Persistent($"{w * eventsPerWrite + i}:{payload}", w * eventsPerWrite + i, "sku-big", writerGuid: "writer-1")))
                .ToArray();
            journal.Tell(new WriteMessages(events, TestActor, 1));
            ExpectMsg<WriteMessagesSuccessful>(FirstWrite);
            ReceiveN(eventsPerWrite, FirstWrite);
            await SqliteWriter.CheckpointsIdleAsync(Db.ConnectionString);
        }
        // 16 MB written, each write checkpointed before the next, which restarted the WAL: it never held more than two.
        Assert.InRange(WalBytes, 0, 2L << 20);
        SqliteConnection.ClearAllPools();

        Assert.Equal(["ok"], Db.Strings("PRAGMA integrity_check"));
        var replayed = await PersistenceQuery.Get(Sys).ReadJournalFor<SqlReadJournal>("akka.persistence.query.journal.sql")
            .CurrentEventsByPersistenceId("sku-big", 0, long.MaxValue).RunWith(Sink.Seq<EventEnvelope>(), Sys.Materializer());
        Assert.Equal(Enumerable.Range(1, writes * eventsPerWrite).Select(i => (long)i), replayed.Select(e => e.SequenceNr));
        Assert.All(replayed, e => Assert.Equal($"{e.SequenceNr}:{payload}", (string)e.Event));
    }
}
