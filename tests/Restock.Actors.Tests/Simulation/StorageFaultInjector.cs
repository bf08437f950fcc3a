using System.Collections.Concurrent;
using Akka.Persistence;
using Akka.Persistence.TestKit;

namespace Restock.Actors.Tests.Simulation;

/// <summary>The storage faults one running schedule asked for; rolls its own dice.</summary>
public sealed class RunFaults(long seed)
{
    private readonly Random _random = new(unchecked((int)seed * 31 + 7));
    private volatile StorageFaults? _active;
    private DateTime _until;
    private long _failures, _rejections, _snapshotFaults;

    public long Injected => Interlocked.Read(ref _failures) + Interlocked.Read(ref _rejections) + Interlocked.Read(ref _snapshotFaults);

    public string Summary => $"{_failures} journal write failures, {_rejections} rejections, {_snapshotFaults} snapshot faults";

    public void Start(StorageFaults window)
    {
        lock (_random) _until = DateTime.UtcNow.AddMilliseconds(window.ForMs);
        _active = window;
    }

    public void Stop() => _active = null;

    public bool Roll(Func<StorageFaults, double> odds, ref long counter)
    {
        if (_active is not { } window) return false;
        lock (_random)
        {
            if (DateTime.UtcNow > _until)
            {
                _active = null;
                return false;
            }
            if (_random.NextDouble() >= odds(window)) return false;
        }
        Interlocked.Increment(ref counter);
        return true;
    }

    internal bool FailWrite() => Roll(w => w.WriteFailure, ref _failures);

    internal bool RejectWrite() => Roll(w => w.WriteRejection, ref _rejections);

    internal bool FailSnapshotSave() => Roll(w => w.SnapshotSave, ref _snapshotFaults);

    internal bool FailSnapshotLoad() => Roll(w => w.SnapshotLoad, ref _snapshotFaults);
}

/// <summary>
/// Akka.Persistence.TestKit interceptors shared by every schedule on one ActorSystem: a write or snapshot of an
/// entity whose id carries a schedule's run number is faulted by that schedule's odds, everything else
/// (sharding's own state) passes.
/// A write failure is thrown only at the first event of a journal call, before anything of that call is stored:
/// a real database fails a write as a whole, while TestJournal would keep the events before the failing one.
/// A rejection hits one atomic write as a whole, as a serialization error does in the SQL journal: it is thrown at
/// the first event an entity has in a journal call (each entity has at most one write in flight, so that event opens
/// its atomic write), because TestJournal keeps the events of an atomic write before the one that throws.
/// </summary>
public sealed class StorageFaultInjector : IJournalInterceptor, IConnectionInterceptor
{
    private readonly ConcurrentDictionary<int, RunFaults> _runs = new();
    private readonly HashSet<string> _seenInCall = [];
    private volatile bool _callStarts;

    public void Register(int run, RunFaults faults) => _runs[run] = faults;

    public void Unregister(int run) => _runs.TryRemove(run, out _);

    /// <summary>TestJournal calls this once at the start of every journal call, then the write interceptor per event.</summary>
    Task IConnectionInterceptor.InterceptAsync()
    {
        _callStarts = true;
        lock (_seenInCall) _seenInCall.Clear();
        return Task.CompletedTask;
    }

    Task IJournalInterceptor.InterceptAsync(IPersistentRepresentation message)
    {
        var first = _callStarts;
        _callStarts = false;
        if (RunOf(message.PersistenceId) is not { } run) return Task.CompletedTask;
        if (first && run.FailWrite()) throw new TestJournalFailureException("simulated journal outage");
        bool opensAtomicWrite;
        lock (_seenInCall) opensAtomicWrite = _seenInCall.Add(message.PersistenceId);
        if (opensAtomicWrite && run.RejectWrite()) throw new TestJournalRejectionException("simulated rejected event");
        return Task.CompletedTask;
    }

    public ISnapshotStoreInterceptor Saves => new SnapshotFaults(this, load: false);

    public ISnapshotStoreInterceptor Loads => new SnapshotFaults(this, load: true);

    private RunFaults? RunOf(string persistenceId)
    {
        // Engine persistence ids are "<kind>-<entity id>", and a schedule's entity ids start with "z<run>_".
        var start = persistenceId.IndexOf("-" + SimIds.RunMarker, StringComparison.Ordinal);
        if (start < 0) return null;
        var end = persistenceId.IndexOf('_', start);
        return end > start + 2 && int.TryParse(persistenceId.AsSpan(start + 2, end - start - 2), out var run) && _runs.TryGetValue(run, out var faults)
            ? faults
            : null;
    }

    private sealed class SnapshotFaults(StorageFaultInjector injector, bool load) : ISnapshotStoreInterceptor
    {
        public Task InterceptAsync(string persistenceId, SnapshotSelectionCriteria criteria)
        {
            if (injector.RunOf(persistenceId) is { } run && (load ? run.FailSnapshotLoad() : run.FailSnapshotSave()))
                throw new TestSnapshotStoreFailureException(load ? "simulated snapshot load failure" : "simulated snapshot save failure");
            return Task.CompletedTask;
        }
    }
}

/// <summary>Entity ids of one schedule run: a run number no other run shares, so runs can share one ActorSystem.</summary>
public sealed class SimIds(int run)
{
    public const char RunMarker = 'z';

    public int Run { get; } = run;

    public string Of(string name) => $"{RunMarker}{Run}_{name}";
}
