using System.Collections.Concurrent;
using Akka.Actor;
using Akka.Cluster;

namespace Restock.Actors.Engine.Hosting;

/// <summary>
/// Which persistence ids have rows in one table that only this process writes (SQLite: one process owns the file), so a
/// SKU never stored recovers without a read: its snapshot load and highest sequence number are answered at once. The ids
/// are read once, in the background, when the first recovery asks; until then every answer is "maybe" (the reads run as
/// before). Each write adds its id before it starts, so an id with rows is never missed: one written before the read
/// began is in what it returned, one written after was added. Ids are kept as 64-bit hashes (a collision answers
/// "maybe"), about 24 bytes per id. Kept per ActorSystem, so a restarted journal actor keeps what its predecessor wrote.
/// Once another node has joined this one's cluster, every answer is "maybe" for good: that node's SKUs write to the same
/// file (a cluster of nodes sharing one SQLite file), and one may move here after it wrote.
/// </summary>
internal sealed class StoredIds
{
    private static readonly TimeSpan RetryAfter = TimeSpan.FromSeconds(1);

    private readonly PerSystem _system;
    private readonly object _gate = new();
    private readonly HashSet<long> _ids = [];
    private readonly Func<CancellationToken, Task<List<string>>> _readIds;
    private bool _read;
    private bool _reading;
    private long _retryAtMs;

    /// <param name="readIds">Every persistence id with rows in the table (duplicates allowed).</param>
    private StoredIds(PerSystem system, Func<CancellationToken, Task<List<string>>> readIds) => (_system, _readIds) = (system, readIds);

    /// <summary>The ids of one table (named by <paramref name="key"/>: which store, which database) in <paramref name="system"/>.</summary>
    public static StoredIds For(ActorSystem system, string key, Func<CancellationToken, Task<List<string>>> readIds)
    {
        var perSystem = system.WithExtension<PerSystem, PerSystemId>();
        return perSystem.Tables.GetOrAdd(key, _ => new StoredIds(perSystem, readIds));
    }

    /// <summary>Whether every table of <paramref name="system"/> that keeps its ids has read them (none kept: false).</summary>
    public static bool AllRead(ActorSystem system)
    {
        var tables = system.WithExtension<PerSystem, PerSystemId>().Tables;
        return !tables.IsEmpty && tables.Values.All(t => t.Ready);
    }

    /// <summary>Call before writing a row for the id.</summary>
    public void Writing(string persistenceId)
    {
        var hash = Hash(persistenceId);
        lock (_gate)
            _ids.Add(hash);
    }

    /// <summary>False only when the id certainly has no rows.</summary>
    public bool MayHaveRows(string persistenceId, CancellationToken stopping)
    {
        if (_system.OtherNodeSeen) return true;
        var hash = Hash(persistenceId);
        lock (_gate)
        {
            if (_read) return _ids.Contains(hash);
            if (_reading || Environment.TickCount64 < _retryAtMs) return true;
            _reading = true;
        }
        _ = Task.Run(() => ReadAsync(stopping), CancellationToken.None);
        return true;
    }

    /// <summary>Whether the table's ids have been read (from then on, ids never written answer "no rows").</summary>
    public bool Ready
    {
        get
        {
            lock (_gate)
                return _read;
        }
    }

    private async Task ReadAsync(CancellationToken stopping)
    {
        List<string>? ids = null;
        try
        {
            ids = await _readIds(stopping);
        }
        catch (Exception)
        {
            // The table may not exist yet (the plugin creates it as it starts): asked again a little later.
        }
        lock (_gate)
        {
            _reading = false;
            if (ids is null)
            {
                _retryAtMs = Environment.TickCount64 + (long)RetryAfter.TotalMilliseconds;
                return;
            }
            foreach (var id in ids)
                _ids.Add(Hash(id));
            _read = true;
        }
    }

    // FNV-1a over the UTF-16 code units: stable, and spread well enough that a collision (a needless read) is rare.
    private static long Hash(string id)
    {
        var hash = 14695981039346656037UL;
        foreach (var c in id)
        {
            hash = (hash ^ c) * 1099511628211UL;
        }
        return (long)hash;
    }

    private sealed class PerSystem : IExtension
    {
        public readonly ConcurrentDictionary<string, StoredIds> Tables = new(StringComparer.Ordinal);
        private volatile bool _otherNodeSeen;

        public bool OtherNodeSeen => _otherNodeSeen;

        public void SawOtherNode() => _otherNodeSeen = true;
    }

    private sealed class PerSystemId : ExtensionIdProvider<PerSystem>
    {
        public override PerSystem CreateExtension(ExtendedActorSystem system)
        {
            var perSystem = new PerSystem();
            if (system.Provider is IClusterActorRefProvider)
                Cluster.Get(system).Subscribe(system.SystemActorOf(Props.Create<OtherNodes>(perSystem), "stored-ids-other-nodes"),
                    ClusterEvent.SubscriptionInitialStateMode.InitialStateAsEvents, typeof(ClusterEvent.IMemberEvent));
            return perSystem;
        }
    }

    /// <summary>Tells <see cref="PerSystem"/> when a member other than this node is first seen (joining, up, leaving or gone).</summary>
    private sealed class OtherNodes : ReceiveActor
    {
        public OtherNodes(PerSystem perSystem)
        {
            var self = Cluster.Get(Context.System).SelfUniqueAddress;
            Receive<ClusterEvent.IMemberEvent>(e =>
            {
                if (e.Member.UniqueAddress.Equals(self)) return;
                perSystem.SawOtherNode();
                Context.Stop(Self);
            });
        }
    }
}
