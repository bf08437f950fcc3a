using System.Collections.Concurrent;
using System.Collections.Immutable;
using System.Data.Common;
using Akka.Actor;
using Akka.Persistence;
using Akka.Persistence.Sql.Config;
using Akka.Persistence.Sql.Journal;
using Config = Akka.Configuration.Config;

namespace Restock.Actors.Engine.Hosting;

/// <summary>
/// Akka.Persistence.Sql's journal, batched across entities. The plugin answers each recovering entity's "highest
/// sequence number" inside the journal actor, one query at a time, and on SQLite (whose driver is synchronous) on
/// that actor's thread; its write queue only combines writes of different entities while a write is in flight, which
/// a synchronous driver never lets happen. So thousands of SKUs activating at once each cost a read and a write
/// transaction of their own, queued one behind the other, and remember-entities updates time out behind them.
/// Here the entities recovering at once share one query for their highest sequence numbers and, in the same statement,
/// the short replays that follow (so a replay needs no second query or hand-off), long replays run beside the actor,
/// and writes are group-committed across entities: while a transaction is in flight the next ones wait, then share one
/// transaction. On SQLite those transactions are written by
/// <see cref="SqliteJournalWrites"/>, elsewhere by the plugin.
/// </summary>
public sealed class BatchingJournal : SqlWriteJournal, IWithTimers
{
    private sealed class Flush
    {
        public static readonly Flush Instance = new();
    }

    private sealed class Written
    {
        public static readonly Written Instance = new();
    }

    /// <summary>Fails the transactions past their deadline, and the writes waiting for them past theirs.</summary>
    private sealed class Sweep
    {
        public static readonly Sweep Instance = new();
    }

    /// <summary>A group-committed transaction until it ends: its writes, and when they fail if it has not ended by then.</summary>
    private sealed class Transaction(List<(AtomicWrite Write, TaskCompletionSource<IImmutableList<Exception>> Done, long AskedMs)> writes, Task written, long deadlineMs)
    {
        public readonly List<(AtomicWrite Write, TaskCompletionSource<IImmutableList<Exception>> Done, long AskedMs)> Writes = writes;
        public readonly Task Written = written;
        public readonly long DeadlineMs = deadlineMs;
        public bool TimedOut;
    }

    private sealed record Replay(string PersistenceId, long From, long To, long Max);

    /// <param name="From">The first sequence number of the replay that follows.</param>
    /// <param name="Highest">The entity's highest sequence number, deleted rows included (as the plugin answers).</param>
    /// <param name="Events">Every event from <paramref name="From"/> to <paramref name="Highest"/>, or null when they were not all read.</param>
    private sealed record ReadAhead(long From, long Highest, IReadOnlyList<IPersistentRepresentation>? Events);

    private sealed record StoredEvent(string PersistenceId, long SequenceNr, byte[] Message, string Manifest, int? SerializerId, string? WriterUuid, long Created);

    // The most entities' writes in one transaction.
    private const int MaxWritesPerTransaction = 1000;

    // A read of an entity's highest sequence number waits for its write still in flight (the plugin does the same
    // with a private record of its own).
    private readonly ConcurrentDictionary<string, Task> _writesInFlight = new();
    // Each write with when it was asked (Environment.TickCount64): its deadline is write-timeout after that.
    private readonly List<(AtomicWrite Write, TaskCompletionSource<IImmutableList<Exception>> Done, long AskedMs)> _toWrite = [];
    // Replays this short are read with their entity's highest sequence number, in the same statement.
    private const long ShortReplay = 100;
    // Replays up to this long are read together with other entities' (at most MaxReplaysPerQuery of them, so at most
    // 100,000 rows in one query's hands); longer ones by the plugin, page by page. Sharding's remember-entities stores
    // snapshot every 1,000 events (akka.cluster.sharding.snapshot-after), so each shard's store replays up to about that
    // many at a restart: by the plugin, a stream and its queries per shard before the shard could start a single entity
    // (PERFORMANCE-LOG, "Cold start (goal 4), session 10").
    private const long LongestSharedReplay = 1000;
    private const int MaxReplaysPerQuery = 100;

    // A recovery's highest sequence number, read together with the events it replays next (when those are short).
    private readonly RecoveryReads<Replay, ReadAhead>? _highest;
    // The events read with a recovery's highest sequence number, until its replay takes them (Akka replays right after
    // that read; an entry whose replay never came, e.g. after a timeout, is replaced by the id's next recovery).
    private readonly ConcurrentDictionary<string, ReadAhead> _readAhead = new();
    private readonly RecoveryReads<Replay, IReadOnlyList<IPersistentRepresentation>?>? _replays;
    private readonly StoredIds? _stored;
    // SQLite: the shared reads' statements stay prepared.
    private readonly PreparedReads? _prepared;
    private readonly CancellationTokenSource _stopping = new();
    private readonly SqliteJournalWrites? _sqliteWrites;
    private readonly int _parallelism;
    private int _transactionsInFlight;
    // One deadline per transaction: Akka's breaker times each entity's write (a timer and a cancellation promise per
    // write, alive while it is in flight) unless its call-timeout is infinite, as hocon/restock.conf sets it. The deadlines
    // are watched by one pending sweep, not a timer per transaction (PERFORMANCE-LOG, "Goal 6, session 12").
    private readonly TimeSpan _writeTimeout;
    // With the breaker's call-timeout infinite, the journal's other calls are timed here (Bounded): a read of a recovering
    // entity's highest sequence number by the entity's own recovery-event-timeout, a delete by the write-timeout.
    private readonly TimeSpan _readTimeout;
    // The transactions not yet ended, oldest first (the journal's thread only).
    private readonly List<Transaction> _transactions = [];
    private bool _sweepPending;

    public ITimerScheduler Timers { get; set; } = null!;

    public BatchingJournal(Config journalConfig) : base(journalConfig)
    {
        var config = new JournalConfig(journalConfig);
        _parallelism = Math.Max(1, config.DaoConfig.Parallelism);
        _writeTimeout = Required(journalConfig, "write-timeout");
        _readTimeout = Required(journalConfig, "recovery-event-timeout");
        _sqliteWrites = SqliteJournalWrites.For(Context.System.Serialization, config, Required(journalConfig, "write-lock-wait"));
        if (config.DaoConfig.SqlCommonCompatibilityMode || !RecoveryReads.Supports(config.ProviderName))
            return;
        var serialization = Context.System.Serialization;
        var queriesAtOnce = RecoveryReads.QueriesAtOnce(journalConfig);
        var table = config.TableConfig.EventJournalTable;
        var c = table.ColumnNames;
        var from = RecoveryReads.Table(config.TableConfig.SchemaName, table.Name);
        DbConnection Connect() => RecoveryReads.Connect(config.ProviderName, config.ConnectionString);
        if (config.ProviderName.StartsWith("SQLite", StringComparison.OrdinalIgnoreCase)) _prepared = new PreparedReads(config.ConnectionString);
        Task<List<TRow>> Shared<TRow>(string sql, IReadOnlyList<object> parameters, Func<DbDataReader, TRow> readRow, CancellationToken cancel) =>
            _prepared is { } prepared
                ? prepared.QueryAsync(sql, parameters, readRow, cancel)
                : RecoveryReads.QueryAsync(Connect, sql, parameters, readRow, cancel);

        var stored = $"SELECT {Q(c.PersistenceId)}, {Q(c.SequenceNumber)}, {Q(c.Message)}, {Q(c.Manifest)}, {Q(c.Identifier)}, " +
                     $"{Q(c.WriterUuid)}, {Q(c.Created)}";
        // One statement (one read snapshot on SQLite and PostgreSQL): every id's highest sequence number, and the rows of
        // its short replay, so no event up to that highest can be missing from what was read with it. Two parameters per
        // recovery and at most as many recoveries as a shared replay: SQLite finds each named parameter by a linear search
        // of the statement's names, so binding grows with the square of the parameter count (up to 500 recoveries with
        // three parameters each cost ~25 µs of CPU per SKU more than the two reads it replaced).
        // The statement's text depends only on how many recoveries it reads (their parameters are numbered in order), so
        // it is built once per count, not per query: ~11,000 characters for 100 recoveries.
        var statements = new string?[MaxReplaysPerQuery + 1];
        string Statement(int count)
        {
            var ids = new List<string>(count);
            var ranges = new List<string>(count);
            for (var i = 0; i < count; i++)
            {
                var n = 1 + 2 * i;
                ids.Add("@p" + n);
                ranges.Add($"({Q(c.PersistenceId)} = @p{n} AND {Q(c.SequenceNumber)} >= @p{n + 1} AND {Q(c.SequenceNumber)} <= @p{n + 1} + {ShortReplay - 1})");
            }
            return $"SELECT {Q(c.PersistenceId)}, MAX({Q(c.SequenceNumber)}), NULL, NULL, NULL, NULL, NULL, 1 FROM {from} " +
                   $"WHERE {Q(c.PersistenceId)} IN ({string.Join(", ", ids)}) GROUP BY {Q(c.PersistenceId)} " +
                   $"UNION ALL {stored}, 0 FROM {from} WHERE {Q(c.Deleted)} = @p0 AND ({string.Join(" OR ", ranges)})";
        }
        _highest = new RecoveryReads<Replay, ReadAhead>("highest-sequence-nr", async (recoveries, cancel) =>
        {
            var parameters = new List<object>(1 + 2 * recoveries.Count) { false };
            foreach (var r in recoveries)
            {
                parameters.Add(r.PersistenceId);
                parameters.Add(r.From);
            }
            var rows = await Shared(statements[recoveries.Count] ??= Statement(recoveries.Count), parameters,
                r => r.GetInt32(7) == 1 ? (Id: r.GetString(0), Highest: r.GetInt64(1), Event: null) : (Id: "", Highest: 0L, Event: ReadEvent(r)), cancel);
            var highest = rows.Where(r => r.Event is null).ToDictionary(r => r.Id, r => r.Highest);
            var byEntity = rows.Select(r => r.Event).OfType<StoredEvent>().OrderBy(e => e.SequenceNr).ToLookup(e => e.PersistenceId);
            return recoveries.Select(r =>
            {
                var max = highest.GetValueOrDefault(r.PersistenceId);
                var events = max < r.From + ShortReplay
                    ? Deserialize(serialization, byEntity[r.PersistenceId].Where(e => e.SequenceNr >= r.From && e.SequenceNr <= max), long.MaxValue)
                    : null;
                return new ReadAhead(r.From, max, events);
            }).ToArray();
        }, MaxReplaysPerQuery, _stopping.Token, queriesAtOnce);
        if (StoredIdsKept(journalConfig, config.ProviderName, Context.System.Settings.Config))
            _stored = StoredIds.For(Context.System, "journal " + from + " " + config.ConnectionString, cancel =>
                RecoveryReads.QueryAsync(Connect, $"SELECT DISTINCT {Q(c.PersistenceId)} FROM {from}", [], r => r.GetString(0), cancel));

        var select = $"{stored} FROM {from} WHERE {Q(c.Deleted)} = @p0 AND (";
        var order = $") ORDER BY {Q(c.PersistenceId)}, {Q(c.SequenceNumber)}";
        _replays = new RecoveryReads<Replay, IReadOnlyList<IPersistentRepresentation>?>("replay", async (replays, cancel) =>
        {
            var parameters = new List<object> { false };
            var ranges = new List<string>(replays.Count);
            foreach (var r in replays)
            {
                var n = parameters.Count;
                parameters.AddRange([r.PersistenceId, r.From, r.To]);
                ranges.Add($"({Q(c.PersistenceId)} = @p{n} AND {Q(c.SequenceNumber)} >= @p{n + 1} AND {Q(c.SequenceNumber)} <= @p{n + 2})");
            }
            var rows = await Shared(select + string.Join(" OR ", ranges) + order, parameters, ReadEvent, cancel);
            var byEntity = rows.ToLookup(r => r.PersistenceId);
            return replays
                .Select(r => Deserialize(serialization, byEntity[r.PersistenceId].Where(e => e.SequenceNr >= r.From && e.SequenceNr <= r.To), r.Max))
                .ToArray();
        }, MaxReplaysPerQuery, _stopping.Token, queriesAtOnce);
    }

    private static TimeSpan Required(Config journalConfig, string path) =>
        journalConfig.HasPath(path) && journalConfig.GetTimeSpan(path, null, allowInfinite: false) is { Ticks: > 0 } value
            ? value
            : throw new Akka.Configuration.ConfigurationException($"The journal needs {path}, a positive duration (hocon/restock.conf).");

    private static string Q(string name) => RecoveryReads.Quote(name);

    private static StoredEvent ReadEvent(DbDataReader r) => new(r.GetString(0), r.GetInt64(1), (byte[])r.GetValue(2), r.IsDBNull(3) ? "" : r.GetString(3),
        r.IsDBNull(4) ? null : r.GetInt32(4), r.IsDBNull(5) ? null : r.GetString(5), r.GetInt64(6));

    /// <summary>
    /// Whether the store keeps its persistence ids in memory (<see cref="StoredIds"/>): only on SQLite in a cluster of one,
    /// where this process alone writes the file; with other nodes (PostgreSQL, or seed nodes named) another process may write
    /// an id at any time, so every recovery reads.
    /// </summary>
    internal static bool StoredIdsKept(Config pluginConfig, string providerName, Config systemConfig) =>
        pluginConfig.GetBoolean("stored-ids-in-memory", false) && providerName.StartsWith("SQLite", StringComparison.OrdinalIgnoreCase)
        && systemConfig.GetStringList("akka.cluster.seed-nodes").Count == 0;

    /// <returns>The events, or null when one of them is not in the format read here (the plugin then replays them).</returns>
    private static IReadOnlyList<IPersistentRepresentation>? Deserialize(Akka.Serialization.Serialization serialization, IEnumerable<StoredEvent> rows, long max)
    {
        var events = new List<IPersistentRepresentation>();
        foreach (var row in rows.Take((int)Math.Min(max, int.MaxValue)))
        {
            if (row.SerializerId is not { } serializerId) return null;
            try
            {
                var payload = serialization.Deserialize(row.Message, serializerId, row.Manifest);
                events.Add(new Persistent(payload, row.SequenceNr, row.PersistenceId, row.Manifest, false, ActorRefs.NoSender, row.WriterUuid, row.Created));
            }
            catch (Exception)
            {
                return null;
            }
        }
        return events;
    }

    public override Task<long> ReadHighestSequenceNrAsync(string persistenceId, long fromSequenceNr, CancellationToken cancellationToken) =>
        Bounded(ReadHighestAsync(persistenceId, fromSequenceNr, cancellationToken), _readTimeout, "read of the highest sequence number",
            "recovery-event-timeout");

    /// <summary>
    /// Deletes as the plugin does, bounded like a write: a delete is a write transaction, and unbounded a hung one would
    /// leave the entity that asked (sharding's remember-entities store) waiting for its answer for ever. Beside the
    /// journal's actor: on SQLite the plugin's delete runs synchronously, and waiting for the write lock it held the actor,
    /// every other write and read with it.
    /// </summary>
    protected override Task DeleteMessagesToAsync(string persistenceId, long toSequenceNr, CancellationToken cancellationToken) =>
        Bounded(Task.Run(() => base.DeleteMessagesToAsync(persistenceId, toSequenceNr, cancellationToken), CancellationToken.None),
            _writeTimeout, "delete", "write-timeout");

    /// <summary>
    /// Fails <paramref name="call"/>'s caller once it has run <paramref name="timeout"/>, as Akka's breaker did before its
    /// call-timeout became infinite; the breaker counts the failure. The call itself may still end later.
    /// </summary>
    private static async Task<T> Bounded<T>(Task<T> call, TimeSpan timeout, string what, string setting)
    {
        try
        {
            return await call.WaitAsync(timeout);
        }
        catch (TimeoutException) when (!call.IsCompleted)
        {
            throw TimedOut(what, setting, timeout);
        }
    }

    private static async Task Bounded(Task call, TimeSpan timeout, string what, string setting)
    {
        try
        {
            await call.WaitAsync(timeout);
        }
        catch (TimeoutException) when (!call.IsCompleted)
        {
            throw TimedOut(what, setting, timeout);
        }
    }

    private static TimeoutException TimedOut(string what, string setting, TimeSpan timeout) =>
        new($"The journal's {what} did not end within its {setting} ({timeout}).");

    private async Task<long> ReadHighestAsync(string persistenceId, long fromSequenceNr, CancellationToken cancellationToken)
    {
        if (_highest is null) return await base.ReadHighestSequenceNrAsync(persistenceId, fromSequenceNr, cancellationToken);
        if (_stored?.MayHaveRows(persistenceId, _stopping.Token) == false) return 0;
        if (_writesInFlight.TryGetValue(persistenceId, out var write))
            await write.ContinueWith(_ => { }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        // Akka asks from the replay's first sequence number less one, and replays from there up to the answer next.
        var read = await _highest.Read(new Replay(persistenceId, fromSequenceNr + 1, long.MaxValue, long.MaxValue));
        if (read.Events is not null && read.Highest > fromSequenceNr) _readAhead[persistenceId] = read;
        else _readAhead.TryRemove(persistenceId, out _);
        // The plugin's query counts only rows above fromSequenceNr, and answers 0 when there are none.
        return read.Highest > fromSequenceNr ? read.Highest : 0;
    }

    /// <summary>
    /// A short replay (the usual SKU: a few events since its snapshot, or since it was first stocked; a shard's
    /// remember-entities store) is read together with the others recovering at once; a long one is read by the plugin,
    /// page by page, beside the journal's actor.
    /// </summary>
    public override async Task ReplayMessagesAsync(IActorContext context, string persistenceId, long fromSequenceNr, long toSequenceNr, long max,
        Action<IPersistentRepresentation> recoveryCallback)
    {
        if (_readAhead.TryRemove(persistenceId, out var read) && read.From == fromSequenceNr && read.Highest >= toSequenceNr)
        {
            var replayed = 0L;
            foreach (var e in read.Events!)
            {
                if (e.SequenceNr > toSequenceNr || replayed++ >= max) break;
                recoveryCallback(e);
            }
            return;
        }
        if (_replays is not null && toSequenceNr - fromSequenceNr < LongestSharedReplay
            && await _replays.Read(new Replay(persistenceId, fromSequenceNr, toSequenceNr, max)) is { } events)
        {
            foreach (var e in events)
                recoveryCallback(e);
            return;
        }
        await Task.Run(() => base.ReplayMessagesAsync(context, persistenceId, fromSequenceNr, toSequenceNr, max, recoveryCallback));
    }

    /// <summary>
    /// Group commit across entities: while the plugin has <c>parallelism</c> transactions in flight, writes wait, and
    /// the next transaction takes every write that waited (an idle journal writes at once).
    /// </summary>
    protected override Task<IImmutableList<Exception>> WriteMessagesAsync(IEnumerable<AtomicWrite> messages, CancellationToken cancellationToken)
    {
        // An entity's write is almost always one AtomicWrite: that one waits without a list, a WhenAll and an answer list.
        AtomicWrite? single = null;
        List<AtomicWrite>? several = null;
        foreach (var write in messages)
        {
            if (single is null) single = write;
            else (several ??= [single]).Add(write);
        }
        if (single is null) return Task.FromResult<IImmutableList<Exception>>(ImmutableList<Exception>.Empty);
        if (_stored is not null)
        {
            _stored.Writing(single.PersistenceId);
            if (several is not null)
                for (var i = 1; i < several.Count; i++)
                    _stored.Writing(several[i].PersistenceId);
        }
        if (_toWrite.Count == 0 && _transactionsInFlight < _parallelism) Self.Tell(Flush.Instance);
        var answer = several is null ? WriteOne(single) : WriteSeveralAsync(several);
        // Behind transactions that are all past their deadline no sweep may be pending: this write's deadline is watched.
        ScheduleSweep();
        return answer;
    }

    /// <summary>
    /// The task Akka awaits is the write's own completion source, answered by its transaction (no state machine per write,
    /// alive while the write is in flight): null when stored, Akka's documented happy path, which allocates no answer list.
    /// </summary>
    private Task<IImmutableList<Exception>> WriteOne(AtomicWrite write)
    {
        var done = Enqueue(write);
        _writesInFlight[write.PersistenceId] = done;
        return done;
    }

    private async Task<IImmutableList<Exception>> WriteSeveralAsync(List<AtomicWrite> writes)
    {
        var waiting = new Task<IImmutableList<Exception>>[writes.Count];
        for (var i = 0; i < writes.Count; i++)
            waiting[i] = Enqueue(writes[i]);
        var all = Task.WhenAll(waiting);
        var persistenceId = writes[0].PersistenceId;
        _writesInFlight[persistenceId] = all;
        try
        {
            var answers = await all;
            if (answers.All(a => a is null)) return null!;
            return answers.Select(a => a?[0]).ToImmutableList()!;
        }
        finally
        {
            _writesInFlight.TryRemove(new KeyValuePair<string, Task>(persistenceId, all));
        }
    }

    private Task<IImmutableList<Exception>> Enqueue(AtomicWrite write)
    {
        var done = new TaskCompletionSource<IImmutableList<Exception>>(TaskCreationOptions.RunContinuationsAsynchronously);
        _toWrite.Add((write, done, Environment.TickCount64));
        return done.Task;
    }

    protected override bool ReceivePluginInternal(object message)
    {
        switch (message)
        {
            case Flush:
                WriteWaiting();
                return true;
            case Written:
                _transactionsInFlight--;
                _transactions.RemoveAll(static t => t.Written.IsCompleted);
                WriteWaiting();
                return true;
            case Sweep:
                _sweepPending = false;
                FailOverdue();
                return true;
            default:
                return base.ReceivePluginInternal(message);
        }
    }

    private void WriteWaiting()
    {
        FailOverdueWaiting(Environment.TickCount64);
        while (_toWrite.Count > 0 && _transactionsInFlight < _parallelism)
        {
            var take = Math.Min(_toWrite.Count, MaxWritesPerTransaction);
            var chunk = _toWrite.GetRange(0, take);
            _toWrite.RemoveRange(0, take);
            _transactionsInFlight++;
            var writes = chunk.Select(c => c.Write).ToList();
            // The plugin's write call must run on the journal's thread (it reads the actor's context); both return at once.
            var written = _sqliteWrites is null ? base.WriteMessagesAsync(writes, _stopping.Token) : _sqliteWrites.WriteAsync(writes, _stopping.Token)!;
            var self = Self;
            var writesInFlight = _writesInFlight;
            // The transaction's deadline is its oldest write's (the others were asked later).
            _transactions.Add(new Transaction(chunk, written, chunk[0].AskedMs + (long)_writeTimeout.TotalMilliseconds));
            // The next transaction starts when this one has ended, not at its deadline: they would only wait on each other.
            // Writes already failed by the deadline keep that answer (TrySet).
            written.ContinueWith(t =>
            {
                for (var i = 0; i < chunk.Count; i++)
                {
                    var (write, done, _) = chunk[i];
                    // A write past its deadline is registered under its transaction instead (TimedOut): this finds nothing then.
                    writesInFlight.TryRemove(new KeyValuePair<string, Task>(write.PersistenceId, done.Task));
                    if (t.IsFaulted) done.TrySetException(t.Exception!.InnerExceptions);
                    else if (t.IsCanceled) done.TrySetCanceled();
                    else if (t.Result is { Count: > 0 } rejections && rejections[i] is { } rejected) done.TrySetResult(ImmutableList.Create(rejected));
                    else done.TrySetResult(null!);
                }
                self.Tell(Written.Instance);
            }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }
        ScheduleSweep();
    }

    /// <summary>Fails every transaction past its deadline and every write waiting past its own, then watches the next deadline.</summary>
    private void FailOverdue()
    {
        var now = Environment.TickCount64;
        foreach (var t in _transactions)
        {
            if (t.TimedOut || t.Written.IsCompleted || t.DeadlineMs > now) continue;
            t.TimedOut = true;
            TimedOut(_writesInFlight, t.Writes, t.Written, _writeTimeout);
        }
        _transactions.RemoveAll(static t => t.Written.IsCompleted);
        FailOverdueWaiting(now);
        ScheduleSweep();
    }

    /// <summary>
    /// A transaction past its deadline may stay in flight for long (a stalled disk or connection), and the writes waiting
    /// for its slot cannot start: each is failed at its own deadline, write-timeout after it was asked, as Akka's breaker
    /// timed each write. Nothing of them was written, so no recovery waits for them.
    /// </summary>
    private void FailOverdueWaiting(long now)
    {
        var timeoutMs = (long)_writeTimeout.TotalMilliseconds;
        var overdue = 0;
        // Oldest first: the first write still within its deadline ends the search.
        while (overdue < _toWrite.Count && _toWrite[overdue].AskedMs + timeoutMs <= now)
        {
            var (write, done, _) = _toWrite[overdue++];
            _writesInFlight.TryRemove(new KeyValuePair<string, Task>(write.PersistenceId, done.Task));
            done.TrySetException(TimedOut("write", "write-timeout", _writeTimeout));
        }
        if (overdue > 0) _toWrite.RemoveRange(0, overdue);
    }

    /// <summary>
    /// One sweep pending at a time, due at the oldest deadline still watched: a steady stream of short transactions costs one
    /// scheduled message per write-timeout, not a timer per transaction. The writes waiting are watched only while every
    /// transaction in flight is past its deadline: otherwise the oldest of those transactions, asked before any waiting
    /// write, is due first.
    /// </summary>
    private void ScheduleSweep()
    {
        if (_sweepPending) return;
        long deadlineMs;
        if (_transactions.Find(static t => !t.TimedOut && !t.Written.IsCompleted) is { } next) deadlineMs = next.DeadlineMs;
        else if (_toWrite.Count > 0 && _transactions.Exists(static t => !t.Written.IsCompleted))
            deadlineMs = _toWrite[0].AskedMs + (long)_writeTimeout.TotalMilliseconds;
        else return;
        _sweepPending = true;
        var due = TimeSpan.FromMilliseconds(Math.Max(0, deadlineMs - Environment.TickCount64));
        Timers.StartSingleTimer(Sweep.Instance, Sweep.Instance, due);
    }

    /// <summary>
    /// Fails the writes of a transaction past its deadline. It may still commit: until it ends, a recovery of one of its
    /// entities waits for it as for any write in flight, so the entity restarted after the failure reads what it stored.
    /// </summary>
    private static void TimedOut(ConcurrentDictionary<string, Task> writesInFlight,
        List<(AtomicWrite Write, TaskCompletionSource<IImmutableList<Exception>> Done, long AskedMs)> chunk, Task written, TimeSpan timeout)
    {
        foreach (var (write, _, _) in chunk)
            writesInFlight[write.PersistenceId] = written;
        written.ContinueWith(_ =>
        {
            foreach (var (write, _, _) in chunk)
                writesInFlight.TryRemove(new KeyValuePair<string, Task>(write.PersistenceId, written));
        }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        foreach (var (_, done, _) in chunk)
            done.TrySetException(TimedOut("transaction", "write-timeout", timeout));
    }

    protected override void PostStop()
    {
        _stopping.Cancel();
        _prepared?.Dispose();
        foreach (var (_, done, _) in _toWrite)
            done.TrySetException(new InvalidOperationException("the journal stopped before the write"));
        base.PostStop();
    }
}
