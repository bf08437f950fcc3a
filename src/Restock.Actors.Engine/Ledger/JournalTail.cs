using System.Data.Common;
using Akka.Persistence.Sql.Config;
using Restock.Actors.Engine.Hosting;
using Config = Akka.Configuration.Config;

namespace Restock.Actors.Engine.Ledger;

/// <summary>
/// Follows the journal table for the ledger: which orderings are complete (every row up to there committed, or its gap
/// given up), and a tag's rows up to there, in order. It replaces Akka.Persistence.Sql's tag query for the projection:
/// that query's sequence actor collected every new ordering into an immutable list, and each query went through linq2db,
/// ~10% of all the promo mix allocated (PERFORMANCE-LOG, "session 9"). The rules are the plugin's: a row is read once
/// every ordering below it is there, and a missing ordering (a PostgreSQL transaction still committing, a rolled-back one)
/// is waited for until <c>gap-window</c> has passed since an ordering above it was first seen, then skipped; the
/// ledger's reconciliation catches a row that commits later than that. A tail also skips a gap at once when the
/// database shows no write that could fill it can still commit, so a restarted projection need not wait again for a gap
/// an earlier one gave up on: on SQLite, a gap under a row written (its <c>created</c> time) at least <c>gap-window</c>
/// ago; on PostgreSQL, a gap below the highest ordering once seen, after every writer of the journal in flight then has
/// ended (see <see cref="GapClosedAsync"/>). One instance is used by one caller at a time.
/// </summary>
internal sealed class JournalTail : IAsyncDisposable
{
    /// <summary>A tagged journal row: its ordering (the ledger's offset), whose events, and the stored event.</summary>
    public readonly record struct Row(long Ordering, string PersistenceId, object Event);

    // Orderings read per query while looking for the end of the complete part.
    private const int OrderingsPerRead = 10_000;

    private readonly Func<DbConnection> _connect;
    private readonly Akka.Serialization.Serialization _serialization;
    private readonly TimeSpan _gapWindow;
    private readonly TimeProvider _clock;
    private readonly string _tagSeparator;
    private readonly string _maxSql, _countSql, _orderingsSql, _taggedSql, _tableExistsSql, _tableName, _writersSql;
    private readonly long[] _orderings = new long[OrderingsPerRead];
    private readonly long[] _written = new long[OrderingsPerRead];
    // SQLite runs one write transaction at a time, so a gap under a committed row is a write that already ended; on
    // PostgreSQL it may still commit, and created is the writing node's clock, taken before its INSERT (a clock behind,
    // or a write that waited on a lock or a stalled server, makes a row look old the moment it commits).
    private readonly bool _gapUnderOldRowEnded;
    // The highest ordering seen, when: a missing ordering below one seen at least gap-window ago is given up.
    private readonly Queue<(DateTimeOffset At, long Max)> _seen = new();
    private long _givenUpTo;
    private long _highestSeen;
    // PostgreSQL: the highest ordering seen and the journal's writers in flight just after, until they have all ended.
    private (long UpTo, HashSet<string> Writers)? _writersAt;
    private readonly HashSet<string> _writersNow = [];
    private bool _tableExists;
    private DbConnection? _connection;
    private DbCommand? _max, _count, _orderingsAfter, _tagged, _writers;

    /// <param name="completeUpTo">An ordering every row up to which needs no more reading (a stored offset).</param>
    public JournalTail(Config journalPluginConfig, Akka.Serialization.Serialization serialization, TimeSpan gapWindow, long completeUpTo,
        TimeProvider? clock = null)
    {
        var config = new JournalConfig(journalPluginConfig);
        if (!RecoveryReads.Supports(config.ProviderName))
            throw new NotSupportedException($"the restock ledger reads SQLite and PostgreSQL journals, not {config.ProviderName}");
        _connect = () => RecoveryReads.Connect(config.ProviderName, config.ConnectionString);
        _serialization = serialization;
        _gapWindow = gapWindow;
        _clock = clock ?? TimeProvider.System;
        _tagSeparator = config.PluginConfig.TagSeparator;
        CompleteUpTo = completeUpTo;
        var table = config.TableConfig.EventJournalTable;
        var c = table.ColumnNames;
        var from = RecoveryReads.Table(config.TableConfig.SchemaName, table.Name);
        var ordering = Q(c.Ordering);
        var sqlite = config.ProviderName.StartsWith("SQLite", StringComparison.OrdinalIgnoreCase);
        var contains = sqlite ? "instr" : "strpos";
        _gapUnderOldRowEnded = sqlite;
        (_tableExistsSql, _tableName) = sqlite
            ? ("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = @p0", table.Name)
            : ("SELECT to_regclass(@p0) IS NOT NULL", from);
        _maxSql = $"SELECT MAX({ordering}) FROM {from}";
        _countSql = $"SELECT COUNT(*) FROM {from} WHERE {ordering} > @p0 AND {ordering} <= @p1";
        _orderingsSql = $"SELECT {ordering}, {Q(c.Created)} FROM {from} WHERE {ordering} > @p0 ORDER BY {ordering} LIMIT {OrderingsPerRead}";
        _taggedSql = $"SELECT {ordering}, {Q(c.PersistenceId)}, {Q(c.Message)}, {Q(c.Manifest)}, {Q(c.Identifier)} FROM {from} " +
                     $"WHERE {ordering} > @p0 AND {ordering} <= @p1 AND {Q(c.Deleted)} = @p2 AND {contains}({Q(c.Tags)}, @p3) > 0 " +
                     $"ORDER BY {ordering} LIMIT @p4";
        // Every transaction writing the table holds this lock from before its INSERT takes an ordering until it ends.
        _writersSql = "SELECT virtualtransaction FROM pg_locks WHERE locktype = 'relation' AND relation = to_regclass(@p0) " +
                      "AND mode = 'RowExclusiveLock' AND pid <> pg_backend_pid()";
    }

    /// <summary>Every row up to this ordering is committed or given up: tagged rows up to here can be read in order.</summary>
    public long CompleteUpTo { get; private set; }

    /// <summary>Moves <see cref="CompleteUpTo"/> as far as the journal allows now.</summary>
    public async Task AdvanceAsync(CancellationToken cancellationToken)
    {
        var connection = await ConnectionAsync(cancellationToken);
        if (!await TableExistsAsync(connection, cancellationToken)) return;
        _max ??= Command(connection, _maxSql, 0);
        var highest = await _max.ExecuteScalarAsync(cancellationToken) is { } value and not DBNull ? Convert.ToInt64(value) : 0;
        var now = _clock.GetUtcNow();
        if (highest > _highestSeen)
        {
            _highestSeen = highest;
            _seen.Enqueue((now, highest));
        }
        while (_seen.TryPeek(out var seen) && now - seen.At >= _gapWindow)
        {
            _givenUpTo = Math.Max(_givenUpTo, seen.Max);
            _seen.Dequeue();
        }
        if (highest <= CompleteUpTo) return;
        if (highest <= _givenUpTo)
        {
            CompleteUpTo = highest;
            return;
        }
        // Usually nothing is missing: one count says so without reading the orderings.
        _count ??= Command(connection, _countSql, 2);
        _count.Parameters[0].Value = CompleteUpTo;
        _count.Parameters[1].Value = highest;
        if (Convert.ToInt64(await _count.ExecuteScalarAsync(cancellationToken)) == highest - CompleteUpTo)
        {
            CompleteUpTo = highest;
            return;
        }
        _orderingsAfter ??= Command(connection, _orderingsSql, 1);
        while (true)
        {
            _orderingsAfter.Parameters[0].Value = CompleteUpTo;
            var read = 0;
            await using (var reader = await _orderingsAfter.ExecuteReaderAsync(cancellationToken))
            {
                while (await reader.ReadAsync(cancellationToken))
                {
                    _orderings[read] = reader.GetInt64(0);
                    _written[read++] = reader.GetInt64(1);
                }
            }
            for (var i = 0; i < read; i++)
            {
                var next = _orderings[i];
                if (next > CompleteUpTo + 1 && next - 1 > _givenUpTo)
                {
                    // The row above the gap was written (its writer's clock) a gap window ago: a write below it still
                    // missing counts as rolled back, as it would for a tail that had seen that row then.
                    if (_gapUnderOldRowEnded ? now.UtcTicks - _written[i] >= _gapWindow.Ticks : await GapClosedAsync(connection, next - 1, highest, cancellationToken))
                        _givenUpTo = next - 1;
                    else
                    {
                        // A gap still waited for: complete up to it, or up to where it is given up.
                        CompleteUpTo = Math.Max(CompleteUpTo, Math.Min(_givenUpTo, next - 1));
                        return;
                    }
                }
                CompleteUpTo = next;
            }
            if (read < OrderingsPerRead) return;
        }
    }

    /// <summary>
    /// PostgreSQL: whether no transaction that could still commit a row at or below <paramref name="gapEnd"/> is in flight.
    /// A transaction holding an ordering took it from the journal's sequence inside its INSERT, after it locked the table
    /// (RowExclusiveLock, held until it ends); an ordering below the highest one seen was taken before that was read. So once
    /// every writer holding the lock just after <paramref name="highest"/> was read has ended, every missing ordering up to
    /// it is a write that rolled back or failed: it can never appear. Checked again at each advance while a gap waits.
    /// </summary>
    private async Task<bool> GapClosedAsync(DbConnection connection, long gapEnd, long highest, CancellationToken cancellationToken)
    {
        _writers ??= Command(connection, _writersSql, 1);
        _writers.Parameters[0].Value = _tableName;
        _writersNow.Clear();
        await using (var reader = await _writers.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
                _writersNow.Add(reader.GetString(0));
        }
        if (_writersAt is { } then && !then.Writers.Overlaps(_writersNow))
        {
            _givenUpTo = Math.Max(_givenUpTo, then.UpTo);
            _writersAt = null;
        }
        if (_givenUpTo >= gapEnd) return true;
        if (_writersNow.Count == 0)
        {
            _givenUpTo = Math.Max(_givenUpTo, highest);
            return true;
        }
        _writersAt ??= (highest, [.. _writersNow]);
        return false;
    }

    /// <summary>
    /// Adds to <paramref name="rows"/> the rows tagged <paramref name="tag"/> (not deleted) after <paramref name="after"/> up
    /// to <paramref name="upTo"/>, in order, at most <paramref name="max"/>.
    /// </summary>
    /// <returns>How many were added.</returns>
    public async Task<int> TaggedAsync(string tag, long after, long upTo, int max, List<Row> rows, CancellationToken cancellationToken)
    {
        if (upTo <= after) return 0;
        var connection = await ConnectionAsync(cancellationToken);
        _tagged ??= Command(connection, _taggedSql, 5);
        _tagged.Parameters[0].Value = after;
        _tagged.Parameters[1].Value = upTo;
        _tagged.Parameters[2].Value = false;
        _tagged.Parameters[3].Value = _tagSeparator + tag + _tagSeparator;
        _tagged.Parameters[4].Value = max;
        var added = 0;
        await using var reader = await _tagged.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            var payload = _serialization.Deserialize((byte[])reader.GetValue(2), reader.GetInt32(4), reader.IsDBNull(3) ? "" : reader.GetString(3));
            rows.Add(new Row(reader.GetInt64(0), reader.GetString(1), payload));
            added++;
        }
        return added;
    }

    /// <summary>Every row tagged <paramref name="tag"/> after <paramref name="after"/> up to <paramref name="upTo"/>, in order.</summary>
    public async Task<List<Row>> AllTaggedAsync(string tag, long after, long upTo, CancellationToken cancellationToken)
    {
        const int page = 1000;
        var rows = new List<Row>();
        while (await TaggedAsync(tag, after, upTo, page, rows, cancellationToken) == page)
            after = rows[^1].Ordering;
        return rows;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var command in new[] { _max, _count, _orderingsAfter, _tagged, _writers })
            if (command is not null) await command.DisposeAsync();
        if (_connection is not null) await _connection.DisposeAsync();
    }

    /// <summary>
    /// The journal's plugin makes its table on its first write, after a fresh node's ledger starts: until then nothing is
    /// written, so there is nothing to follow (and no error to report).
    /// </summary>
    private async Task<bool> TableExistsAsync(DbConnection connection, CancellationToken cancellationToken)
    {
        if (_tableExists) return true;
        await using var command = Command(connection, _tableExistsSql, 1);
        command.Parameters[0].Value = _tableName;
        return _tableExists = Convert.ToBoolean(await command.ExecuteScalarAsync(cancellationToken));
    }

    private async Task<DbConnection> ConnectionAsync(CancellationToken cancellationToken)
    {
        if (_connection is not null) return _connection;
        var connection = _connect();
        await connection.OpenAsync(cancellationToken);
        return _connection = connection;
    }

    private static DbCommand Command(DbConnection connection, string sql, int parameters)
    {
        var command = connection.CreateCommand();
        command.CommandText = sql;
        for (var i = 0; i < parameters; i++)
        {
            var p = command.CreateParameter();
            p.ParameterName = "@p" + i;
            command.Parameters.Add(p);
        }
        return command;
    }

    private static string Q(string name) => RecoveryReads.Quote(name);
}
