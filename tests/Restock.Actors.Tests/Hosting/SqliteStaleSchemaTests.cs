using Microsoft.Data.Sqlite;
using Restock.Actors.Engine.Hosting;
using Restock.Actors.Tests.Support;

namespace Restock.Actors.Tests.Hosting;

/// <summary>
/// The persistence plugins create their tables as they start, after other connections to the file may already be
/// pooled with the schema they read before. A pooled connection that finds no such table re-reads the schema first,
/// and that read needs SQLite's shared lock: in the rollback journal, another connection's commit holds it off, and
/// the query fails with "no such table: snapshot" (a SKU's snapshot load then failed its recovery, and the SKU died
/// without answering, when the snapshots shared the journal's file; in a file of their own the same holds for the
/// snapshot store's connections). In WAL, which the engine turns on for both files before either plugin opens, readers
/// never wait for the writer.
/// </summary>
public sealed class SqliteStaleSchemaTests
{
    [Fact]
    public void On_the_engines_file_a_connection_pooled_before_the_snapshot_table_existed_reads_it_while_another_commits()
    {
        using var db = new TestDatabase();
        db.PreparedConfig();
        // Unpooled: the pool must keep the one connection that read the schema before the snapshot table.
        var unpooled = new SqliteConnectionStringBuilder(db.ConnectionString) { Pooling = false }.ToString();
        Run(unpooled, "CREATE TABLE journal (ordering INTEGER)");
        using (var early = new SqliteConnection(db.ConnectionString))
        {
            early.Open();
            Query(early, "SELECT count(*) FROM journal");
        }
        Run(unpooled, "CREATE TABLE snapshot (persistence_id TEXT)", "INSERT INTO snapshot VALUES ('sku-mug')");

        using var writer = new SqliteConnection(unpooled);
        writer.Open();
        Run(writer, "BEGIN EXCLUSIVE", "INSERT INTO journal VALUES (1)");
        using var pooled = new SqliteConnection(db.ConnectionString);
        pooled.Open();
        Assert.Equal(1L, Query(pooled, "SELECT count(*) FROM snapshot"));
        Run(writer, "COMMIT");
    }

    private static void Run(string connectionString, params string[] statements)
    {
        using var connection = new SqliteConnection(connectionString);
        connection.Open();
        Run(connection, statements);
    }

    private static void Run(SqliteConnection connection, params string[] statements)
    {
        foreach (var sql in statements)
        {
            using var command = connection.CreateCommand();
            command.CommandText = sql;
            command.ExecuteNonQuery();
        }
    }

    private static object? Query(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return command.ExecuteScalar();
    }
}
