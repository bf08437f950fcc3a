using Akka.Actor;
using Akka.Event;
using Restock.Actors.Domain.Inventory;
using Restock.Actors.Domain.Refunds;
using Restock.Actors.Engine.Hosting;
using Restock.Actors.Engine.Inventory;

namespace Restock.Actors.Engine.Ledger;

/// <summary>
/// Feeds the restock ledger from the journal: tagged SKU events (and, with its own offset, the refund coordinators'
/// "needs attention" events) from the stored offset on, read by <see cref="JournalTail"/> every <c>batch-window</c>,
/// each batch written with its offset in one transaction. It fails loudly and is restarted (with backoff) by its supervisor;
/// a restart resumes after the last committed batch, or after the rows both lists have read past with nothing to write
/// (<see cref="ReadPastName"/>), whichever is later.
/// It also reconciles the ledger with the journal now and then (see <see cref="Reconcile"/>).
/// </summary>
public sealed class LedgerProjection : ReceiveActor, IWithTimers
{
    public const string Name = "restock-ledger";

    /// <summary>Where the reconciliation has checked up to, stored beside the projection's own offset.</summary>
    public const string ReconciledName = "restock-ledger-reconciled";

    /// <summary>Where the reconciliation of the "needs attention" list has checked up to.</summary>
    public const string AttentionReconciledName = "refund-attention-reconciled";

    private sealed class Start
    {
        public static readonly Start Instance = new();
    }

    /// <summary>Time for a reconciliation pass.</summary>
    public sealed class Reconcile
    {
        public static readonly Reconcile Instance = new();
    }

    /// <summary>What one reconciliation pass found: the journal range it read and the ledger entries it had to write.</summary>
    /// <paramref name="AttentionRepaired"/> counts rows of the "needs attention" list it had to add or remove.
    public sealed record Reconciled(long From, long To, int JournalEntries, IReadOnlyList<LedgerStore.Change> Repaired, int AttentionRepaired = 0);

    private readonly LedgerStore _store;
    private readonly LedgerSettings _settings;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly CancellationTokenSource _stopping = new();
    // Read in the constructor: reconciliation makes its tail after an await, where the actor's context is gone.
    private readonly Akka.Configuration.Config _journalConfig = Context.System.Settings.Config.GetConfig("akka.persistence.journal.sql");
    private readonly Akka.Serialization.Serialization _serialization = Context.System.Serialization;
    // SQLite runs one write transaction at a time, so its rows commit in ordering order: a gap is a write that failed and
    // is never filled later (see ReadPastForPass).
    private readonly bool _rowsCommitInOrder = JournalStore.IsSqlite(Context.System.Settings.Config);
    private long? _previousCheckedUpTo;
    private long? _previousAttentionCheckedUpTo;
    private bool _reconciling;
    // Where the follow loop has read both lists past now (stored as ReadPastName every batch-size rows, and by each
    // reconciliation pass on PostgreSQL, which reads up to it). Written by the loop, beside the actor.
    private long _readPast;
    // The "needs attention" list's length as last counted, for the gauge; counted by the follow loop and the reconciliation.
    private readonly NewestCount _needingAttention = new();
    private IDisposable? _attentionGauge;

    public LedgerProjection(LedgerStore store, LedgerSettings settings)
    {
        _store = store;
        _settings = settings;
        ReceiveAsync<Start>(async start =>
        {
            await store.EnsureSchemaAsync();
            // Both offsets move only with a write of their own; tags are rare in the journal (refunds, parked lines), so
            // where both loops have read past with nothing to write is stored as well, or each start would read again
            // every row since the last refund (at worst the whole journal) while the node's first commands are answered.
            var readPast = await store.ReadOffsetAsync(ReadPastName);
            var offset = Math.Max(await store.ReadOffsetAsync(Name), readPast);
            var attentionOffset = Math.Max(await store.ReadOffsetAsync(AttentionName), readPast);
            _log.Info("Restock ledger projection starts after journal offset {0}, the needs-attention list after {1}", offset, attentionOffset);
            await CountNeedingAttention();
            _attentionGauge ??= RestockMetrics.TrackNeedingAttention(() => _needingAttention.Value);
            _readPast = Math.Min(offset, attentionOffset);
            var tail = NewTail(_readPast);
            // Off the actor's task scheduler: its continuations would be queued to this actor's mailbox, and a stopped
            // actor's are dropped, so a query still under way at the stop would never reach the finally that closes the
            // tail's connection (a PostgreSQL slot held until the process exits). It ends only by failing, which restarts
            // the projection, or by the stop.
            var self = Self;
            var stopping = _stopping.Token;
            _ = Task.Run(() => Follow(tail, offset, attentionOffset, stopping), CancellationToken.None)
                .ContinueWith(following =>
                {
                    if (!stopping.IsCancellationRequested)
                        self.Tell(new Status.Failure(following.Exception?.GetBaseException() ?? new TaskCanceledException(following)));
                }, CancellationToken.None, TaskContinuationOptions.NotOnRanToCompletion, TaskScheduler.Default);
            if (settings.ReconcileEvery > TimeSpan.Zero)
                Timers.StartPeriodicTimer(Reconcile.Instance, Reconcile.Instance, settings.ReconcileEvery);
        });
        Receive<Reconcile>(_ =>
        {
            if (_reconciling) return;
            _reconciling = true;
            var replyTo = Sender;
            ReconcileOnce().PipeTo(Self, replyTo);
        });
        Receive<Reconciled>(Report);
        Receive<Status.Failure>(f =>
        {
            if (f.Cause is not ReconciliationFailed failed)
                throw new InvalidOperationException("the ledger projection failed; restarting it", f.Cause);
            _reconciling = false;
            RestockMetrics.LedgerReconciliations.Add(1, RestockMetrics.Tag("result", "failed"));
            _log.Warning(failed.InnerException, "Restock ledger reconciliation failed; it runs again at the next interval");
        });
    }

    /// <summary>Name of the stored offset of the "refunds needing attention" list, fed by this projection too.</summary>
    public const string AttentionName = "refund-attention";

    /// <summary>
    /// Name of the ordering up to which both the ledger and the "needs attention" list have nothing left to write: where a
    /// restart resumes when the journal's rows since their own offsets hold no event of theirs. The write fence goes by the
    /// lists' own offsets, which it never moves; on PostgreSQL a reconciliation pass stores it and reads up to it too (see
    /// <see cref="ReadPastForPass"/>).
    /// </summary>
    public const string ReadPastName = "restock-ledger-read-past";

    private JournalTail NewTail(long completeUpTo) => new(_journalConfig, _serialization, _settings.GapWindow, completeUpTo);

    /// <summary>
    /// Until stopped: every <c>batch-window</c> (at once while batches come full), moves to where the journal is complete
    /// and writes the ledger's rows and the "needs attention" list's rows from their offsets up to there, each with its
    /// offset in one transaction. Runs beside the actor, on the thread pool; a failure ends it and restarts the projection.
    /// </summary>
    private async Task Follow(JournalTail tail, long ledgerAt, long attentionAt, CancellationToken stopping)
    {
        var rows = new List<JournalTail.Row>();
        var changes = new List<LedgerStore.Change>();
        var attention = new List<LedgerStore.AttentionChange>();
        var readPastStored = Math.Min(ledgerAt, attentionAt);
        try
        {
            while (true)
            {
                await tail.AdvanceAsync(stopping);
                var upTo = tail.CompleteUpTo;

                // A journal row may hold a whole batch of a SKU's events: its ledger events share the row's offset, so a row
                // is never split between two ledger transactions (the offset stored would skip the rest).
                rows.Clear();
                changes.Clear();
                var full = await tail.TaggedAsync(ILedgerEvent.Tag, ledgerAt, upTo, _settings.BatchSize, rows, stopping) == _settings.BatchSize;
                foreach (var row in rows) AddChanges(row, changes);
                if (changes.Count > 0)
                    Count(await _store.WriteAsync(Name, changes, stopping), DateTimeOffset.UtcNow);
                ledgerAt = full ? rows[^1].Ordering : upTo;

                rows.Clear();
                attention.Clear();
                var attentionFull = await tail.TaggedAsync(IRefundAttentionEvent.Tag, attentionAt, upTo, _settings.BatchSize, rows, stopping)
                                    == _settings.BatchSize;
                foreach (var row in rows)
                    if (row.Event is IRefundAttentionEvent e) attention.Add(new LedgerStore.AttentionChange(row.Ordering, e));
                if (attention.Count > 0)
                {
                    foreach (var change in await _store.WriteAttentionAsync(AttentionName, attention, stopping))
                        if (change.Event is LineParked parked) CountParked(parked);
                    await CountNeedingAttention();
                }
                attentionAt = attentionFull ? rows[^1].Ordering : upTo;

                // Every write up to here is committed (awaited above); stored once a batch's worth of rows is read past,
                // so a restart reads at most that many again and a busy journal costs one small write per batch-size rows.
                var readPast = Math.Min(ledgerAt, attentionAt);
                Volatile.Write(ref _readPast, readPast);
                if (readPast - readPastStored >= _settings.BatchSize)
                {
                    await _store.StoreReadPastAsync(ReadPastName, readPast, stopping);
                    readPastStored = readPast;
                }

                if (!full && !attentionFull) await Task.Delay(_settings.BatchWindow, stopping);
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            // Stopped with the actor: nothing to report.
        }
        finally
        {
            await tail.DisposeAsync();
        }
    }

    /// <summary>
    /// Counts the list for the gauge. The follow loop and the reconciliation count it each on their own, and their answers
    /// may arrive out of order: a count stays only if none newer has been reported (by the list's stored offset read with
    /// it, then by when it started).
    /// </summary>
    private async Task CountNeedingAttention()
    {
        var started = _needingAttention.Start();
        var count = await _store.CountNeedingAttentionAsync();
        _needingAttention.Report(count.Offset, started, count.Lines);
    }

    /// <summary>The ledger events of one tagged journal row (a single event or a SKU's batch), in order, at the row's offset.</summary>
    private static void AddChanges(JournalTail.Row row, List<LedgerStore.Change> changes)
    {
        var skuId = SkuActor.SkuIdOf(row.PersistenceId);
        foreach (var e in SkuEventBatch.Expand(row.Event))
            if (e is ILedgerEvent ledgerEvent) changes.Add(new LedgerStore.Change(row.Ordering, skuId, ledgerEvent));
    }

    public static Props Props(LedgerStore store, LedgerSettings settings) =>
        Akka.Actor.Props.Create(() => new LedgerProjection(store, settings));

    public ITimerScheduler Timers { get; set; } = null!;

    protected override void PreStart() => Self.Tell(Start.Instance);

    protected override void PostStop()
    {
        _stopping.Cancel();
        _attentionGauge?.Dispose();
    }

    private static void Count(IReadOnlyList<LedgerStore.Change> changes, DateTimeOffset now)
    {
        foreach (var change in changes)
        {
            switch (change.Event)
            {
                case LineRefunded e:
                    RestockMetrics.RefundedLines.Add(1, RestockMetrics.Tag("restock", e.Restock == RefundRestock.Restocked ? "restocked" : "not_restocked"));
                    if (e.Restock == RefundRestock.Restocked) RestockMetrics.Restocks.Add(1, RestockMetrics.Tag("trigger", "auto"));
                    RestockMetrics.LedgerLag.Record((now - e.At).TotalMilliseconds);
                    break;
                case RefundRestocked e:
                    RestockMetrics.Restocks.Add(1, RestockMetrics.Tag("trigger", e.Trigger.ToString().ToLowerInvariant()));
                    RestockMetrics.LedgerLag.Record((now - e.At).TotalMilliseconds);
                    break;
            }
        }
    }

    /// <summary>
    /// Compares the journal's restocks and refunded lines with the ledger and writes any the ledger lacks: the
    /// projection skips a gap in the journal's ordering after its gap window, so a batch committed later than that
    /// would otherwise never reach the ledger. Each pass reads from where the pass before the last one ended up to
    /// <see cref="ReconcileUpTo"/>, so every range is read twice, at least one interval apart.
    /// </summary>
    private async Task<Reconciled> ReconcileOnce()
    {
        try
        {
            var readPast = await ReadPastForPass();
            var from = await _store.ReadOffsetAsync(ReconciledName);
            var to = await ReconcileUpTo(Name, readPast);
            var changes = new List<LedgerStore.Change>();
            await using (var tail = NewTail(to))
            {
                foreach (var row in await tail.AllTaggedAsync(ILedgerEvent.Tag, from, to, _stopping.Token))
                    AddChanges(row, changes);
            }
            var checkedUpTo = Math.Min(_previousCheckedUpTo ?? from, to);
            var repaired = await _store.RepairAsync(ReconciledName, Math.Max(from, checkedUpTo), changes);
            _previousCheckedUpTo = to;
            return new Reconciled(from, to, changes.Count, repaired, await ReconcileAttention(readPast));
        }
        catch (Exception e)
        {
            throw new ReconciliationFailed(e);
        }
    }

    /// <summary>
    /// Where a pass over the list whose offset is <paramref name="list"/> reads the journal up to: that offset or
    /// <paramref name="readPast"/> (see <see cref="ReadPastForPass"/>), whichever is later. A write of the follow loop after
    /// the pass read is beyond it, so the "needs attention" list's rule (nothing is repaired if the list was written beyond
    /// what the pass read) still holds.
    /// </summary>
    private async Task<long> ReconcileUpTo(string list, long readPast) => Math.Max(await _store.ReadOffsetAsync(list), readPast);

    /// <summary>
    /// Where a pass reads both lists up to beyond their own offsets. On PostgreSQL a row can commit after the follow loop
    /// gave its gap up; up to a list's own offset alone, which moves only with the list's writes (rare for the "needs
    /// attention" list), such a row would wait for that list's next write. So a pass reads up to where the follow loop has
    /// read both lists past now: every row up to there was read by both, its events written or its gap given up. It stores
    /// that first (forward only), so a restart, which resumes from the stored read-past offset or later, never reads again a
    /// row the pass repairs and counts it a second time (rows are unique per refund line, the follow loop's counters are
    /// not). Only an old projection still finishing a write after a handoff could meet such a row. After an upgrade from a
    /// version whose passes stopped at the lists' offsets, the first two passes read from the old watermarks to the head:
    /// a paged read, taking no lock the journal's writers wait for. On SQLite rows commit in ordering order, so no gap is
    /// filled later and nothing beyond a list's offset can be missing: reading there would only scan every row up to the
    /// head (a tag filter per row) twice per list per interval, and the store would be a write in the journal's one turn.
    /// </summary>
    /// <returns>The read-past offset stored; 0 on SQLite.</returns>
    private async Task<long> ReadPastForPass()
    {
        if (_rowsCommitInOrder) return 0;
        var readPast = Volatile.Read(ref _readPast);
        await _store.StoreReadPastAsync(ReadPastName, readPast, _stopping.Token);
        return readPast;
    }

    /// <summary>The same pass over the refund coordinators' parked and re-armed lines, with watermarks of their own.</summary>
    private async Task<int> ReconcileAttention(long readPast)
    {
        var from = await _store.ReadOffsetAsync(AttentionReconciledName);
        var to = await ReconcileUpTo(AttentionName, readPast);
        var changes = new List<LedgerStore.AttentionChange>();
        await using (var tail = NewTail(to))
        {
            foreach (var row in await tail.AllTaggedAsync(IRefundAttentionEvent.Tag, from, to, _stopping.Token))
                if (row.Event is IRefundAttentionEvent e) changes.Add(new LedgerStore.AttentionChange(row.Ordering, e));
        }
        var checkedUpTo = Math.Min(_previousAttentionCheckedUpTo ?? from, to);
        var repaired = await _store.RepairAttentionAsync(AttentionReconciledName, Math.Max(from, checkedUpTo), to, changes);
        _previousAttentionCheckedUpTo = to;
        // A line the follow loop never wrote (a late row on PostgreSQL) is counted here, as it joins the list; the stored
        // read-past offset keeps a restart from reading it again (see ReadPastForPass).
        foreach (var parked in repaired.Added) CountParked(parked);
        if (repaired.Rows > 0)
        {
            await CountNeedingAttention();
            _log.Warning("Needs-attention list reconciliation: {0} rows added or removed after journal offset {1} up to {2}", repaired.Rows, from, to);
        }
        return repaired.Rows;
    }

    /// <summary>A line joined the "needs attention" list: counted once, by whichever of the follow loop and the reconciliation listed it.</summary>
    private static void CountParked(LineParked parked) => RestockMetrics.RefundLinesParked.Add(1, RestockMetrics.Tag("reason", parked.Code));

    private void Report(Reconciled result)
    {
        _reconciling = false;
        if (!Sender.IsNobody() && !Sender.Equals(Self)) Sender.Tell(result);
        if (result.Repaired.Count == 0)
        {
            RestockMetrics.LedgerReconciliations.Add(1, RestockMetrics.Tag("result", "consistent"));
            return;
        }
        RestockMetrics.LedgerReconciliations.Add(1, RestockMetrics.Tag("result", "repaired"));
        RestockMetrics.LedgerRepaired.Add(result.Repaired.Count);
        Count(result.Repaired, DateTimeOffset.UtcNow);
        var perSku = result.Repaired.GroupBy(c => c.SkuId).Select(g => $"{g.Key}: {g.Count()}");
        _log.Warning("Restock ledger reconciliation: {0} of {1} journal entries after offset {2} up to {3} were missing from the ledger " +
                     "and are now written (per SKU: {4})", result.Repaired.Count, result.JournalEntries, result.From, result.To,
            string.Join(", ", perSku));
    }

    private sealed class ReconciliationFailed(Exception cause) : Exception("ledger reconciliation failed", cause);
}

public sealed record LedgerSettings(bool RunProjection, int BatchSize, TimeSpan BatchWindow, TimeSpan ReconcileEvery, TimeSpan GapWindow)
{
    public static LedgerSettings From(Akka.Configuration.Config config)
    {
        var c = config.GetConfig("restock.ledger");
        var settings = new LedgerSettings(c.GetBoolean("projection"), c.GetInt("batch-size"), c.GetTimeSpan("batch-window"),
            c.GetTimeSpan("reconcile-every"), c.GetTimeSpan("gap-window"));
        // A batch of 0 rows would never move the projection (it would restart with backoff forever, the ledger frozen).
        if (settings.BatchSize < 1 || settings.BatchWindow < TimeSpan.Zero || settings.ReconcileEvery < TimeSpan.Zero || settings.GapWindow <= TimeSpan.Zero)
            throw new Akka.Configuration.ConfigurationException(
                "restock.ledger: batch-size must be at least 1, batch-window and reconcile-every (0 = off) at least 0, gap-window above 0 " +
                $"(batch-size {settings.BatchSize}, batch-window {settings.BatchWindow}, reconcile-every {settings.ReconcileEvery}, gap-window {settings.GapWindow})");
        return settings;
    }
}
