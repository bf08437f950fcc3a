using System.Data.Common;
using Akka.Configuration;
using Microsoft.Data.Sqlite;
using Npgsql;
using Restock.Actors.Engine.Hosting;
using Restock.Actors.Domain.Inventory;
using Restock.Actors.Domain.Refunds;

namespace Restock.Actors.Engine.Ledger;

/// <summary>
/// The restock ledger's tables, in the journal's database: the ledger itself, the refunds not restocked, the refund
/// lines needing attention, and the projections' offsets. Rows and offset are written in one transaction, and rows are unique per (refund, SKU),
/// so a crash anywhere neither skips nor doubles an entry. Reads never touch the actors.
/// </summary>
public sealed class LedgerStore
{
    private readonly string _connectionString;
    private readonly bool _sqlite;
    private readonly TimeSpan _manualRestockWindow;
    private readonly TimeProvider _clock;

    /// <param name="manualRestockWindow">How long after a refund the "not restocked" list offers it (the SKUs' setting).</param>
    public LedgerStore(string connectionString, bool sqlite, TimeSpan? manualRestockWindow = null, TimeProvider? clock = null)
    {
        _connectionString = connectionString;
        _sqlite = sqlite;
        _manualRestockWindow = manualRestockWindow ?? SkuState.DefaultManualRestockWindow;
        _clock = clock ?? TimeProvider.System;
    }

    public static LedgerStore From(Config config) =>
        new(config.GetString(RestockConfig.JournalConnectionString), JournalStore.IsSqlite(config),
            config.GetTimeSpan("restock.inventory.manual-restock-window"));

    /// <summary>A ledger event as the projection hands it over: its journal offset and the SKU it happened to.</summary>
    public sealed record Change(long Offset, string SkuId, ILedgerEvent Event);

    public async Task EnsureSchemaAsync(CancellationToken cancellationToken = default)
    {
        var id = _sqlite ? "INTEGER PRIMARY KEY AUTOINCREMENT" : "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY";
        await using var connection = await OpenAsync(cancellationToken);
        await using var tx = await connection.BeginTransactionAsync(cancellationToken);
        // PostgreSQL's IF NOT EXISTS is not safe against itself: nodes starting together on an empty database failed
        // with a duplicate key in pg_type. A transaction-scoped advisory lock makes them create the tables one by one.
        if (!_sqlite) await Execute(connection, tx, $"SELECT pg_advisory_xact_lock({JournalStore.SchemaLock})");
        await Execute(connection, tx, $"""
            CREATE TABLE IF NOT EXISTS restock_ledger (
                ledger_id {id},
                shop_id VARCHAR(128) NOT NULL, order_id VARCHAR(128) NOT NULL, refund_id VARCHAR(128) NOT NULL,
                sku_id VARCHAR(128) NOT NULL, quantity BIGINT NOT NULL, stock_before BIGINT NOT NULL, stock_after BIGINT NOT NULL,
                trigger_kind VARCHAR(16) NOT NULL, setting_version BIGINT NOT NULL, at_ms BIGINT NOT NULL,
                UNIQUE (refund_id, sku_id));
            CREATE INDEX IF NOT EXISTS restock_ledger_order ON restock_ledger (order_id, ledger_id);
            CREATE INDEX IF NOT EXISTS restock_ledger_sku ON restock_ledger (sku_id, ledger_id);
            CREATE INDEX IF NOT EXISTS restock_ledger_shop ON restock_ledger (shop_id, ledger_id);
            CREATE TABLE IF NOT EXISTS not_restocked (
                entry_id {id},
                shop_id VARCHAR(128) NOT NULL, order_id VARCHAR(128) NOT NULL, refund_id VARCHAR(128) NOT NULL,
                sku_id VARCHAR(128) NOT NULL, quantity BIGINT NOT NULL, setting_version BIGINT NOT NULL, refunded_at_ms BIGINT NOT NULL,
                UNIQUE (refund_id, sku_id));
            CREATE INDEX IF NOT EXISTS not_restocked_shop ON not_restocked (shop_id, entry_id);
            CREATE TABLE IF NOT EXISTS refunds_needing_attention (
                entry_id {id},
                shop_id VARCHAR(128) NOT NULL, order_id VARCHAR(128) NOT NULL, refund_id VARCHAR(128) NOT NULL,
                sku_id VARCHAR(128) NOT NULL, quantity BIGINT NOT NULL, code VARCHAR(64) NOT NULL, message VARCHAR(1000),
                since_ms BIGINT NOT NULL, parked_at_ms BIGINT NOT NULL,
                UNIQUE (order_id, refund_id, sku_id));
            CREATE INDEX IF NOT EXISTS refunds_needing_attention_shop ON refunds_needing_attention (shop_id, entry_id);
            CREATE TABLE IF NOT EXISTS ledger_offset (projection VARCHAR(64) PRIMARY KEY, last_ordering BIGINT NOT NULL);
            """);
        await tx.CommitAsync(cancellationToken);
    }

    /// <summary>Whether the database answers within <paramref name="timeout"/>.</summary>
    public async Task<bool> PingAsync(TimeSpan timeout)
    {
        using var cancel = new CancellationTokenSource(timeout);
        try
        {
            await using var connection = await OpenAsync(cancel.Token);
            await using var command = Command(connection, null, "SELECT 1");
            await command.ExecuteScalarAsync(cancel.Token);
            return true;
        }
        catch (Exception e) when (e is DbException or OperationCanceledException or TimeoutException)
        {
            return false;
        }
    }

    public async Task<long> ReadOffsetAsync(string projection, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = Command(connection, null, "SELECT last_ordering FROM ledger_offset WHERE projection = @p", ("p", projection));
        return await command.ExecuteScalarAsync(cancellationToken) is { } value and not DBNull ? Convert.ToInt64(value) : 0;
    }

    /// <summary>
    /// Stores <paramref name="offset"/> as <paramref name="name"/>'s offset unless a higher one is stored: an old
    /// projection still finishing after a singleton handoff, or the follow loop after a reconciliation pass stored it,
    /// never moves it back.
    /// </summary>
    public Task StoreReadPastAsync(string name, long offset, CancellationToken cancellationToken = default) =>
        OneWriter(async () =>
        {
            await using var connection = await OpenAsync(cancellationToken);
            await Execute(connection, null, StoreOffsetForwardSql, ("p", name), ("o", offset));
        }, cancellationToken);

    /// <summary>
    /// Writes a batch of changes and the offset of the last one, all or nothing; changes at or below the stored offset
    /// are skipped (see <see cref="LockOffset"/>).
    /// </summary>
    /// <returns>The changes written.</returns>
    public Task<IReadOnlyList<Change>> WriteAsync(string projection, IReadOnlyList<Change> changes, CancellationToken cancellationToken = default) =>
        WriteAheadAsync(projection, changes, c => c.Offset, (batch, change) => Apply(batch, change, ifNotRestocked: false), cancellationToken);

    /// <summary>
    /// Writes the changes above the projection's stored offset (read under <see cref="LockOffset"/>) and the offset of the
    /// last one, all or nothing, in the one writer's turn.
    /// </summary>
    /// <returns>The changes written.</returns>
    private async Task<IReadOnlyList<T>> WriteAheadAsync<T>(string projection, IReadOnlyList<T> changes, Func<T, long> offsetOf,
        Func<Batch, T, Task> apply, CancellationToken cancellationToken)
    {
        if (changes.Count == 0) return [];
        IReadOnlyList<T> written = [];
        await OneWriter(async () =>
        {
            await using var connection = await OpenAsync(cancellationToken);
            await using var tx = await connection.BeginTransactionAsync(cancellationToken);
            await using var batch = new Batch(connection, tx);
            var stored = await LockOffset(batch, projection);
            var ahead = changes.Where(c => offsetOf(c) > stored).ToList();
            if (ahead.Count == 0) return;
            foreach (var change in ahead)
                await apply(batch, change);
            await StoreOffset(batch, projection, offsetOf(ahead[^1]));
            await tx.CommitAsync(cancellationToken);
            written = ahead;
        }, cancellationToken);
        return written;
    }

    /// <summary>
    /// Writes whichever of these changes the ledger lacks (in journal order, all or nothing) and stores
    /// <paramref name="checkedUpTo"/> as <paramref name="watermark"/>'s offset. A line refunded without restock is
    /// put back on the "not restocked" list only if no restock of it is in the ledger.
    /// </summary>
    /// <returns>The changes that were missing, now written.</returns>
    public async Task<IReadOnlyList<Change>> RepairAsync(string watermark, long checkedUpTo, IReadOnlyList<Change> changes,
        CancellationToken cancellationToken = default)
    {
        IReadOnlyList<Change> repaired = [];
        await OneWriter(async () => repaired = await RepairChangesAsync(watermark, checkedUpTo, changes, cancellationToken), cancellationToken);
        return repaired;
    }

    private async Task<IReadOnlyList<Change>> RepairChangesAsync(string watermark, long checkedUpTo, IReadOnlyList<Change> changes,
        CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var tx = await connection.BeginTransactionAsync(cancellationToken);
        await using var batch = new Batch(connection, tx);
        // The projection's offset first, as the projection's write takes it. A pass that wrote its rows first and then
        // waited for the offset deadlocked on PostgreSQL with a projection write holding the offset and inserting one of
        // those rows. Holding it, no projection write is half done: one that committed before is seen by each statement
        // below (a line restocked by hand is not put back on the "not restocked" list), and one that follows sees this pass
        // (its restock by hand deletes the line from the list).
        await LockOffset(batch, LedgerProjection.Name);
        var repaired = new List<Change>();
        foreach (var change in changes)
        {
            if (await Apply(batch, change, ifNotRestocked: true))
                repaired.Add(change);
        }
        await StoreOffset(batch, watermark, checkedUpTo);
        await tx.CommitAsync(cancellationToken);
        return repaired;
    }

    /// <returns>Whether a row was added.</returns>
    private static async Task<bool> Apply(Batch batch, Change change, bool ifNotRestocked)
    {
        switch (change.Event)
        {
            case LineRefunded { Restock: RefundRestock.Restocked } e:
                return await InsertRestock(batch, e.ShopId, e.OrderId, e.RefundId, change.SkuId, e.Quantity, e.AvailableAfter,
                    RestockTrigger.Auto, e.SettingVersion, e.At);
            case LineRefunded { Restock: RefundRestock.NotRestocked } e:
                // SQLite needs a WHERE in INSERT ... SELECT ... ON CONFLICT to parse it.
                var guard = ifNotRestocked
                    ? "WHERE NOT EXISTS (SELECT 1 FROM restock_ledger WHERE refund_id = @refund AND sku_id = @sku)"
                    : "WHERE TRUE";
                return await batch.Execute($"""
                    INSERT INTO not_restocked (shop_id, order_id, refund_id, sku_id, quantity, setting_version, refunded_at_ms)
                    SELECT @shop, @order, @refund, @sku, @qty, @version, @at {guard}
                    ON CONFLICT (refund_id, sku_id) DO NOTHING
                    """, ("shop", e.ShopId), ("order", e.OrderId), ("refund", e.RefundId), ("sku", change.SkuId),
                    ("qty", e.Quantity), ("version", e.SettingVersion), ("at", e.At.ToUnixTimeMilliseconds())) > 0;
            case RefundRestocked e:
                var added = await InsertRestock(batch, e.ShopId, e.OrderId, e.RefundId, change.SkuId, e.Quantity, e.AvailableAfter,
                    e.Trigger, e.SettingVersion, e.At);
                await batch.Execute("DELETE FROM not_restocked WHERE refund_id = @refund AND sku_id = @sku",
                    ("refund", e.RefundId), ("sku", change.SkuId));
                return added;
            default:
                return false;
        }
    }

    /// <summary>A refund event for the "needs attention" list, with its journal offset.</summary>
    public sealed record AttentionChange(long Offset, IRefundAttentionEvent Event);

    /// <summary>
    /// Parked lines join the list, re-armed ones leave it; with the offset of the last change, all or nothing; changes at
    /// or below the stored offset are skipped (see <see cref="LockOffset"/>).
    /// </summary>
    /// <returns>The changes written.</returns>
    public Task<IReadOnlyList<AttentionChange>> WriteAttentionAsync(string projection, IReadOnlyList<AttentionChange> changes,
        CancellationToken cancellationToken = default) =>
        WriteAheadAsync(projection, changes, c => c.Offset, ApplyAttention, cancellationToken);

    private static async Task ApplyAttention(Batch batch, AttentionChange change)
    {
        switch (change.Event)
        {
            case LineParked e:
                await InsertParked(batch, e);
                break;
            case LinesRearmed e:
                foreach (var sku in e.SkuIds)
                    await batch.Execute("DELETE FROM refunds_needing_attention WHERE order_id = @order AND refund_id = @refund AND sku_id = @sku",
                        ("order", e.OrderId), ("refund", e.RefundId), ("sku", sku));
                break;
        }
    }

    /// <summary>
    /// Makes the "needs attention" list agree with these changes (in journal order): a line whose last change is
    /// "parked" must be listed, one whose last change is "re-armed" must not be. Stores <paramref name="checkedUpTo"/>
    /// as <paramref name="watermark"/>'s offset, all or nothing. The changes were read up to <paramref name="readUpTo"/>, at
    /// least the list's stored offset then: if the projection has written the list beyond it since, a line's last change may
    /// lie beyond them (listing a line re-armed since would bring it back), so nothing is written and the next pass tries again.
    /// </summary>
    /// <returns>The rows that were missing or stale and are now right.</returns>
    public async Task<AttentionRepair> RepairAttentionAsync(string watermark, long checkedUpTo, long readUpTo, IReadOnlyList<AttentionChange> changes,
        CancellationToken cancellationToken = default)
    {
        var last = new Dictionary<(string Order, string Refund, string Sku), IRefundAttentionEvent>();
        foreach (var change in changes)
        {
            switch (change.Event)
            {
                case LineParked e:
                    last[(e.OrderId, e.RefundId, e.SkuId)] = e;
                    break;
                case LinesRearmed e:
                    foreach (var sku in e.SkuIds) last[(e.OrderId, e.RefundId, sku)] = e;
                    break;
            }
        }
        var repaired = AttentionRepair.None;
        await OneWriter(async () => repaired = await RepairAttentionRowsAsync(watermark, checkedUpTo, readUpTo, last, cancellationToken),
            cancellationToken);
        return repaired;
    }

    private async Task<AttentionRepair> RepairAttentionRowsAsync(string watermark, long checkedUpTo, long readUpTo,
        Dictionary<(string Order, string Refund, string Sku), IRefundAttentionEvent> last, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var tx = await connection.BeginTransactionAsync(cancellationToken);
        await using var batch = new Batch(connection, tx);
        // Parked and re-armed lines are rare, so the list's offset seldom moves during a pass.
        if (await LockOffset(batch, LedgerProjection.AttentionName) > readUpTo) return AttentionRepair.None;
        var added = new List<LineParked>();
        var removed = 0;
        foreach (var ((order, refund, sku), e) in last)
        {
            if (e is LineParked parked)
            {
                if (await InsertParked(batch, parked) > 0) added.Add(parked);
            }
            else
                removed += await batch.Execute("DELETE FROM refunds_needing_attention WHERE order_id = @order AND refund_id = @refund AND sku_id = @sku",
                    ("order", order), ("refund", refund), ("sku", sku));
        }
        await StoreOffset(batch, watermark, checkedUpTo);
        await tx.CommitAsync(cancellationToken);
        return new AttentionRepair(added, removed);
    }

    /// <summary>What a reconciliation pass changed on the "needs attention" list (committed).</summary>
    /// <param name="Added">The parked lines it listed, which the list lacked.</param>
    /// <param name="Removed">The rows of re-armed lines it took off the list.</param>
    public sealed record AttentionRepair(IReadOnlyList<LineParked> Added, int Removed)
    {
        public static readonly AttentionRepair None = new([], 0);

        public int Rows => Added.Count + Removed;
    }

    private static Task<int> InsertParked(Batch batch, LineParked e) =>
        batch.Execute("""
            INSERT INTO refunds_needing_attention (shop_id, order_id, refund_id, sku_id, quantity, code, message, since_ms, parked_at_ms)
            VALUES (@shop, @order, @refund, @sku, @qty, @code, @message, @since, @at)
            ON CONFLICT (order_id, refund_id, sku_id) DO NOTHING
            """, ("shop", e.ShopId), ("order", e.OrderId), ("refund", e.RefundId), ("sku", e.SkuId), ("qty", e.Quantity),
            ("code", e.Code), ("message", (object?)e.Message ?? DBNull.Value), ("since", e.Since.ToUnixTimeMilliseconds()),
            ("at", e.At.ToUnixTimeMilliseconds()));

    /// <summary>How many refund lines the "needs attention" list holds, and the list's stored offset then.</summary>
    public sealed record AttentionCount(long Lines, long Offset);

    /// <summary>How many refund lines the "needs attention" list holds now, read in one statement with the list's stored offset.</summary>
    public async Task<AttentionCount> CountNeedingAttentionAsync(CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = Command(connection, null, """
            SELECT (SELECT COUNT(*) FROM refunds_needing_attention),
                   COALESCE((SELECT last_ordering FROM ledger_offset WHERE projection = @p), 0)
            """, ("p", LedgerProjection.AttentionName));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        return new AttentionCount(reader.GetInt64(0), reader.GetInt64(1));
    }

    /// <summary>Refund lines parked as needing attention, newest first, paged like the ledger.</summary>
    public async Task<LedgerPage<NeedsAttentionEntry>> NeedsAttentionAsync(LedgerQuery q, CancellationToken cancellationToken = default)
    {
        var (where, args) = Filter(q, "entry_id", "parked_at_ms");
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = Command(connection, null, $"""
            SELECT entry_id, shop_id, order_id, refund_id, sku_id, quantity, code, message, since_ms, parked_at_ms
            FROM refunds_needing_attention WHERE {where} ORDER BY entry_id DESC LIMIT {q.Limit + 1}
            """, args);
        var rows = new List<NeedsAttentionEntry>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
            rows.Add(new NeedsAttentionEntry(reader.GetInt64(0), reader.GetString(1), reader.GetString(2), reader.GetString(3),
                reader.GetString(4), reader.GetInt64(5), reader.GetString(6), reader.IsDBNull(7) ? null : reader.GetString(7),
                DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(8)), DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(9))));
        return Page(rows, q.Limit, r => r.EntryId);
    }

    private const string StoreOffsetSql = """
        INSERT INTO ledger_offset (projection, last_ordering) VALUES (@p, @o)
        ON CONFLICT (projection) DO UPDATE SET last_ordering = excluded.last_ordering
        """;

    // The same, for an offset that only moves forward (see StoreReadPastAsync).
    private const string StoreOffsetForwardSql = StoreOffsetSql + " WHERE ledger_offset.last_ordering < excluded.last_ordering";

    private static Task StoreOffset(Batch batch, string projection, long offset) =>
        batch.Execute(StoreOffsetSql, ("p", projection), ("o", offset));

    /// <summary>
    /// The projection's stored offset, its row locked until the transaction ends. After a singleton handoff (or a restart)
    /// the old projection's follow loop may still finish a write while the new one runs: both read the same journal in the
    /// same order, so whatever is at or below the stored offset has been written already, and written again late it would
    /// undo what came after it (a parked line listed again after its re-arm, a line back on the "not restocked" list after
    /// its manual restock) and move the offset back. Writers skip those changes, so the offset only moves forward.
    /// </summary>
    private async Task<long> LockOffset(Batch batch, string projection)
    {
        // On PostgreSQL the row lock orders two writers; on SQLite the transaction holds the file's write lock already.
        await batch.Execute("INSERT INTO ledger_offset (projection, last_ordering) VALUES (@p, 0) ON CONFLICT (projection) DO NOTHING",
            ("p", projection));
        var lockRow = _sqlite ? "" : " FOR UPDATE";
        return await batch.Scalar($"SELECT last_ordering FROM ledger_offset WHERE projection = @p{lockRow}", ("p", projection));
    }

    public async Task<LedgerPage<RestockEntry>> SearchAsync(LedgerQuery q, CancellationToken cancellationToken = default)
    {
        var (where, args) = Filter(q, "ledger_id", "at_ms");
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = Command(connection, null, $"""
            SELECT ledger_id, shop_id, order_id, refund_id, sku_id, quantity, stock_before, stock_after, trigger_kind, setting_version, at_ms
            FROM restock_ledger WHERE {where} ORDER BY ledger_id DESC LIMIT {q.Limit + 1}
            """, args);
        var rows = new List<RestockEntry>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
            rows.Add(new RestockEntry(reader.GetInt64(0), reader.GetString(1), reader.GetString(2), reader.GetString(3),
                reader.GetString(4), reader.GetInt64(5), reader.GetInt64(6), reader.GetInt64(7),
                Enum.Parse<RestockTrigger>(reader.GetString(8)), reader.GetInt64(9), DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(10))));
        return Page(rows, q.Limit, r => r.LedgerId);
    }

    /// <summary>
    /// The shop's refunded lines not restocked that may still be restocked by hand: those whose manual-restock window
    /// (counted from the refund, as the SKU counts it) has closed are no longer offered.
    /// </summary>
    public async Task<LedgerPage<NotRestockedEntry>> NotRestockedAsync(LedgerQuery q, CancellationToken cancellationToken = default)
    {
        var windowOpenFrom = _clock.GetUtcNow() - _manualRestockWindow;
        var (where, args) = Filter(q with { From = q.From is { } from && from > windowOpenFrom ? from : windowOpenFrom }, "entry_id", "refunded_at_ms");
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = Command(connection, null, $"""
            SELECT entry_id, shop_id, order_id, refund_id, sku_id, quantity, setting_version, refunded_at_ms
            FROM not_restocked WHERE {where} ORDER BY entry_id DESC LIMIT {q.Limit + 1}
            """, args);
        var rows = new List<NotRestockedEntry>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
            rows.Add(new NotRestockedEntry(reader.GetInt64(0), reader.GetString(1), reader.GetString(2), reader.GetString(3),
                reader.GetString(4), reader.GetInt64(5), reader.GetInt64(6), DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(7))));
        return Page(rows, q.Limit, r => r.EntryId);
    }

    /// <summary>
    /// Whether the ledger lists this refund line as refunded and never restocked, whatever its age. A SKU compacts such
    /// a refund once its manual-restock window has closed, so a SKU that no longer knows a listed one has closed it.
    /// </summary>
    public async Task<bool> ListedAsNotRestockedAsync(string refundId, string skuId, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = Command(connection, null, "SELECT 1 FROM not_restocked WHERE refund_id = @refund AND sku_id = @sku",
            ("refund", refundId), ("sku", skuId));
        return await command.ExecuteScalarAsync(cancellationToken) is not null and not DBNull;
    }

    private static (string Where, (string, object)[] Args) Filter(LedgerQuery q, string idColumn, string timeColumn)
    {
        var clauses = new List<string>();
        var args = new List<(string, object)>();
        void Add(string clause, string name, object? value)
        {
            if (value is null) return;
            clauses.Add(clause);
            args.Add((name, value));
        }
        Add("shop_id = @shop", "shop", q.ShopId);
        Add("order_id = @order", "order", q.OrderId);
        Add("sku_id = @sku", "sku", q.SkuId);
        Add($"{timeColumn} >= @from", "from", q.From?.ToUnixTimeMilliseconds());
        Add($"{timeColumn} < @to", "to", q.To?.ToUnixTimeMilliseconds());
        Add($"{idColumn} < @cursor", "cursor", q.Cursor);
        return (clauses.Count == 0 ? "1 = 1" : string.Join(" AND ", clauses), args.ToArray());
    }

    private static LedgerPage<T> Page<T>(List<T> rows, int limit, Func<T, long> id) =>
        rows.Count > limit ? new(rows.Take(limit).ToList(), id(rows[limit - 1])) : new(rows, null);

    private static async Task<bool> InsertRestock(Batch batch, string shopId, string orderId, string refundId, string skuId,
        long quantity, long availableAfter, RestockTrigger trigger, long settingVersion, DateTimeOffset at) =>
        await batch.Execute("""
            INSERT INTO restock_ledger (shop_id, order_id, refund_id, sku_id, quantity, stock_before, stock_after, trigger_kind, setting_version, at_ms)
            VALUES (@shop, @order, @refund, @sku, @qty, @before, @after, @trigger, @version, @at)
            ON CONFLICT (refund_id, sku_id) DO NOTHING
            """, ("shop", shopId), ("order", orderId), ("refund", refundId), ("sku", skuId), ("qty", quantity),
            ("before", availableAfter - quantity), ("after", availableAfter), ("trigger", trigger.ToString()),
            ("version", settingVersion), ("at", at.ToUnixTimeMilliseconds())) > 0;

    /// <summary>
    /// On SQLite a write transaction of the ledger takes its turn with the engine's other writes to the file (the journal,
    /// snapshots) instead of meeting them at SQLite's write lock: the journal then waits for it without holding a thread.
    /// </summary>
    private Task OneWriter(Func<Task> write, CancellationToken cancellationToken) =>
        _sqlite ? SqliteWriter.RunAsync(_connectionString, write, cancellationToken) : write();

    /// <summary>A connection to the ledger's database; internal for tests, which write on it outside the writers' turn.</summary>
    internal async Task<DbConnection> OpenAsync(CancellationToken cancellationToken)
    {
        DbConnection connection = _sqlite ? new SqliteConnection(_connectionString) : new NpgsqlConnection(_connectionString);
        await connection.OpenAsync(cancellationToken);
        if (!_sqlite) return connection;
        // Its writes take the writers' turn of the journal's file (OneWriter): a commit that checkpointed there would hold
        // every journal write meanwhile.
        SqliteWriter.LeaveCheckpointsToCheckpointer((SqliteConnection)connection);
        // SQLite has one writer at a time. Wait for the journal's write inside SQLite (fine-grained) rather than in
        // Microsoft.Data.Sqlite's retry loop, which sleeps in long steps.
        await Execute(connection, null, "PRAGMA busy_timeout = 10000;");
        return connection;
    }

    /// <returns>The number of rows changed.</returns>
    private static async Task<int> Execute(DbConnection connection, DbTransaction? tx, string sql, params (string Name, object Value)[] args)
    {
        await using var command = Command(connection, tx, sql, args);
        return await command.ExecuteNonQueryAsync();
    }

    private static DbCommand Command(DbConnection connection, DbTransaction? tx, string sql, params (string Name, object Value)[] args)
    {
        var command = connection.CreateCommand();
        command.Transaction = tx;
        command.CommandText = sql;
        foreach (var (name, value) in args)
        {
            var p = command.CreateParameter();
            p.ParameterName = "@" + name;
            p.Value = value;
            command.Parameters.Add(p);
        }
        return command;
    }

    /// <summary>
    /// The statements of one write transaction, each a command executed again with new values (Microsoft.Data.Sqlite
    /// keeps a command's compiled statement): the projection writes hundreds of rows per transaction while SQLite's one
    /// write lock is held, and the journal's writes wait meanwhile; compiling each row's statement anew lengthened that.
    /// </summary>
    private sealed class Batch(DbConnection connection, DbTransaction tx) : IAsyncDisposable
    {
        private readonly Dictionary<string, DbCommand> _commands = [];

        /// <returns>The number of rows changed.</returns>
        public Task<int> Execute(string sql, params (string Name, object Value)[] args)
        {
            if (_commands.TryGetValue(sql, out var command))
            {
                for (var i = 0; i < args.Length; i++)
                    command.Parameters[i].Value = args[i].Value;
            }
            else
            {
                _commands[sql] = command = Command(connection, tx, sql, args);
            }
            return command.ExecuteNonQueryAsync();
        }

        public async Task<long> Scalar(string sql, params (string Name, object Value)[] args)
        {
            await using var command = Command(connection, tx, sql, args);
            return Convert.ToInt64(await command.ExecuteScalarAsync());
        }

        public async ValueTask DisposeAsync()
        {
            foreach (var command in _commands.Values)
                await command.DisposeAsync();
        }
    }
}
