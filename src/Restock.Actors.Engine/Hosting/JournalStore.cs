using Akka.Configuration;
using Akka.Persistence.Sql.Config;
using Microsoft.Data.Sqlite;

namespace Restock.Actors.Engine.Hosting;

/// <summary>Prepares the journal's database (and on SQLite the snapshot store's file) before the first write.</summary>
internal static class JournalStore
{
    /// <summary>The PostgreSQL advisory lock key that makes nodes create their tables one at a time.</summary>
    public const long SchemaLock = 0x5245_5354_4F43_4B;

    public const string JournalConnectionString = "akka.persistence.journal.sql.connection-string";
    public const string SnapshotConnectionString = "akka.persistence.snapshot-store.sql.connection-string";

    public static bool IsSqlite(Config config) =>
        config.GetString("akka.persistence.journal.sql.provider-name", "").StartsWith("SQLite", StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// The snapshot store's connection string when it is not set on its own. On SQLite a file of its own beside the
    /// journal's (<c>restock.db</c> → <c>restock.snapshots.db</c>, the other settings kept): SQLite has one writer per file,
    /// so in one file every snapshot insert and delete (~0.46 MB each for a large SKU) held every journal write, and its
    /// bytes made the WAL restart more often (PERFORMANCE-LOG "Goal 3, session 16"). An in-memory database or a
    /// <c>file:</c> URI keeps the journal's, as before: neither names a file to put another beside. Elsewhere (PostgreSQL)
    /// the journal's database.
    /// </summary>
    public static string SnapshotConnectionStringFor(Config config)
    {
        var journal = config.GetString(JournalConnectionString, "");
        if (!IsSqlite(config)) return journal;
        var builder = new SqliteConnectionStringBuilder(journal);
        if (FileOf(builder) is null) return journal;
        var path = builder.DataSource;
        builder.DataSource = Path.Combine(Path.GetDirectoryName(path) ?? "",
            Path.GetFileNameWithoutExtension(path) + ".snapshots" + Path.GetExtension(path));
        return builder.ToString();
    }

    /// <summary>The file a SQLite connection string opens, as a full path; null for an in-memory database or a <c>file:</c> URI.</summary>
    public static string? FileOf(SqliteConnectionStringBuilder builder) =>
        builder.Mode == SqliteOpenMode.Memory || builder.DataSource is "" or ":memory:" || builder.DataSource.StartsWith("file:", StringComparison.Ordinal)
            ? null
            : Path.GetFullPath(builder.DataSource);

    /// <summary>
    /// SQLite: creates the files' folders and switches each file to WAL once (the file keeps the mode). WAL lets
    /// readers and the writer work at once; synchronous stays at SQLite's default FULL, so commits are durable. Then
    /// moves the snapshots an earlier layout kept in the journal's file into the snapshot store's own.
    /// </summary>
    public static void Prepare(Config config)
    {
        if (!IsSqlite(config)) return;
        var journal = PrepareFile(config.GetString(JournalConnectionString));
        var snapshotConnectionString = config.GetString(SnapshotConnectionString);
        var snapshots = PrepareFile(snapshotConnectionString);
        if (journal is not null && snapshots is not null && journal != snapshots)
        {
            // SQLite has no schemas: the table's name is all.
            var table = new SnapshotConfig(config.GetConfig("akka.persistence.snapshot-store.sql")).TableConfig.SnapshotTable.Name;
            MoveSnapshots(journal, snapshotConnectionString, table);
        }
    }

    /// <returns>The file's full path; null when it is not a file.</returns>
    private static string? PrepareFile(string connectionString)
    {
        var builder = new SqliteConnectionStringBuilder(connectionString);
        if (FileOf(builder) is not { } file) return null;
        var folder = Path.GetDirectoryName(file);
        if (!string.IsNullOrEmpty(folder)) System.IO.Directory.CreateDirectory(folder);
        using var connection = new SqliteConnection(builder.ToString());
        connection.Open();
        Execute(connection, "PRAGMA journal_mode=WAL;");
        return file;
    }

    /// <summary>
    /// A database written while snapshots shared the journal's file holds them in that file's snapshot table. Before any
    /// entity runs they are copied into the snapshot store's file (rows already there kept), committed, then deleted from
    /// the journal's file: SQLite commits each file on its own, so a crash between the two leaves them in both, and the
    /// next start repeats both harmlessly; nothing is ever in neither. Moved rather than read through to the old table on
    /// a miss: reads (heads, parts, pieces, "has a snapshot?", the stored ids) and deletes would all need both files for as
    /// long as an old row may remain, i.e. for every SKU that never snapshots again.
    /// </summary>
    private static void MoveSnapshots(string journalFile, string snapshotConnectionString, string name)
    {
        // Not pooled: a pooled connection would keep the other file attached for whoever takes it next.
        using var snapshots = new SqliteConnection(new SqliteConnectionStringBuilder(snapshotConnectionString) { Pooling = false }.ToString());
        snapshots.Open();
        using (var attach = snapshots.CreateCommand())
        {
            attach.CommandText = "ATTACH DATABASE $file AS journal_file";
            attach.Parameters.AddWithValue("$file", journalFile);
            attach.ExecuteNonQuery();
        }
        var table = RecoveryReads.Quote(name);
        if (Strings(snapshots, "SELECT name FROM journal_file.sqlite_master WHERE type = 'table' AND name = $name", name).Count == 0
            || Strings(snapshots, $"SELECT 1 FROM journal_file.{table} LIMIT 1", name).Count == 0)
            return;
        Execute(snapshots, "BEGIN IMMEDIATE");
        // The table (and its indexes) as the plugin created it in the journal's file, unless the new file has it already.
        if (Strings(snapshots, "SELECT name FROM main.sqlite_master WHERE type = 'table' AND name = $name", name).Count == 0)
            foreach (var create in Strings(snapshots,
                         "SELECT sql FROM journal_file.sqlite_master WHERE tbl_name = $name AND sql IS NOT NULL ORDER BY type = 'table' DESC", name))
                Execute(snapshots, create);
        Execute(snapshots, $"INSERT OR IGNORE INTO main.{table} SELECT * FROM journal_file.{table}");
        Execute(snapshots, "COMMIT");
        Execute(snapshots, $"DELETE FROM journal_file.{table}");
    }

    private static void Execute(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    private static List<string> Strings(SqliteConnection connection, string sql, string name)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.Parameters.AddWithValue("$name", name);
        using var reader = command.ExecuteReader();
        var values = new List<string>();
        while (reader.Read()) values.Add(Convert.ToString(reader.GetValue(0))!);
        return values;
    }
}
