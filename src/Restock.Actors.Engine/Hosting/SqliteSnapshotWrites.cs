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
    private readonly string _keys;
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
        var seq = RecoveryReads.Quote(c.SequenceNumber);
        _keys = $"SELECT {seq} FROM {RecoveryReads.Table(config.TableConfig.SchemaName, config.TableConfig.SnapshotTable.Name)} " +
                $"WHERE {RecoveryReads.Quote(c.PersistenceId)} = @p0 AND {seq} <= @p1 ORDER BY {seq}";
    }

    /// <summary>Null unless the store is SQLite with the plugin's own row layout (not its compatibility mode).</summary>
    /// <param name="callTimeout">The snapshot store's circuit-breaker call-timeout.</param>
    public static SqliteSnapshotWrites? For(Akka.Serialization.Serialization serialization, SnapshotConfig config, TimeSpan callTimeout) =>
        config.ProviderName.StartsWith("SQLite", StringComparison.OrdinalIgnoreCase) && !config.IDaoConfig.SqlCommonCompatibilityMode
            ? new SqliteSnapshotWrites(serialization, config, callTimeout)
            : null;

    public string ConnectionString => _connectionString;

    /// <summary>The sequence numbers of an entity's snapshots up to <paramref name="maxSequenceNr"/>, ascending; read outside the writers' turn.</summary>
    public Task<List<long>> KeysAsync(string persistenceId, long maxSequenceNr, CancellationToken cancellationToken) =>
        RecoveryReads.QueryAsync(() => new SqliteConnection(_connectionString), _keys, [persistenceId, maxSequenceNr], r => r.GetInt64(0), cancellationToken);

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

    private void Insert(SnapshotMetadata metadata, byte[] payload, string manifest, int serializerId)
    {
        using var connection = SqliteWriter.OpenForWrite(_connectionString);
        // As the journal does (SqliteJournalWrites): SQLite's own API, and the write lock asked for every millisecond while
        // another writer (the ledger) holds it, not Microsoft.Data.Sqlite's 150 ms sleeps, the journal waiting behind this.
        var db = connection.Handle!;
        SqliteJournalWrites.BeginWrite(db, _lockTimeout);
        try
        {
            Check(raw.sqlite3_prepare_v2(db, _insert, out var statement), db);
            using (statement)
            {
                Check(raw.sqlite3_bind_text(statement, 1, metadata.PersistenceId), db);
                Check(raw.sqlite3_bind_int64(statement, 2, metadata.SequenceNr), db);
                Check(raw.sqlite3_bind_int64(statement, 3, metadata.Timestamp.Ticks), db);
                Check(raw.sqlite3_bind_blob(statement, 4, payload), db);
                Check(raw.sqlite3_bind_text(statement, 5, manifest), db);
                Check(raw.sqlite3_bind_int(statement, 6, serializerId), db);
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
