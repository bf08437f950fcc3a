using System.Collections.Immutable;
using System.Diagnostics;
using Akka.Actor;
using Akka.Persistence;
using Akka.Persistence.Journal;
using Akka.Persistence.Sql.Config;
using Akka.Serialization;
using Akka.Util;
using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace Restock.Actors.Engine.Hosting;

/// <summary>
/// The journal's writes on SQLite: the rows Akka.Persistence.Sql would store (same table, columns and payload
/// serialization; tags as its Csv mode writes them), inserted by one prepared statement executed once per row in one
/// transaction. The plugin builds a multi-row INSERT with every payload as a hex literal for each write, which SQLite
/// then parses: building that text was the largest allocation of a burst of SKU activations.
/// </summary>
internal sealed class SqliteJournalWrites
{
    private readonly Akka.Serialization.Serialization _serialization;
    private readonly string _connectionString;
    // The insert's SQL as SQLite reads it (UTF-8, zero-terminated): converted once, not on every write's prepare.
    private readonly byte[] _insertUtf8;
    private readonly string _tagSeparator;
    private readonly string? _defaultSerializer;

    private readonly TimeSpan _lockTimeout;

    private SqliteJournalWrites(Akka.Serialization.Serialization serialization, JournalConfig config, TimeSpan lockWait)
    {
        _serialization = serialization;
        _lockTimeout = lockWait;
        _connectionString = config.ConnectionString;
        _tagSeparator = config.PluginConfig.TagSeparator;
        _defaultSerializer = config.DefaultSerializer;
        var c = config.TableConfig.EventJournalTable.ColumnNames;
        var columns = new[] { c.Deleted, c.PersistenceId, c.SequenceNumber, c.Message, c.Tags, c.Manifest, c.Identifier, c.WriterUuid, c.Created };
        var insert = $"INSERT INTO {RecoveryReads.Table(config.TableConfig.SchemaName, config.TableConfig.EventJournalTable.Name)} " +
                  $"({string.Join(", ", columns.Select(RecoveryReads.Quote))}) VALUES ({string.Join(", ", columns.Select((_, i) => "@p" + i))})";
        _insertUtf8 = System.Text.Encoding.UTF8.GetBytes(insert + "\0");
    }

    /// <summary>Null unless the journal is SQLite with tags stored in the journal row (Csv), the only layout written here.</summary>
    /// <param name="lockWait">How long a write may wait for SQLite's write lock (the journal's <c>write-lock-wait</c>).</param>
    public static SqliteJournalWrites? For(Akka.Serialization.Serialization serialization, JournalConfig config, TimeSpan lockWait) =>
        config.ProviderName.StartsWith("SQLite", StringComparison.OrdinalIgnoreCase) && config.PluginConfig.TagMode == TagMode.Csv
        && !config.DaoConfig.SqlCommonCompatibilityMode
            ? new SqliteJournalWrites(serialization, config, lockWait)
            : null;

    /// <summary>
    /// How long a snapshot save may wait for SQLite's write lock: half its store's circuit-breaker call-timeout, which also
    /// covers the wait for the engine's writer turn, the insert and the commit. A save still waiting when the breaker
    /// reports it failed could otherwise commit afterwards: a snapshot its entity was told was not stored. (The journal's
    /// bound is a setting of its own, <c>write-lock-wait</c>.)
    /// </summary>
    internal static TimeSpan LockTimeoutFor(TimeSpan callTimeout) => callTimeout / 2;

    private sealed record Row(string PersistenceId, long SequenceNr, byte[] Message, string Tags, string Manifest, int Identifier, string? WriterUuid, long Created);

    /// <summary>
    /// Writes every write whose events serialize, in one transaction; a write whose events do not is rejected (its
    /// exception at its position in the answer) and the others are still written. A failed transaction writes none.
    /// </summary>
    public async Task<IImmutableList<Exception?>> WriteAsync(IReadOnlyList<AtomicWrite> writes, CancellationToken cancellationToken)
    {
        var now = DateTime.UtcNow.Ticks;
        var rejections = new Exception?[writes.Count];
        var rows = new List<Row>(writes.Count);
        for (var i = 0; i < writes.Count; i++)
        {
            var before = rows.Count;
            try
            {
                // Indexed: a foreach over the interface would box an enumerator per write.
                var payload = (IImmutableList<IPersistentRepresentation>)writes[i].Payload;
                for (var j = 0; j < payload.Count; j++)
                    rows.Add(Serialize(payload[j], now));
            }
            catch (Exception e)
            {
                rows.RemoveRange(before, rows.Count - before);
                rejections[i] = e;
            }
        }
        if (rows.Count > 0)
        {
            var bytes = 0L;
            foreach (var row in rows) bytes += row.Message.Length;
            await SqliteWriter.RunOnWriterThreadAsync(_connectionString, () => Insert(rows), cancellationToken, bytes, TurnWaited);
        }
        return rejections.ToImmutableList();
    }

    private static readonly Action<TimeSpan> TurnWaited = static waited => RestockMetrics.JournalTurnWait.Record(waited.TotalMilliseconds);

    private Row Serialize(IPersistentRepresentation representation, long now)
    {
        var payload = representation.Payload;
        var tags = "";
        if (payload is Tagged tagged)
        {
            payload = tagged.Payload;
            if (tagged.Tags.Count > 0) tags = _tagSeparator + string.Join(_tagSeparator, tagged.Tags) + _tagSeparator;
        }
        var serializer = _serialization.FindSerializerForType(payload.GetType(), _defaultSerializer);
        // As the plugin does: actor references inside a payload serialize with this system's address.
        var manifest = serializer switch
        {
            SerializerWithStringManifest named => named.Manifest(payload),
            { IncludeManifest: true } => payload.GetType().TypeQualifiedName(),
            _ => "",
        };
        var message = Akka.Serialization.Serialization.WithTransport(_serialization.System, (serializer, payload),
            state => state.serializer.ToBinary(state.payload));
        return new Row(representation.PersistenceId, representation.SequenceNr, message, tags, manifest, serializer.Identifier,
            representation.WriterGuid, representation.Timestamp == 0 ? now : representation.Timestamp);
    }

    private void Insert(List<Row> rows)
    {
        using var connection = SqliteWriter.OpenForWrite(_connectionString);
        // SQLite's own API on the connection, transaction included: Microsoft.Data.Sqlite looks every parameter up by
        // name and allocates a binder for it on each execution (the larger part of this insert's cost), and its
        // BeginTransaction sleeps 150 ms whenever another connection holds the write lock, however briefly.
        var db = connection.Handle!;
        var waited = BeginWrite(db, _lockTimeout);
        // From here on the connection holds SQLite's one write lock: anything that fails must end the transaction below.
        try
        {
            if (waited.Ticks > 0) RestockMetrics.JournalLockWait.Record(waited.TotalMilliseconds);
            Check(raw.sqlite3_prepare_v2(db, utf8z.FromSpan(_insertUtf8), out var statement), db);
            using (statement)
            {
                foreach (var row in rows)
                {
                    Check(raw.sqlite3_bind_int(statement, 1, 0), db);
                    Check(raw.sqlite3_bind_text(statement, 2, row.PersistenceId), db);
                    Check(raw.sqlite3_bind_int64(statement, 3, row.SequenceNr), db);
                    Check(raw.sqlite3_bind_blob(statement, 4, row.Message), db);
                    Check(raw.sqlite3_bind_text(statement, 5, row.Tags), db);
                    Check(raw.sqlite3_bind_text(statement, 6, row.Manifest), db);
                    Check(raw.sqlite3_bind_int(statement, 7, row.Identifier), db);
                    Check(row.WriterUuid is null ? raw.sqlite3_bind_null(statement, 8) : raw.sqlite3_bind_text(statement, 8, row.WriterUuid), db);
                    Check(raw.sqlite3_bind_int64(statement, 9, row.Created), db);
                    var done = raw.sqlite3_step(statement);
                    if (done != raw.SQLITE_DONE) Check(done, db);
                    Check(raw.sqlite3_reset(statement), db);
                }
            }
            Check(raw.sqlite3_exec(db, "COMMIT"), db);
        }
        catch
        {
            EndFailedWrite(connection);
            throw;
        }
        RestockMetrics.JournalTransactions.Add(1);
    }

    /// <summary>
    /// Takes SQLite's write lock (BEGIN IMMEDIATE). Another writer (the ledger's projection; a snapshot only when the
    /// snapshots share the journal's file, see <see cref="JournalStore.SnapshotConnectionStringFor"/>) holds it for a
    /// few milliseconds at most, so the journal asks again every millisecond or sooner instead of sleeping in long steps,
    /// and gives up (SQLITE_BUSY) after <paramref name="lockTimeout"/> (the journal's <c>write-lock-wait</c>, a
    /// snapshot store's <see cref="LockTimeoutFor"/>). Snapshot saves take
    /// it the same way.
    /// </summary>
    /// <returns>How long it waited for the lock.</returns>
    internal static TimeSpan BeginWrite(sqlite3 db, TimeSpan lockTimeout)
    {
        // A pooled connection may carry another user's busy timeout: here the waiting is ours.
        raw.sqlite3_busy_timeout(db, 0);
        var result = raw.sqlite3_exec(db, "BEGIN IMMEDIATE");
        if (result != raw.SQLITE_BUSY)
        {
            Check(result, db);
            return TimeSpan.Zero;
        }
        var waited = Stopwatch.StartNew();
        for (var attempt = 0; result == raw.SQLITE_BUSY && waited.Elapsed < lockTimeout; attempt++)
        {
            if (attempt < 20) Thread.Yield();
            else Thread.Sleep(1);
            result = raw.sqlite3_exec(db, "BEGIN IMMEDIATE");
        }
        Check(result, db);
        return waited.Elapsed;
    }

    /// <summary>
    /// Ends a write that failed after <see cref="BeginWrite"/>: rolls its transaction back, as the connection goes back
    /// to Microsoft.Data.Sqlite's pool, which does not know of this transaction. If the rollback fails too, the connection
    /// still holds SQLite's write lock: its pool is cleared, so it is closed when disposed instead of going back ("any open
    /// connections will not be returned to the pool when closed"; the pool's idle connections go too, a rare cost).
    /// </summary>
    internal static void EndFailedWrite(SqliteConnection connection)
    {
        var db = connection.Handle!;
        if (raw.sqlite3_get_autocommit(db) == 0) raw.sqlite3_exec(db, "ROLLBACK");
        if (raw.sqlite3_get_autocommit(db) == 0) SqliteConnection.ClearPool(connection);
    }

    private static void Check(int result, sqlite3 db)
    {
        if (result != raw.SQLITE_OK) SqliteException.ThrowExceptionForRC(result, db);
    }
}
