using System.Collections.Concurrent;
using System.Data.Common;
using System.Runtime.Serialization;
using Akka.Event;
using Akka.Persistence;
using Akka.Persistence.Sql.Config;
using Akka.Persistence.Sql.Snapshot;
using Restock.Actors.Engine.Inventory;
using Config = Akka.Configuration.Config;

namespace Restock.Actors.Engine.Hosting;

/// <summary>
/// A snapshot kept as a head row plus parts written once each (under <see cref="BatchedRecoverySnapshotStore.PartsOf"/>
/// its persistence id), so a snapshot of a large, slowly changing state writes only what changed since the previous one;
/// and pieces of its own (under <see cref="BatchedRecoverySnapshotStore.PiecesOf"/>, keyed by the head's sequence number),
/// each written on its own before the head, so that no single write of a large snapshot holds the store long.
/// </summary>
public interface ISnapshotInParts
{
    /// <summary>The part to write before the head (its key and payload); null when there is nothing new.</summary>
    (long Key, object Part)? NewPart { get; }

    /// <summary>Keys of the parts the head needs, ascending; parts below the first are no longer needed once this head is stored.</summary>
    IReadOnlyList<long> PartKeys { get; }

    /// <summary>How many pieces of its own the head has.</summary>
    int PieceCount { get; }

    /// <summary>Piece <paramref name="index"/>, made when it is written (off the entity's turn).</summary>
    object Piece(int index);

    /// <summary>
    /// The whole snapshot from its head, the parts found under its keys and its pieces in order; null when they do not fit
    /// (missing, or written by another line of snapshots).
    /// </summary>
    object? WithParts(IReadOnlyDictionary<long, object> parts, IReadOnlyList<object> pieces);
}

/// <summary>
/// Akka.Persistence.Sql's snapshot store, where a recovering entity first learns in a query shared with every entity
/// recovering at once whether it has any snapshot. Most SKUs never take one (a SKU snapshots after thousands of events),
/// so their load is answered without a query of its own and without occupying the store's actor; the others read the
/// plugin's row with a query of this store's own (the plugin builds and compiles its linq2db query on a process's first
/// load: ~600 methods to JIT while that SKU recovers, PERFORMANCE-LOG "Goal 5, session 12"). Snapshots in parts
/// (<see cref="ISnapshotInParts"/>) are written part and pieces first, each in a write of its own, head last, one save
/// after the other per entity, and read back whole; a head whose parts or pieces do not fit is passed over for the one
/// before it (then none: the journal replays from the start), and so is a damaged head or part of an entity that never
/// deletes its events (<see cref="NeverDeletesEvents"/>). Pieces a head does not name are deleted once a later head
/// is stored: until then a crash between the pieces and the head leaves the previous head whole.
/// </summary>
public sealed class BatchedRecoverySnapshotStore : OneWriterSnapshotStore
{
    private const int OlderHeadsTried = 3;

    // A head's pieces are stored at its sequence number times this, plus their place.
    private const int PiecesPerHead = 1 << 16;

    private readonly RecoveryReads<string, bool>? _hasSnapshot;
    private readonly StoredIds? _stored;
    private readonly Func<string, long, long, CancellationToken, Task<List<StoredPart>>>? _readParts;
    private readonly Func<string, SnapshotSelectionCriteria, CancellationToken, Task<List<StoredRow>>>? _readLatest;
    private readonly ConcurrentDictionary<string, PartsSaving> _saving = new();
    // Entities known here to have pieces stored (true), or none since a head without pieces deleted them (false): the next
    // head deletes them even if it has none.
    private readonly ConcurrentDictionary<string, bool> _withPieces = new();
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly Akka.Serialization.Serialization _serialization = Context.System.Serialization;
    private readonly CancellationTokenSource _stopping = new();
    private readonly string? _defaultSerializer;

    public BatchedRecoverySnapshotStore(Config snapshotConfig) : base(snapshotConfig)
    {
        var config = new SnapshotConfig(snapshotConfig);
        _defaultSerializer = config.DefaultSerializer;
        if (!Supports(config.ProviderName)) return;
        var table = config.TableConfig.SnapshotTable;
        var c = table.ColumnNames;
        var from = RecoveryReads.Table(config.TableConfig.SchemaName, table.Name);
        var id = RecoveryReads.Quote(c.PersistenceId);
        var sql = $"SELECT DISTINCT {id} FROM {from} WHERE {id}";
        DbConnection Connect() => RecoveryReads.Connect(config.ProviderName, config.ConnectionString);
        _hasSnapshot = new RecoveryReads<string, bool>("has-snapshot",
            (ids, cancel) => RecoveryReads.PerIdAsync(Connect, sql, "", ids, _ => true, false, cancel), RecoveryReads.MaxIdsPerQuery, _stopping.Token,
            RecoveryReads.QueriesAtOnce(snapshotConfig));
        if (BatchingJournal.StoredIdsKept(snapshotConfig, config.ProviderName, Context.System.Settings.Config))
            _stored = StoredIds.For(Context.System, "snapshots " + from + " " + config.ConnectionString, cancel =>
                RecoveryReads.QueryAsync(Connect, $"SELECT DISTINCT {id} FROM {from}", [], r => r.GetString(0), cancel));

        var seq = RecoveryReads.Quote(c.SequenceNumber);
        var parts = $"SELECT {seq}, {RecoveryReads.Quote(c.Snapshot)}, {RecoveryReads.Quote(c.Manifest)}, {RecoveryReads.Quote(c.SerializerId)} " +
                    $"FROM {from} WHERE {id} = @p0 AND {seq} >= @p1 AND {seq} <= @p2 ORDER BY {seq}";
        _readParts = (persistenceId, first, last, cancel) => RecoveryReads.QueryAsync(Connect, parts, [persistenceId, first, last],
            r => new StoredPart(r.GetInt64(0), (byte[])r.GetValue(1), r.IsDBNull(2) ? "" : r.GetString(2), r.IsDBNull(3) ? null : r.GetInt32(3)),
            cancel);
        // The plugin's row (created in ticks, the serializer and manifest stored with it), selected as the plugin selects: the
        // highest sequence number within the criteria's maximum sequence number and time. Read before it is deserialized, so
        // that a damaged one is known by its sequence number.
        var created = RecoveryReads.Quote(c.Created);
        var latest = $"SELECT {seq}, {created}, {RecoveryReads.Quote(c.Snapshot)}, {RecoveryReads.Quote(c.Manifest)}, {RecoveryReads.Quote(c.SerializerId)} " +
                     $"FROM {from} WHERE {id} = @p0 AND {seq} <= @p1 AND {created} <= @p2 ORDER BY {seq} DESC LIMIT 1";
        _readLatest = (persistenceId, criteria, cancel) => RecoveryReads.QueryAsync(Connect, latest,
            [persistenceId, criteria.MaxSequenceNr, criteria.MaxTimeStamp.Ticks],
            r => new StoredRow(r.GetInt64(0), r.GetInt64(1), (byte[])r.GetValue(2), r.IsDBNull(3) ? "" : r.GetString(3), r.IsDBNull(4) ? null : r.GetInt32(4)),
            cancel);
    }

    private sealed record StoredRow(long SequenceNr, long Created, byte[] Payload, string Manifest, int? SerializerId);

    /// <summary>A part's or piece's row as read, deserialized only if the head names it.</summary>
    private sealed record StoredPart(long Key, byte[] Payload, string Manifest, int? SerializerId);

    /// <summary>Whether this store reads snapshots in parts with the configuration given (SQLite and PostgreSQL).</summary>
    public static bool Supports(string providerName) => RecoveryReads.Supports(providerName);

    /// <summary>Where the parts of an entity's snapshots are stored: no entity's persistence id starts like this.</summary>
    public static string PartsOf(string persistenceId) => "parts#" + persistenceId;

    /// <summary>Where the pieces of an entity's snapshot heads are stored.</summary>
    public static string PiecesOf(string persistenceId) => "pieces#" + persistenceId;

    /// <summary>The key of piece <paramref name="index"/> of the head at <paramref name="sequenceNr"/>: a later head's pieces lie above every earlier head's.</summary>
    public static long PieceKey(long sequenceNr, int index) => checked(sequenceNr * PiecesPerHead) + index;

    /// <summary>
    /// Whether the entity of <paramref name="persistenceId"/> never deletes its events: a SKU, the one entity that snapshots
    /// in parts. Its snapshot, if damaged (head or part), is passed over for an earlier one or the journal from the first
    /// event, which recover it whole, where failing the load would fail its recovery at every attempt until the row is
    /// mended. Any other entity's damaged snapshot fails its recovery: sharding's stores, shop settings or refund
    /// coordinators may delete events or depend on their snapshot.
    /// </summary>
    public static bool NeverDeletesEvents(string persistenceId) => SkuActor.IsPersistenceId(persistenceId);

    protected override async Task<SelectedSnapshot?> LoadAsync(string persistenceId, SnapshotSelectionCriteria criteria, CancellationToken cancellationToken)
    {
        if (_stored?.MayHaveRows(persistenceId, _stopping.Token) == false) return null;
        if (_hasSnapshot is not null && !await _hasSnapshot.Read(persistenceId)) return null;
        if (_readLatest is null) return await base.LoadAsync(persistenceId, criteria, cancellationToken);
        for (var tried = 0; ; tried++)
        {
            var rows = await _readLatest(persistenceId, criteria, cancellationToken);
            if (rows.Count == 0) return null;
            var sequenceNr = rows[0].SequenceNr;
            try
            {
                var selected = Read(persistenceId, rows[0]);
                // A SKU takes only its own snapshot's type and would replay only the events after any other: a row that
                // reads back as another type (or as nothing), whatever serializer or type name it names, is damage.
                if (NeverDeletesEvents(persistenceId) && selected.Snapshot is not SkuSnapshot)
                    throw new SerializationException($"a snapshot row of a SKU reading as another type: serializer {rows[0].SerializerId?.ToString() ?? "by type name"}, '{rows[0].Manifest}'");
                if (selected.Snapshot is not ISnapshotInParts head) return selected;
                if (await WithPartsAsync(persistenceId, sequenceNr, head, cancellationToken) is { } whole)
                {
                    if (head.PieceCount > 0) _withPieces[persistenceId] = true;
                    return new SelectedSnapshot(selected.Metadata, whole);
                }
                _log.Warning("The snapshot of {0} at {1} misses parts it was written with; trying an earlier one", persistenceId, sequenceNr);
            }
            catch (SerializationException e) when (NeverDeletesEvents(persistenceId))
            {
                _log.Error(e, "The snapshot of {0} at {1} is damaged; trying an earlier one", persistenceId, sequenceNr);
            }
            // A head passed over may have pieces: the entity's next save deletes them (none of its own to name them).
            _withPieces[persistenceId] = true;
            if (tried == OlderHeadsTried || sequenceNr <= 1) return null;
            criteria = new SnapshotSelectionCriteria(sequenceNr - 1, criteria.MaxTimeStamp, criteria.MinSequenceNr, criteria.MinTimestamp);
        }
    }

    private SelectedSnapshot Read(string persistenceId, StoredRow row) =>
        new(new SnapshotMetadata(persistenceId, row.SequenceNr, new DateTime(row.Created)), Deserialize(row.Payload, row.SerializerId, row.Manifest));

    /// <summary>
    /// A row deserialized (a head, a part or a piece), as the plugin deserializes it: one without a serializer id (written by
    /// another tool) names its type, read by the serializer bound to it. The row is read already, so whatever fails here is
    /// the row's damage (its manifest names no type of this build, its bytes do not read back), and it is one exception
    /// whoever finds it: <see cref="SerializationException"/>, which passes a SKU's snapshot over.
    /// </summary>
    private object Deserialize(byte[] payload, int? serializerId, string manifest)
    {
        try
        {
            return serializerId is { } id ? _serialization.Deserialize(payload, id, manifest) : ByTypeName(payload, manifest);
        }
        // Memory running out is no damage of the row's.
        catch (Exception e) when (e is not (SerializationException or OutOfMemoryException))
        {
            throw new SerializationException($"a snapshot row under '{manifest}' that does not read back: {e.Message}", e);
        }
    }

    private object Deserialize(StoredPart row) => Deserialize(row.Payload, row.SerializerId, row.Manifest);

    private object ByTypeName(byte[] payload, string manifest)
    {
        var type = Type.GetType(manifest, throwOnError: true)!;
        var serializer = _serialization.FindSerializerForType(type, _defaultSerializer);
        return Akka.Serialization.Serialization.WithTransport(_serialization.System, (serializer, payload, type),
            state => state.serializer.FromBinary(state.payload, state.type));
    }

    private async Task<object?> WithPartsAsync(string persistenceId, long sequenceNr, ISnapshotInParts head, CancellationToken cancellationToken)
    {
        var keys = head.PartKeys;
        var named = keys.ToHashSet();
        // Rows between the head's keys that it does not name (left by a line of snapshots passed over, whose chunks above
        // the next line's first key stay until its ids are forgotten) are not read: damage in one is no damage of this head's.
        var parts = keys.Count == 0 ? [] : await _readParts!(PartsOf(persistenceId), keys[0], keys[^1], cancellationToken);
        var pieces = head.PieceCount == 0
            ? []
            : await _readParts!(PiecesOf(persistenceId), PieceKey(sequenceNr, 0), PieceKey(sequenceNr, head.PieceCount - 1), cancellationToken);
        return head.WithParts(parts.Where(r => named.Contains(r.Key)).ToDictionary(r => r.Key, Deserialize),
            pieces.Select(Deserialize).ToList());
    }

    /// <summary>
    /// A snapshot in parts: its new part and its pieces, then its head, then the parts and pieces no head from now on needs
    /// are deleted. Saves of one
    /// entity run one after the other in the order sent, so a later head never lands before the part an earlier save
    /// writes; one that needs a part an earlier save failed to write is refused (its head would not load).
    /// </summary>
    protected override Task SaveAsync(SnapshotMetadata metadata, object snapshot, CancellationToken cancellationToken)
    {
        _stored?.Writing(metadata.PersistenceId);
        if (snapshot is not ISnapshotInParts inParts || _readParts is null) return base.SaveAsync(metadata, snapshot, cancellationToken);
        var pid = metadata.PersistenceId;
        var saving = new PartsSaving();
        saving.Done = SaveInPartsAsync(_saving.GetValueOrDefault(pid), saving, metadata, inParts, cancellationToken);
        _saving[pid] = saving;
        // A failed save stays until the entity's next one, which must know what it failed to write.
        _ = saving.Done.ContinueWith(t => _saving.TryRemove(new KeyValuePair<string, PartsSaving>(pid, saving)), CancellationToken.None,
            TaskContinuationOptions.OnlyOnRanToCompletion | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        return saving.Done;
    }

    private sealed class PartsSaving
    {
        public Task Done = Task.CompletedTask;

        /// <summary>Parts this save may have left unwritten (set before it completes).</summary>
        public readonly HashSet<long> Unsaved = [];
    }

    private async Task SaveInPartsAsync(PartsSaving? previous, PartsSaving mine, SnapshotMetadata metadata, ISnapshotInParts snapshot,
        CancellationToken cancellationToken)
    {
        var newKey = snapshot.NewPart?.Key;
        if (newKey is { } key) mine.Unsaved.Add(key);
        if (previous is not null)
        {
            await previous.Done.ContinueWith(_ => { }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            var missing = snapshot.PartKeys.Where(k => k != newKey && previous.Unsaved.Contains(k)).ToList();
            if (missing.Count > 0)
            {
                mine.Unsaved.UnionWith(missing);
                throw new InvalidOperationException($"snapshot of {metadata.PersistenceId} needs part(s) {string.Join(", ", missing)} an earlier save did not store");
            }
        }
        var parts = PartsOf(metadata.PersistenceId);
        if (snapshot.NewPart is { } part)
            await base.SaveAsync(new SnapshotMetadata(parts, part.Key, metadata.Timestamp), part.Part, cancellationToken);
        var pieces = snapshot.PieceCount;
        if (pieces > PiecesPerHead) throw new InvalidOperationException($"a snapshot of {metadata.PersistenceId} in {pieces} pieces, more than {PiecesPerHead}");
        if (pieces > 0) _withPieces[metadata.PersistenceId] = true;
        // Each in a write of its own: where the snapshots share the journal's file, the journal's writes take their turns in between.
        for (var i = 0; i < pieces; i++)
            await base.SaveAsync(new SnapshotMetadata(PiecesOf(metadata.PersistenceId), PieceKey(metadata.SequenceNr, i), metadata.Timestamp),
                snapshot.Piece(i), cancellationToken);
        await base.SaveAsync(metadata, snapshot, cancellationToken);
        mine.Unsaved.Clear();
        var keys = snapshot.PartKeys;
        var needed = keys.Count > 0 ? keys[0] : long.MaxValue;
        if (needed > 0)
            await base.DeleteAsync(parts, new SnapshotSelectionCriteria(needed == long.MaxValue ? long.MaxValue : needed - 1), cancellationToken);
        if (pieces > 0 || MayHavePieces(metadata.PersistenceId))
        {
            await base.DeleteAsync(PiecesOf(metadata.PersistenceId), new SnapshotSelectionCriteria(PieceKey(metadata.SequenceNr, 0) - 1), cancellationToken);
            _withPieces[metadata.PersistenceId] = pieces > 0;
        }
    }

    /// <summary>
    /// Whether pieces may be stored that this head does not name: known here, or (on SQLite) among the ids stored when this
    /// process started, so those of a save cut off by a crash before its head go at the entity's next save of any kind.
    /// </summary>
    private bool MayHavePieces(string persistenceId) =>
        _withPieces.TryGetValue(persistenceId, out var known)
            ? known
            : _stored is { Ready: true } stored && stored.MayHaveRows(PiecesOf(persistenceId), _stopping.Token);

    protected override void PostStop()
    {
        _stopping.Cancel();
        base.PostStop();
    }
}
