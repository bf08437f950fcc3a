using Akka.Configuration;
using Akka.Event;
using Akka.Persistence.Sql.Config;
using Microsoft.Data.Sqlite;

namespace Restock.Actors.Engine.Hosting;

/// <summary>Prepares the journal's database (and on SQLite the snapshot store's file) before the first write.</summary>
internal static class JournalStore
{
    /// <summary>The PostgreSQL advisory lock key that makes nodes create their tables one at a time.</summary>
    public const long SchemaLock = 0x5245_5354_4F43_4B;

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
        var journal = config.GetString(RestockConfig.JournalConnectionString, "");
        if (!IsSqlite(config)) return journal;
        var builder = new SqliteConnectionStringBuilder(journal);
        if (FileOf(builder) is null) return journal;
        var path = builder.DataSource;
        builder.DataSource = Path.Combine(Path.GetDirectoryName(path) ?? "",
            Path.GetFileNameWithoutExtension(path) + ".snapshots" + Path.GetExtension(path));
        return builder.ToString();
    }

    /// <summary>
    /// The file a SQLite connection string opens, as a full path; null for an in-memory database or a <c>file:</c> URI
    /// (the prefix in any case: the engine then puts no file beside it and leaves its WAL to SQLite's own checkpoint).
    /// </summary>
    public static string? FileOf(SqliteConnectionStringBuilder builder) =>
        builder.Mode == SqliteOpenMode.Memory || builder.DataSource is "" or ":memory:" || builder.DataSource.StartsWith("file:", StringComparison.OrdinalIgnoreCase)
            ? null
            : Path.GetFullPath(builder.DataSource);

    /// <summary>The engine's one-row table holding the random id that pairs a journal's file with its snapshots' file.</summary>
    public const string DatabaseIdTable = "restock_database_id";

    /// <summary>
    /// SQLite: creates the files' folders and switches each file to WAL once (the file keeps the mode). WAL lets
    /// readers and the writer work at once; synchronous stays at SQLite's default FULL, so commits are durable. Then,
    /// when the snapshots have a file of their own, checks that it belongs to the journal's file and moves the snapshots
    /// an earlier layout kept in the journal's file into it.
    /// </summary>
    /// <exception cref="InvalidOperationException">The snapshots' file holds snapshots of another journal.</exception>
    public static void Prepare(Config config, ILoggingAdapter log)
    {
        if (!IsSqlite(config)) return;
        var journal = PrepareFile(config.GetString(RestockConfig.JournalConnectionString));
        var snapshotConnectionString = config.GetString(RestockConfig.SnapshotConnectionString);
        var snapshots = PrepareFile(snapshotConnectionString);
        if (journal is null || snapshots is null || journal == snapshots) return;
        // SQLite has no schemas: the table's name is all.
        var table = new SnapshotConfig(config.GetConfig("akka.persistence.snapshot-store.sql")).TableConfig.SnapshotTable.Name;
        // Not pooled: a pooled connection would keep the other file attached for whoever takes it next.
        using var connection = new SqliteConnection(new SqliteConnectionStringBuilder(snapshotConnectionString) { Pooling = false }.ToString());
        connection.Open();
        using (var attach = connection.CreateCommand())
        {
            attach.CommandText = "ATTACH DATABASE $file AS journal_file";
            attach.Parameters.AddWithValue("$file", journal);
            attach.ExecuteNonQuery();
        }
        Pair(connection, journal, snapshots, table);
        MoveSnapshots(connection, journal, snapshots, table, log);
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
    /// Two files can be paired wrongly (the journal's deleted, or replaced by another database's): a snapshot above the
    /// journal's highest sequence number would give its SKU events that are in no journal, as Akka continues from it. So
    /// the journal's file keeps a random id and the snapshots' file the same: a snapshots' file with no snapshot takes the
    /// journal's id (a fresh start, the move from the one-file layout, a snapshots' file deleted to replay); one with
    /// snapshots and another id (or none) is refused, before anything is written. The journal's id is committed first and
    /// the snapshots' file's with the move (<see cref="MoveSnapshots"/>): a crash between the two leaves a snapshots' file
    /// without snapshots, which the next start stamps. An older backup of the same journal keeps its id: the README asks
    /// to back up the snapshots' file first and to restore the two together.
    /// </summary>
    private static void Pair(SqliteConnection connection, string journal, string snapshots, string table)
    {
        var journalId = IdOf(connection, "journal_file");
        if (HasRows(connection, "main", table) && (journalId is null || journalId != IdOf(connection, "main")))
            throw new InvalidOperationException(
                $"The snapshots' file {snapshots} holds snapshots of another journal than {journal} (one of the two was deleted, " +
                $"or replaced by another database's file): recovering from them would give SKUs events that are in no journal. " +
                $"The engine did not start. Either restore the two files of one backup together, or delete {snapshots} " +
                $"(and its -wal and -shm files) to replay every SKU from the journal.");
        if (journalId is not null) return;
        Execute(connection, $"CREATE TABLE IF NOT EXISTS journal_file.{DatabaseIdTable} (id TEXT NOT NULL)");
        // One statement: a node starting at the same time on the same files stamps it once.
        Execute(connection, $"INSERT INTO journal_file.{DatabaseIdTable} (id) SELECT '{Guid.NewGuid():N}' WHERE NOT EXISTS (SELECT 1 FROM journal_file.{DatabaseIdTable})");
    }

    /// <summary>
    /// Stamps the snapshots' file with the journal's id unless it has it, and moves the snapshots a database written while
    /// they shared the journal's file holds in that file's table: before any entity runs they are copied into the
    /// snapshot store's file (rows already there kept), committed with the stamp, then deleted from the journal's file:
    /// SQLite commits each file on its own, so a crash between the two leaves them in both, and the next start repeats
    /// both harmlessly; nothing is ever in neither. Moved rather than read through to the old table on a miss: reads
    /// (heads, parts, pieces, "has a snapshot?", the stored ids) and deletes would all need both files for as long as an
    /// old row may remain, i.e. for every SKU that never snapshots again.
    /// </summary>
    private static void MoveSnapshots(SqliteConnection connection, string journal, string snapshots, string name, ILoggingAdapter log)
    {
        var journalId = IdOf(connection, "journal_file")!;
        var toMove = HasRows(connection, "journal_file", name);
        if (!toMove && IdOf(connection, "main") == journalId) return;
        var table = RecoveryReads.Quote(name);
        long rows = 0;
        if (toMove)
        {
            rows = Convert.ToInt64(Strings(connection, $"SELECT count(*) FROM journal_file.{table}", name).Single());
            log.Info("Moving {0} snapshot rows from {1} into the snapshots' own file {2}", rows, journal, snapshots);
        }
        Execute(connection, "BEGIN IMMEDIATE");
        Execute(connection, $"CREATE TABLE IF NOT EXISTS main.{DatabaseIdTable} (id TEXT NOT NULL)");
        Execute(connection, $"DELETE FROM main.{DatabaseIdTable}");
        Execute(connection, $"INSERT INTO main.{DatabaseIdTable} (id) SELECT id FROM journal_file.{DatabaseIdTable} LIMIT 1");
        var copied = 0;
        if (toMove)
        {
            // The table (and its indexes) as the plugin created it in the journal's file, unless the new file has it already.
            if (!HasTable(connection, "main", name))
                foreach (var create in Strings(connection,
                             "SELECT sql FROM journal_file.sqlite_master WHERE tbl_name = $name AND sql IS NOT NULL ORDER BY type = 'table' DESC", name))
                    Execute(connection, create);
            // By name: the two tables may list their columns in different orders (one made by a later plugin version).
            var columns = string.Join(", ", Strings(connection, "SELECT name FROM pragma_table_info($name, 'journal_file')", name)
                .Select(RecoveryReads.Quote));
            copied = ExecuteCount(connection, $"INSERT OR IGNORE INTO main.{table} ({columns}) SELECT {columns} FROM journal_file.{table}");
        }
        Execute(connection, "COMMIT");
        if (!toMove) return;
        Execute(connection, $"DELETE FROM journal_file.{table}");
        log.Info("Moved {0} snapshot rows into {1} ({2} were there already from an interrupted move) and deleted them from {3}",
            rows, snapshots, rows - copied, journal);
    }

    /// <summary>The id a file of the pair keeps; null when it has none.</summary>
    private static string? IdOf(SqliteConnection connection, string schema) =>
        HasTable(connection, schema, DatabaseIdTable)
            ? Strings(connection, $"SELECT id FROM {schema}.{DatabaseIdTable} LIMIT 1", DatabaseIdTable).SingleOrDefault()
            : null;

    private static bool HasRows(SqliteConnection connection, string schema, string table) =>
        HasTable(connection, schema, table) && Strings(connection, $"SELECT 1 FROM {schema}.{RecoveryReads.Quote(table)} LIMIT 1", table).Count > 0;

    private static bool HasTable(SqliteConnection connection, string schema, string table) =>
        Strings(connection, $"SELECT name FROM {schema}.sqlite_master WHERE type = 'table' AND name = $name", table).Count > 0;

    private static void Execute(SqliteConnection connection, string sql) => ExecuteCount(connection, sql);

    /// <returns>The rows the statement changed.</returns>
    private static int ExecuteCount(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return command.ExecuteNonQuery();
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
