using Akka.Persistence;
using Akka.Persistence.Sql.Config;
using Akka.Serialization;
using Akka.Util;
using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace Restock.Actors.Engine.Hosting;

/// <summary>
/// Snapshots saved on SQLite: the row Akka.Persistence.Sql would store (same table, columns and serialization, an insert
/// or replace on the entity and sequence number), serialized before the file's one writer is taken. The plugin serializes
/// inside its write transaction, so a large SKU's snapshot held SQLite's write lock while tens of MB of it were made.
/// </summary>
internal sealed class SqliteSnapshotWrites
{
    private readonly Akka.Serialization.Serialization _serialization;
    private readonly string _connectionString;
    private readonly string _insert;
    private readonly string _delete;
    private readonly string? _defaultSerializer;
    private readonly TimeSpan _lockTimeout;

    private SqliteSnapshotWrites(Akka.Serialization.Serialization serialization, SnapshotConfig config, TimeSpan callTimeout)
    {
        _lockTimeout = SqliteJournalWrites.LockTimeoutFor(callTimeout);
        _serialization = serialization;
        _connectionString = config.ConnectionString;
        _defaultSerializer = config.DefaultSerializer;
        var c = config.TableConfig.SnapshotTable.ColumnNames;
        var columns = new[] { c.PersistenceId, c.SequenceNumber, c.Created, c.Snapshot, c.Manifest, c.SerializerId };
        _insert = $"INSERT OR REPLACE INTO {RecoveryReads.Table(config.TableConfig.SchemaName, config.TableConfig.SnapshotTable.Name)} " +
                  $"({string.Join(", ", columns.Select(RecoveryReads.Quote))}) VALUES ({string.Join(", ", columns.Select((_, i) => "@p" + i))})";
        var (id, sequenceNr, created) = (RecoveryReads.Quote(c.PersistenceId), RecoveryReads.Quote(c.SequenceNumber), RecoveryReads.Quote(c.Created));
        _delete = $"DELETE FROM {RecoveryReads.Table(config.TableConfig.SchemaName, config.TableConfig.SnapshotTable.Name)} " +
                  $"WHERE {id} = @p0 AND {sequenceNr} <= @p1 AND {created} <= @p2";
    }

    /// <summary>Null unless the store is SQLite with the plugin's own row layout (not its compatibility mode).</summary>
    /// <param name="callTimeout">The snapshot store's circuit-breaker call-timeout.</param>
    public static SqliteSnapshotWrites? For(Akka.Serialization.Serialization serialization, SnapshotConfig config, TimeSpan callTimeout) =>
        config.ProviderName.StartsWith("SQLite", StringComparison.OrdinalIgnoreCase) && !config.IDaoConfig.SqlCommonCompatibilityMode
            ? new SqliteSnapshotWrites(serialization, config, callTimeout)
            : null;

    public string ConnectionString => _connectionString;

    public async Task SaveAsync(SnapshotMetadata metadata, object snapshot, CancellationToken cancellationToken)
    {
        var serializer = _serialization.FindSerializerForType(snapshot.GetType(), _defaultSerializer);
        var manifest = serializer switch
        {
            SerializerWithStringManifest named => named.Manifest(snapshot),
            { IncludeManifest: true } => snapshot.GetType().TypeQualifiedName(),
            _ => "",
        };
        var payload = await Task.Run(() => Akka.Serialization.Serialization.WithTransport(_serialization.System, (serializer, snapshot),
            state => state.serializer.ToBinary(state.snapshot)), cancellationToken);
        await SqliteWriter.RunOnWriterThreadAsync(_connectionString,
            () => Insert(metadata, payload, manifest, serializer.Identifier), cancellationToken, payload.Length);
    }

    /// <summary>
    /// Deletes an entity's snapshots that <paramref name="criteria"/> selects, in the writer's turn. The plugin's delete,
    /// made by linq2db, built its query inside that turn: the first one after a start held every journal write ~150 ms.
    /// As the plugin's, it applies the criteria's upper bounds only.
    /// </summary>
    public Task DeleteAsync(string persistenceId, SnapshotSelectionCriteria criteria, CancellationToken cancellationToken) =>
        SqliteWriter.RunOnWriterThreadAsync(_connectionString, () => Write(_delete, (statement, db) =>
        {
            Check(raw.sqlite3_bind_text(statement, 1, persistenceId), db);
            Check(raw.sqlite3_bind_int64(statement, 2, criteria.MaxSequenceNr), db);
            Check(raw.sqlite3_bind_int64(statement, 3, criteria.MaxTimeStamp.Ticks), db);
        }), cancellationToken);

    private void Insert(SnapshotMetadata metadata, byte[] payload, string manifest, int serializerId) => Write(_insert, (statement, db) =>
    {
        Check(raw.sqlite3_bind_text(statement, 1, metadata.PersistenceId), db);
        Check(raw.sqlite3_bind_int64(statement, 2, metadata.SequenceNr), db);
        Check(raw.sqlite3_bind_int64(statement, 3, metadata.Timestamp.Ticks), db);
        Check(raw.sqlite3_bind_blob(statement, 4, payload), db);
        Check(raw.sqlite3_bind_text(statement, 5, manifest), db);
        Check(raw.sqlite3_bind_int(statement, 6, serializerId), db);
    });

    /// <summary>One statement in its own write transaction.</summary>
    private void Write(string sql, Action<sqlite3_stmt, sqlite3> bind)
    {
        using var connection = SqliteWriter.OpenForWrite(_connectionString);
        // As the journal does (SqliteJournalWrites): SQLite's own API, and the write lock asked for every millisecond while
        // another writer (the ledger) holds it, not Microsoft.Data.Sqlite's 150 ms sleeps, the journal waiting behind this.
        var db = connection.Handle!;
        SqliteJournalWrites.BeginWrite(db, _lockTimeout);
        try
        {
            Check(raw.sqlite3_prepare_v2(db, sql, out var statement), db);
            using (statement)
            {
                bind(statement, db);
                var done = raw.sqlite3_step(statement);
                if (done != raw.SQLITE_DONE) Check(done, db);
            }
            Check(raw.sqlite3_exec(db, "COMMIT"), db);
        }
        catch
        {
            SqliteJournalWrites.EndFailedWrite(connection);
            throw;
        }
    }

    private static void Check(int result, sqlite3 db)
    {
        if (result != raw.SQLITE_OK) SqliteException.ThrowExceptionForRC(result, db);
    }
}
