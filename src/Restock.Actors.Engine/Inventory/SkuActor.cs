using System.Collections.Immutable;
using System.Diagnostics;
using Akka.Actor;
using Akka.Cluster.Sharding;
using Akka.Event;
using Akka.Persistence;
using Akka.Persistence.Journal;
using Restock.Actors.Domain.Inventory;
using Restock.Actors.Engine.Hosting;

namespace Restock.Actors.Engine.Inventory;

/// <summary>
/// The only writer of one SKU's stock. Commands are decided one by one, in mailbox order, against the
/// state that includes every earlier decision; the events of all decisions made while the previous write
/// was in flight are written as one batch (group commit). A caller hears back only once its decision,
/// and every decision before it, is durable.
/// </summary>
public sealed class SkuActor : UntypedPersistentActor
{
    /// <summary>
    /// A decision waiting for its write (or for earlier writes). <paramref name="SnapshotAfter"/>, when set, is the state
    /// right after this decision: the write holding it ends with it, and the snapshot is saved once that write is confirmed.
    /// </summary>
    private readonly record struct Pending(IReadOnlyList<SkuEvent> Events, IActorRef? ReplyTo, object? Reply, SkuSnapshot? SnapshotAfter = null);

    /// <summary>One per armed deadline: a tick of a deadline since re-armed or cancelled is told apart and ignored.</summary>
    private sealed class PaymentDeadlineDue : IDeadLetterSuppression;

    /// <summary>Sent to itself by a SKU that recovered with a snapshot due (see <see cref="OnRecover"/>).</summary>
    private sealed class SnapshotDue : IDeadLetterSuppression
    {
        public static readonly SnapshotDue Instance = new();
    }

    private static readonly IImmutableSet<string> LedgerTags = ImmutableHashSet.Create(ILedgerEvent.Tag);

    // A timer further out than this is re-armed when it fires, so a far deadline never overflows the scheduler.
    private static readonly TimeSpan LongestTimer = TimeSpan.FromHours(1);

    private readonly string _skuId;
    private readonly InventorySettings _settings;
    private readonly TimeProvider _clock;
    // Decisions waiting for their write, and those of the write under way: made when a decision comes while a write is
    // under way, and dropped once the SKU drains after a write of one decision, since most SKUs wait idle (100,000 may be
    // active on a node); a busy one keeps them from write to write, drained or not, instead of growing new ones each time.
    private Queue<Pending>? _queue;
    private SkuState _state;
    // Reused from write to write while the SKU is busy: no array per write.
    private List<Pending>? _writing;
    // The write under way when it holds one decision that came while nothing was written or queued (most writes of a SKU
    // that is not busy): kept here rather than in the buffers above, which it would make and drop again for that one
    // write, alive until it is confirmed. Its Events are null when there is no such write.
    private Pending _alone;
    // When the write under way was handed to the journal; its handler is made once per busy period, not per write, and
    // dropped with the buffers above (an idle SKU keeps no delegate).
    private long _writeStarted;
    private Action<object>? _written;
    private bool _stopping;
    // Asked the shard to passivate it (see StopEntity).
    private bool _passivating;
    // Stopping waits for this snapshot (taken once, when stopping with many events since the last one).
    private bool _stopSnapshotPending, _stopSnapshotTaken;
    private DateTimeOffset? _armedDeadline;
    // Scheduled through the system's scheduler, not IWithTimers: Akka gives every IWithTimers actor a timer scheduler
    // and its table when it is created, and most SKUs never hold a payment deadline.
    private PaymentDeadlineDue? _deadlineTick;
    private ICancelable? _deadlineTimer;
    private long _lastSnapshotSequenceNr;
    // Events decided since the latest snapshot was captured: a journal row holds one event or a whole batch, so sequence
    // numbers do not count them.
    private long _eventsSinceSnapshot;
    // Entries of the latest snapshot that it writes whole (open lines and refunds; and remembered ids unless they are kept
    // in chunks): the next one waits for as many events.
    private int _snapshotEntries;
    // Remembered ids in chunks (when the snapshot store keeps them): the chunks of the latest snapshot captured (the next
    // builds on them), of the latest known to be saved (the next builds on these instead if a save fails), those of the
    // snapshots sent to the store by sequence number, and this line of snapshots' name (see IdChunks).
    private IdChunks? _chunkBase, _savedChunks;
    private readonly List<(long SequenceNr, IdChunks Chunks)> _chunksSaving = [];
    private long _lineage = Random.Shared.NextInt64();
    private long _commands, _eventsWritten, _batches, _largestBatch, _eventsReplayed;
    private readonly IdleWatch _idle;

    public SkuActor(string skuId, InventorySettings settings, TimeProvider clock)
    {
        _skuId = skuId;
        _settings = settings;
        _clock = clock;
        _state = SkuState.Empty(settings.RememberIdsFor, settings.ManualRestockWindow);
        _idle = new IdleWatch(settings.IdleBeforePassivation);
    }

    /// <param name="clock">Payment deadlines and received-at times are read from it; tests pass their own.</param>
    public static Props Props(string skuId, InventorySettings settings, TimeProvider? clock = null) =>
        new SkuProps(skuId, settings, clock ?? TimeProvider.System);

    private sealed class SkuProps : EntityProps<SkuActor>
    {
        private readonly string _skuId;
        private readonly InventorySettings _settings;
        private readonly TimeProvider _clock;

        public SkuProps(string skuId, InventorySettings settings, TimeProvider clock) => (_skuId, _settings, _clock) = (skuId, settings, clock);

        private SkuProps(SkuProps source) : base(source) => (_skuId, _settings, _clock) = (source._skuId, source._settings, source._clock);

        // Akka calls this inside the cell that creates the actor, as it calls a Props' producer.
#pragma warning disable AK1000
        public override ActorBase NewActor() => new SkuActor(_skuId, _settings, _clock);
#pragma warning restore AK1000

        protected override Props Copy() => new SkuProps(this);
    }

    private const string PersistenceIdPrefix = "sku-";

    public static string PersistenceIdFor(string skuId) => PersistenceIdPrefix + skuId;

    public static string SkuIdOf(string persistenceId) => persistenceId[PersistenceIdPrefix.Length..];

    /// <summary>Whether <paramref name="persistenceId"/> is a SKU's (no other entity's starts like it).</summary>
    public static bool IsPersistenceId(string persistenceId) => persistenceId.StartsWith(PersistenceIdPrefix, StringComparison.Ordinal);

    // Akka reads it for every PersistAsync: made once per busy period (as the write buffers) instead of a string per write,
    // and dropped with them, so an idle SKU keeps none.
    private string? _persistenceId;

    public override string PersistenceId => _persistenceId ??= PersistenceIdFor(_skuId);

    protected override void OnRecover(object message)
    {
        switch (message)
        {
            case SkuEvent or SkuEventBatch:
                var events = SkuEventBatch.Expand(message);
                foreach (var e in events)
                    _state = SkuStock.Apply(_state, e);
                _eventsReplayed += events.Count;
                _eventsSinceSnapshot += events.Count;
                break;
            case SnapshotOffer { Snapshot: SkuSnapshot snapshot } offer:
                _state = snapshot.ToState(_settings.RememberIdsFor, _settings.ManualRestockWindow);
                // Positions count on from a chunked snapshot's ids; from any other start they are a new line's.
                if (snapshot.Chunks is { } chunks) (_chunkBase, _savedChunks, _lineage) = (chunks, chunks, chunks.Lineage);
                _lastSnapshotSequenceNr = offer.Metadata.SequenceNr;
                _eventsSinceSnapshot = 0;
                _snapshotEntries = Entries(_state);
                break;
            case RecoveryCompleted:
                // Recovery read it several times; most SKUs then wait idle.
                _persistenceId = null;
                RestockMetrics.SkuRecoveries.Add(1);
                ArmPaymentDeadline();
                _idle.Start(Context);
                // As many events replayed as a snapshot waits for: the latest was passed over (damaged) or never saved. Until a
                // new one replaces it, every start replays them again (and logs the damage); the next write would take one,
                // but a SKU that is only read may crash first. Taken after the commands that waited for the recovery.
                if (SnapshotIsDue) Self.Tell(SnapshotDue.Instance);
                break;
        }
    }

    protected override void OnCommand(object message)
    {
        if (message is IdleWatch.Check)
        {
            // Idle but writing, or watching a payment deadline: look again a quarter period on.
            if (_idle.IsIdle(Context) && !PassivateIfIdle()) _idle.CheckIn(Context, _settings.IdleBeforePassivation / 4);
            return;
        }
        _idle.Seen();
        switch (message)
        {
            case SkuRequest request:
                Decide(request.Command, Sender);
                break;
            case SkuRequests requests:
                DecideAll(requests.Commands, Sender);
                break;
            case SnapshotDue:
                // Once, right after a recovery (it counts as the SKU's activity, like the commands that started it). A decision
                // written since took the snapshot if it made events; one under way or queued is not durable yet, and its own
                // write takes the snapshot; a SKU stopping takes it on the way out.
                if (SnapshotIsDue && !Writing && !Queued && !_stopping) SnapshotNow();
                break;
            case GetStock:
                Enqueue(new Pending([], Sender, _state.IsKnown
                    ? Reply(SkuOutcome.Done)
                    : new SkuReply(_skuId, SkuOutcome.Rejected, RejectionCode.UnknownSku, "this SKU has never been stocked", _state.Levels, _state.Owner)));
                break;
            case PaymentDeadlineDue due:
                if (!ReferenceEquals(due, _deadlineTick)) break;
                _deadlineTick = null;
                _deadlineTimer = null;
                _armedDeadline = null;
                // Releases at most one write's worth; the timer is re-armed at once while more are overdue.
                Decide(new ExpireReservations(_clock.GetUtcNow(), _settings.MaxBatchSize), replyTo: null);
                ArmPaymentDeadline();
                break;
            case GetJournalStats:
                Sender.Tell(new JournalStats(_skuId, _commands, _eventsWritten, _batches, _largestBatch, _lastSnapshotSequenceNr, _eventsReplayed));
                break;
            case Hosting.PassivateIfIdle:
                PassivateIfIdle();
                break;
            case StopEntity:
                // Handoff or passivation: decisions already made are written and answered first. A reservation the shard
                // delivered before it took a passivation in arms a deadline nobody would watch: a passivated SKU is not
                // remembered. The shard keeps what it gets for an entity it is stopping and starts it again for it.
                _stopping = true;
                if (_passivating && _armedDeadline is not null) Context.Parent.Tell(new ResumeSku(_skuId));
                StopIfDrained();
                break;
            case ResumeSku:
                // Recovery has armed its deadlines already.
                break;
            case SaveSnapshotSuccess saved:
                ChunksSaved(saved.Metadata.SequenceNr, saved: true);
                DeleteSnapshots(new SnapshotSelectionCriteria(saved.Metadata.SequenceNr - 1));
                SnapshotBeforeStopDone(saved.Metadata.SequenceNr);
                break;
            case SaveSnapshotFailure failed:
                ChunksSaved(failed.Metadata.SequenceNr, saved: false);
                Log.Warning(failed.Cause, "Snapshot of SKU {0} failed; recovery replays more events until the next one", _skuId);
                SnapshotBeforeStopDone(failed.Metadata.SequenceNr);
                break;
            case DeleteSnapshotsSuccess:
                break;
            case DeleteSnapshotsFailure failed:
                Log.Warning(failed.Cause, "Old snapshots of SKU {0} were not deleted", _skuId);
                break;
            default:
                Unhandled(message);
                break;
        }
    }

    /// <summary>Idle with nothing to write and no payment deadline to watch: the shard stops it until its next message.</summary>
    private bool PassivateIfIdle()
    {
        if (Writing || Queued || _armedDeadline is not null) return false;
        _passivating = true;
        Context.Parent.Tell(new Passivate(StopEntity.Instance));
        return true;
    }

    private void Decide(SkuCommand command, IActorRef? replyTo)
    {
        var (events, reply) = DecideOne(command);
        Enqueue(new Pending(events, replyTo, reply, SnapshotIfDue(events.Count)));
    }

    /// <summary>
    /// Several callers' commands in one message: each decided exactly as if it had come alone, in order, against the state
    /// that includes the ones before it; their events go to the journal in one write and the answers in one reply, after it.
    /// </summary>
    private void DecideAll(IReadOnlyList<SkuCommand> commands, IActorRef replyTo)
    {
        var replies = new SkuReply[commands.Count];
        List<SkuEvent>? events = null;
        for (var i = 0; i < commands.Count; i++)
        {
            var (decided, reply) = DecideOne(commands[i]);
            replies[i] = reply;
            if (decided.Count > 0) (events ??= new(commands.Count)).AddRange(decided);
        }
        IReadOnlyList<SkuEvent> all = events is null ? [] : events;
        Enqueue(new Pending(all, replyTo, new SkuReplies(replies), SnapshotIfDue(all.Count)));
    }

    /// <summary>Decides one command and applies its events: what to write, and the answer once written.</summary>
    private (IReadOnlyList<SkuEvent> Events, SkuReply Reply) DecideOne(SkuCommand command)
    {
        _commands++;
        var decision = SkuStock.Decide(_state, command, _clock.GetUtcNow());
        if (decision is Rejected rejected)
        {
            var settles = rejected.Settles ?? [];
            for (var i = 0; i < settles.Count; i++)
                _state = SkuStock.Apply(_state, settles[i]);
            return (settles, new SkuReply(_skuId, SkuOutcome.Rejected, rejected.Code, rejected.Message, _state.Levels, _state.Owner));
        }
        var accepted = (Accepted)decision;
        if (accepted.Events.Count == 0)
            return ([], Reply(SkuOutcome.AlreadyDone) with { Message = accepted.Note });
        // Index loops: a foreach over the interface would allocate an enumerator per decision.
        for (var i = 0; i < accepted.Events.Count; i++)
        {
            var e = accepted.Events[i];
            _state = SkuStock.Apply(_state, e);
            if (e is StockReserved reserved && (_armedDeadline is null || reserved.PaymentDeadline < _armedDeadline))
                ArmPaymentDeadline(reserved.PaymentDeadline);
        }
        return (accepted.Events, Reply(SkuOutcome.Done));
    }

    private bool Writing => _alone.Events is not null || _writing is { Count: > 0 };

    private bool Queued => _queue is { Count: > 0 };

    private SkuReply Reply(SkuOutcome outcome) => new(_skuId, outcome, null, null, _state.Levels, _state.Owner);

    /// <summary>
    /// A reply that needs no write still waits for the writes decided before it: otherwise a caller could
    /// see (or act on) stock that a failed write then takes back.
    /// </summary>
    private void Enqueue(Pending pending)
    {
        if (Writing || Queued)
        {
            (_queue ??= new()).Enqueue(pending);
            WriteNextBatch();
        }
        else if (pending.Events.Count == 0)
            pending.ReplyTo?.Tell(pending.Reply);
        else
        {
            _alone = pending;
            Write(pending.Events);
        }
    }

    private void WriteNextBatch()
    {
        if (Writing || _queue is null) return;
        while (_queue.Count > 0 && _queue.Peek().Events.Count == 0)
        {
            var ready = _queue.Dequeue();
            ready.ReplyTo?.Tell(ready.Reply);
        }
        if (_queue.Count == 0) return;

        // At most max-batch-size events per write, unless one decision alone has more.
        var batch = _writing ??= new();
        var events = new List<SkuEvent>(Math.Min(_queue.Count, _settings.MaxBatchSize));
        // A decision with a snapshot captured after it ends its write: the snapshot then matches that write's row.
        while (_queue.Count > 0 && (batch.Count == 0 || events.Count + _queue.Peek().Events.Count <= _settings.MaxBatchSize))
        {
            var next = _queue.Dequeue();
            batch.Add(next);
            events.AddRange(next.Events);
            if (next.SnapshotAfter is not null) break;
        }
        Write(events);
    }

    /// <summary>Hands one write's events to the journal, as one row.</summary>
    private void Write(IReadOnlyList<SkuEvent> events)
    {
        _batches++;
        _eventsWritten += events.Count;
        _largestBatch = Math.Max(_largestBatch, events.Count);
        RestockMetrics.JournalBatchSize.Record(events.Count);
        _writeStarted = Stopwatch.GetTimestamp();
        // One journal row per write. Refund and restock events are tagged for the restock ledger's projection, so a
        // row holding one is tagged too; the hot path (reservations) stays untagged, which the Sql plugin inserts fastest.
        object row = events.Count == 1 ? events[0] : new SkuEventBatch(events);
        for (var i = 0; i < events.Count; i++)
            if (events[i] is ILedgerEvent)
            {
                row = new Tagged(row, LedgerTags);
                break;
            }
        // One write at a time (Writing holds the next back), so the field above is this write's start.
        PersistAsync(row, _written ??= Written);
    }

    private void Written(object row)
    {
        RestockMetrics.JournalWriteLatency.Record(Stopwatch.GetElapsedTime(_writeStarted).TotalMilliseconds);
        BatchWritten();
    }

    private void BatchWritten()
    {
        SkuSnapshot? snapshot;
        var busy = false;
        if (_alone.Events is not null)
        {
            var done = _alone;
            _alone = default;
            done.ReplyTo?.Tell(done.Reply);
            snapshot = done.SnapshotAfter;
        }
        else
        {
            var written = _writing!;
            foreach (var done in written)
                done.ReplyTo?.Tell(done.Reply);
            snapshot = written[^1].SnapshotAfter;
            busy = written.Count > 1;
            written.Clear();
        }
        // Until the next batch is handed to the journal, LastSequenceNr is this batch's row, the one the snapshot follows.
        if (snapshot is not null)
        {
            _lastSnapshotSequenceNr = LastSequenceNr;
            Save(snapshot);
        }
        WriteNextBatch();
        // Drained: a SKU that is not busy keeps no buffers (100,000 SKUs may be active on a node). One whose last write
        // carried several decisions is busy and keeps them: at a steady rate below its ceiling it drains after every
        // write, and new ones would grow again by doubling each time. It drops them when a write carries one decision,
        // or when it stops.
        if (!busy && !Writing && !Queued)
        {
            _writing = null;
            _queue = null;
            _written = null;
            _persistenceId = null;
        }
        StopIfDrained();
    }

    /// <summary>
    /// Stops once every decision is written and answered. A SKU with many events since its last snapshot snapshots first
    /// (its state is then all durable), so that it starts again after a handoff, passivation or restart without replaying
    /// them: a saturated SKU may be hundreds of thousands of events past its snapshot (see <see cref="SnapshotIfDue"/>).
    /// </summary>
    private void StopIfDrained()
    {
        if (!_stopping || Writing || Queued || _stopSnapshotPending) return;
        if (!_stopSnapshotTaken && _eventsSinceSnapshot >= _settings.SnapshotEvery)
        {
            _stopSnapshotTaken = _stopSnapshotPending = true;
            SnapshotNow();
            return;
        }
        Context.Stop(Self);
    }

    private void SnapshotBeforeStopDone(long sequenceNr)
    {
        // An earlier snapshot's answer may come first.
        if (!_stopSnapshotPending || sequenceNr != _lastSnapshotSequenceNr) return;
        _stopSnapshotPending = false;
        StopIfDrained();
    }

    /// <summary>
    /// Counts a decision's events and, when a snapshot is due, captures the state right after that decision (a copy: the
    /// state changes in place), so a busy SKU snapshots too; it is saved only once the write ending with that decision is
    /// confirmed (see <see cref="WriteNextBatch"/>), and dropped with the decision if that write fails. Under a burst
    /// several may wait for their writes at once, so that snapshots keep pace with the decisions. A snapshot costs as
    /// much as the state is large (open lines and remembered ids), so the next one also waits for as many events as the
    /// previous one held entries: a snapshot costs a bounded number of entries per event however big the sale (on SQLite
    /// it holds the one write lock the journal needs too), and recovery replays at most that many events.
    /// </summary>
    private SkuSnapshot? SnapshotIfDue(int events)
    {
        _eventsSinceSnapshot += events;
        if (events == 0 || !SnapshotIsDue) return null;
        _eventsSinceSnapshot = 0;
        _snapshotEntries = Entries(_state);
        return Capture();
    }

    private bool SnapshotIsDue => _eventsSinceSnapshot >= Math.Max(_settings.SnapshotEvery, _snapshotEntries);

    /// <summary>A snapshot of the state as it is, saved at once: only when every decision is written.</summary>
    private void SnapshotNow()
    {
        _lastSnapshotSequenceNr = LastSequenceNr;
        _eventsSinceSnapshot = 0;
        _snapshotEntries = Entries(_state);
        Save(Capture());
    }

    /// <summary>
    /// The state as a snapshot. Where the store keeps remembered ids in chunks, a snapshot writes only the ids finished since
    /// the previous snapshot captured, so its cost no longer grows with the ids remembered. The store saves one SKU's
    /// snapshots in the order sent and refuses one that needs a chunk an earlier save failed to store.
    /// </summary>
    private SkuSnapshot Capture()
    {
        if (!_settings.SnapshotIdsInChunks) return SkuSnapshot.From(_state);
        var snapshot = SkuSnapshot.InChunks(_state, _chunkBase, _lineage);
        _chunkBase = snapshot.Chunks;
        return snapshot;
    }

    private void Save(SkuSnapshot snapshot)
    {
        if (snapshot.Chunks is { } chunks) _chunksSaving.Add((LastSequenceNr, chunks));
        SaveSnapshot(snapshot);
    }

    /// <summary>The store's answer for a snapshot in chunks; after a failure the next snapshot builds on chunks known to be saved.</summary>
    private void ChunksSaved(long sequenceNr, bool saved)
    {
        var i = _chunksSaving.FindIndex(s => s.SequenceNr == sequenceNr);
        if (i < 0) return;
        if (saved) _savedChunks = _chunksSaving[i].Chunks;
        else _chunkBase = _savedChunks;
        _chunksSaving.RemoveRange(0, i + 1);
    }

    /// <summary>
    /// What a snapshot writes whole, which the next one waits for as many events as: its open lines and refunds, and its
    /// remembered ids unless they are kept in chunks (each written once: a bounded number per event).
    /// </summary>
    private int Entries(SkuState state) =>
        state.OpenLines.Count + state.Refunds.Count + (_settings.SnapshotIdsInChunks ? 0 : state.Remembered.Count);

    private void ArmPaymentDeadline(DateTimeOffset? deadline = null)
    {
        CancelPaymentDeadline();
        _armedDeadline = deadline ?? _state.NextPaymentDeadline();
        if (_armedDeadline is not { } due) return;
        var delay = due - _clock.GetUtcNow();
        delay = delay < TimeSpan.Zero ? TimeSpan.Zero : delay > LongestTimer ? LongestTimer : delay;
        _deadlineTick = new PaymentDeadlineDue();
        _deadlineTimer = Context.System.Scheduler.ScheduleTellOnceCancelable(delay, Self, _deadlineTick, ActorRefs.NoSender);
    }

    private void CancelPaymentDeadline()
    {
        _deadlineTimer?.Cancel();
        _deadlineTimer = null;
        _deadlineTick = null;
    }

    /// <summary>The journal did not confirm the write: it may or may not have been stored.</summary>
    protected override void OnPersistFailure(Exception cause, object @event, long sequenceNr)
    {
        FailWaitingCallers(cause);
        base.OnPersistFailure(cause, @event, sequenceNr);
    }

    /// <summary>The in-memory state already holds the rejected events: stop, so the next message recovers from the journal.</summary>
    protected override void OnPersistRejected(Exception cause, object @event, long sequenceNr)
    {
        FailWaitingCallers(cause, writeRejected: true);
        base.OnPersistRejected(cause, @event, sequenceNr);
        Context.Stop(Self);
    }

    /// <summary>
    /// Akka's cell keeps a message's sender until the actor's next message: for most SKUs of a large catalogue that is
    /// seconds later, so each request's sender would survive collections and leave an old-to-young reference. Whom a
    /// decision must answer is kept in its <see cref="Pending"/>; the cell's copy is dropped once the message is handled.
    /// </summary>
    protected override bool AroundReceive(Receive receive, object message)
    {
        var handled = base.AroundReceive(receive, message);
        if (Context is ActorCell cell) ForgetSender?.Invoke(cell, null);
        return handled;
    }

    // Akka has no public way to clear it; null (a no-op) if a later Akka no longer has this setter.
    private static readonly Action<ActorCell, IActorRef?>? ForgetSender =
        typeof(ActorCell).GetProperty(nameof(ActorCell.Sender))?.GetSetMethod(nonPublic: true) is { } setter
            ? setter.CreateDelegate<Action<ActorCell, IActorRef?>>()
            : null;

    protected override void PostStop()
    {
        CancelPaymentDeadline();
        FailWaitingCallers(null);
        base.PostStop();
    }

    /// <summary>
    /// Tells every waiting caller the truth: decisions still queued were never written (nothing applied); the ones in
    /// the write under way are unknown unless the journal rejected that write, since it may yet be stored.
    /// </summary>
    private void FailWaitingCallers(Exception? cause, bool writeRejected = false)
    {
        // Most SKUs stop (passivate, hand off, shut down) with nobody waiting: no exceptions built for nobody.
        if (!Writing && !Queued)
        {
            (_writing, _queue) = (null, null);
            return;
        }
        var inFlight = new Status.Failure(writeRejected
            ? new StockNotSavedException(_skuId, cause)
            : new StockOutcomeUnknownException(_skuId, cause));
        _alone.ReplyTo?.Tell(inFlight);
        foreach (var p in _writing ?? [])
            p.ReplyTo?.Tell(inFlight);
        var notWritten = new Status.Failure(new StockNotSavedException(_skuId, cause));
        foreach (var p in _queue ?? [])
            p.ReplyTo?.Tell(notWritten);
        _alone = default;
        _writing = null;
        _queue = null;
    }
}
