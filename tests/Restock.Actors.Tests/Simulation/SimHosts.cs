using Akka.Actor;
using Akka.Persistence;
using Akka.Persistence.Journal;
using Akka.Persistence.TestKit;
using Restock.Actors.Engine.Hosting;
using Restock.Actors.Tests.Support;

namespace Restock.Actors.Tests.Simulation;

/// <summary>Where schedules run: the real engine, on some journal, with the fault switches that journal allows.</summary>
public interface ISimHost
{
    /// <summary>The engine now (a system restart replaces it).</summary>
    RestockEngine Engine { get; }

    /// <summary>Journal and snapshot faults, when the journal is Akka.Persistence.TestKit's.</summary>
    StorageFaultInjector? Faults { get; }

    bool CanRestart { get; }

    /// <summary>Whether the restock ledger's projection runs (it reads the SQL journal).</summary>
    bool HasLedger { get; }

    Task RestartAsync();
}

/// <summary>
/// The timing knobs the simulation turns (all else is the shipped configuration): snapshots every few events so
/// snapshot faults and snapshot recovery happen at this scale, a short restart backoff for stopped entities, a 2 s
/// ask timeout (a message that reaches an entity as it crashes is lost, and its asker would wait the shipped 10 s
/// before retrying) and with it a shorter wait for a shop's answer before a refund's first write, quiet logs.
/// </summary>
internal static class SimConfig
{
    public static readonly string[] Common =
    [
        "restock.inventory.snapshot-every = 4",
        "restock.inventory.ask-timeout = 2s",
        "restock.refunds.shop-answer-before-first-write = 500ms",
        "akka.cluster.sharding.entity-restart-backoff = 300ms",
        "akka.loglevel = " + (Environment.GetEnvironmentVariable("RESTOCK_SIM_LOG") is { Length: > 0 } level ? level : "OFF"),
        "akka.stdout-loglevel = OFF",
    ];

    public static readonly string[] TestKitJournal =
    [
        "akka.persistence.journal.plugin = akka.persistence.journal.test",
        """
        akka.persistence.journal.test {
          class = "Akka.Persistence.TestKit.TestJournal, Akka.Persistence.TestKit"
          plugin-dispatcher = akka.actor.default-dispatcher
          # Injected failures must not open the breaker for every other schedule on the system.
          circuit-breaker { max-failures = 1000000, call-timeout = 30s, reset-timeout = 1s }
          event-adapters.untag = "Restock.Actors.Tests.Simulation.UntagOnReplay, Restock.Actors.Tests"
          event-adapter-bindings { "Akka.Persistence.Journal.Tagged, Akka.Persistence" = untag }
        }
        """,
        "akka.persistence.snapshot-store.plugin = akka.persistence.snapshot-store.test",
        """
        akka.persistence.snapshot-store.test {
          class = "Akka.Persistence.TestKit.TestSnapshotStore, Akka.Persistence.TestKit"
          plugin-dispatcher = akka.actor.default-dispatcher
          circuit-breaker { max-failures = 1000000, call-timeout = 30s, reset-timeout = 1s }
        }
        """,
        // The ledger's projection reads the SQL journal; on TestKit's journal it has nothing to read.
        "restock.ledger.projection = off",
    ];
}

/// <summary>
/// One ActorSystem on Akka.Persistence.TestKit's in-memory journal and snapshot store, shared by many schedules
/// (each uses entity ids of its own), with the storage-fault interceptors installed.
/// </summary>
public sealed class MemorySimHost : ISimHost, IAsyncDisposable
{
    private readonly TestDatabase _db;

    private MemorySimHost(TestDatabase db, RestockEngine engine, StorageFaultInjector faults)
    {
        _db = db;
        Engine = engine;
        Faults = faults;
    }

    public RestockEngine Engine { get; }

    public StorageFaultInjector? Faults { get; }

    public bool CanRestart => false;

    public bool HasLedger => false;

    public Task RestartAsync() => throw new NotSupportedException("the in-memory journal does not outlive its ActorSystem");

    public static async Task<MemorySimHost> StartAsync()
    {
        var db = new TestDatabase();
        var system = ActorSystem.Create("restock", db.Config([.. SimConfig.Common, .. SimConfig.TestKitJournal]));
        var engine = await RestockEngine.StartOnAsync(system).Within("the engine to start");
        var faults = new StorageFaultInjector();
        var persistence = Persistence.Instance.Apply(system);
        var journal = TestJournal.FromRef(persistence.JournalFor(null));
        await journal.OnWrite.SetInterceptorAsync(faults);
        await journal.OnConnect.SetInterceptorAsync(faults);
        var snapshots = TestSnapshotStore.FromRef(persistence.SnapshotStoreFor(null));
        await snapshots.OnSave.SetInterceptorAsync(faults.Saves);
        await snapshots.OnLoad.SetInterceptorAsync(faults.Loads);
        return new MemorySimHost(db, engine, faults);
    }

    public async ValueTask DisposeAsync()
    {
        await Engine.System.Terminate();
        _db.Dispose();
    }
}

/// <summary>The shipped SQLite configuration (ledger projection included) on a file of the schedule's own; restartable.</summary>
public sealed class SqliteSimHost : ISimHost, IAsyncDisposable
{
    private readonly TestDatabase _db = new();

    private SqliteSimHost()
    {
    }

    public RestockEngine Engine { get; private set; } = null!;

    public StorageFaultInjector? Faults => null;

    public bool CanRestart => true;

    public bool HasLedger => true;

    public int Restarts { get; private set; }

    public static async Task<SqliteSimHost> StartAsync()
    {
        var host = new SqliteSimHost();
        host.Engine = await RestockEngine.StartAsync(host._db.Config(SimConfig.Common)).Within("the engine to start");
        return host;
    }

    public async Task RestartAsync()
    {
        await Engine.DisposeAsync();
        Engine = await RestockEngine.StartAsync(_db.Config(SimConfig.Common)).Within("the engine to start");
        Restarts++;
    }

    public async ValueTask DisposeAsync()
    {
        await Engine.DisposeAsync();
        _db.Dispose();
    }
}

/// <summary>
/// The in-memory journal replays a tagged event still wrapped in <see cref="Tagged"/>, where the SQL journal (and
/// so the engine) hands back the event itself: without this adapter every refund would vanish on recovery in the
/// simulation only.
/// </summary>
public sealed class UntagOnReplay : IReadEventAdapter
{
    public IEventSequence FromJournal(object evt, string manifest) => EventSequence.Single(evt is Tagged t ? t.Payload : evt);
}

/// <summary>Reads what the journal holds for one persistence id, the way recovery would (from sequence number 1).</summary>
public static class JournalReader
{
    public static async Task<IReadOnlyList<object>> ReadAsync(ActorSystem system, string persistenceId)
    {
        var done = new TaskCompletionSource<IReadOnlyList<object>>(TaskCreationOptions.RunContinuationsAsynchronously);
        var collector = system.ActorOf(Props.Create(() => new Collector(done)));
        Persistence.Instance.Apply(system).JournalFor(null)
            .Tell(new ReplayMessages(1, long.MaxValue, long.MaxValue, persistenceId, collector), collector);
        return await done.Task.WaitAsync(TimeSpan.FromSeconds(30));
    }

    private sealed class Collector : ReceiveActor
    {
        public Collector(TaskCompletionSource<IReadOnlyList<object>> done)
        {
            var events = new List<object>();
            Receive<ReplayedMessage>(m => events.Add(m.Persistent.Payload is Tagged t ? t.Payload : m.Persistent.Payload));
            Receive<RecoverySuccess>(_ =>
            {
                done.TrySetResult(events);
                Context.Stop(Self);
            });
            Receive<ReplayMessagesFailure>(f =>
            {
                done.TrySetException(f.Cause);
                Context.Stop(Self);
            });
        }
    }
}

/// <summary>
/// Hands out in-memory hosts, each to at most <paramref name="schedulesPerHost"/> schedules, then starts a fresh one
/// and stops the old one when its last schedule ends. Akka 1.5.73's MemoryJournal copies its whole index of
/// persistence ids on every write and its snapshot store scans every snapshot, so one system shared by every
/// schedule of a long run makes each write cost more than the one before.
/// </summary>
public sealed class MemoryHostPool(int schedulesPerHost) : IAsyncDisposable
{
    private sealed class Lease(MemorySimHost host)
    {
        public MemorySimHost Host { get; } = host;
        public int Given { get; set; }
        public int Running { get; set; }
    }

    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly Dictionary<ISimHost, Lease> _leases = [];
    private readonly List<Task> _stopping = [];
    private Lease? _current;

    public int Started { get; private set; }

    public async Task<ISimHost> AcquireAsync()
    {
        await _gate.WaitAsync();
        try
        {
            if (_current is null || _current.Given >= schedulesPerHost)
            {
                if (_current is { Running: 0 } idle) Stop(idle);
                _current = new Lease(await MemorySimHost.StartAsync());
                _leases[_current.Host] = _current;
                Started++;
            }
            _current.Given++;
            _current.Running++;
            return _current.Host;
        }
        finally
        {
            _gate.Release();
        }
    }

    public async Task ReleaseAsync(ISimHost host)
    {
        await _gate.WaitAsync();
        try
        {
            var lease = _leases[host];
            lease.Running--;
            if (lease.Running == 0 && lease != _current) Stop(lease);
        }
        finally
        {
            _gate.Release();
        }
    }

    private void Stop(Lease lease)
    {
        _leases.Remove(lease.Host);
        _stopping.Add(lease.Host.DisposeAsync().AsTask());
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var lease in _leases.Values.ToList()) Stop(lease);
        await Task.WhenAll(_stopping);
    }
}
