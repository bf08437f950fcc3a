using Microsoft.Data.Sqlite;
using Restock.Actors.Engine.Hosting;
using Restock.Actors.Tests.Support;
using SQLitePCL;

namespace Restock.Actors.Tests.Hosting;

/// <summary>
/// A failed write of the engine's ends its transaction before its connection goes back to Microsoft.Data.Sqlite's pool;
/// if even the rollback fails, that connection must not go back holding SQLite's one write lock.
/// </summary>
public sealed class SqliteFailedWriteTests
{
    private const int SqliteTransaction = 22;

    [Fact]
    public void A_write_whose_rollback_fails_does_not_leave_the_write_lock_held_by_a_pooled_connection()
    {
        using var db = new TestDatabase();
        db.Execute("CREATE TABLE t (x INTEGER)");
        using (var connection = new SqliteConnection(db.ConnectionString))
        {
            connection.Open();
            var handle = connection.Handle!;
            SqliteJournalWrites.BeginWrite(handle, TimeSpan.FromSeconds(5));
            Assert.Equal(raw.SQLITE_OK, raw.sqlite3_exec(handle, "INSERT INTO t VALUES (1)"));
            // ROLLBACK refused, as a failing rollback would be.
            raw.sqlite3_set_authorizer(handle, (_, action, what, _, _, _) =>
                action == SqliteTransaction && what.utf8_to_string() == "ROLLBACK" ? raw.SQLITE_DENY : raw.SQLITE_OK, null);

            SqliteJournalWrites.EndFailedWrite(connection);
        }

        using var other = new SqliteConnection(db.ConnectionString + ";Pooling=False");
        other.Open();
        raw.sqlite3_busy_timeout(other.Handle!, 0);
        Assert.Equal(raw.SQLITE_OK, raw.sqlite3_exec(other.Handle!, "BEGIN IMMEDIATE"));
        Assert.Equal(0L, Convert.ToInt64(new SqliteCommand("SELECT count(*) FROM t", other).ExecuteScalar()));
        raw.sqlite3_exec(other.Handle!, "ROLLBACK");
    }
}
