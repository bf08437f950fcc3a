using Akka.Actor;
using Akka.Cluster;

namespace Restock.Actors.Engine.Hosting;

/// <summary>
/// How long a caller waits for an entity. While the cluster's membership is changing (a member unreachable,
/// joining, leaving, or recently removed) shards may be on their way to another node and a request for one of
/// them waits in the region's buffer: callers then get the short takeover timeout, a prompt 503 to retry, instead
/// of holding their connection for the whole ask timeout. Entities on settled shards answer well within either.
/// </summary>
public sealed class AskTimeouts
{
    private readonly Cluster? _cluster;
    private long _settledAfterMs;

    private AskTimeouts(Cluster? cluster, TimeSpan normal, TimeSpan duringTakeover, TimeSpan window)
    {
        _cluster = cluster;
        Normal = normal;
        DuringTakeover = duringTakeover;
        Window = window;
    }

    public TimeSpan Normal { get; }

    public TimeSpan DuringTakeover { get; }

    public TimeSpan Window { get; }

    /// <summary>A fixed timeout, for callers outside a cluster.</summary>
    public static AskTimeouts Fixed(TimeSpan timeout) => new(null, timeout, timeout, TimeSpan.Zero);

    public static AskTimeouts Start(ActorSystem system, TimeSpan normal)
    {
        var config = system.Settings.Config.GetConfig("restock.cluster");
        var timeouts = new AskTimeouts(Cluster.Get(system), normal, config.GetTimeSpan("takeover-ask-timeout"), config.GetTimeSpan("takeover-window"));
        system.ActorOf(Props.Create(() => new MembershipWatch(timeouts)), "membership-watch");
        return timeouts;
    }

    /// <summary>True while shards may be moving.</summary>
    public bool TakeoverUnderway
    {
        get
        {
            if (_cluster is null) return false;
            if (Environment.TickCount64 < Interlocked.Read(ref _settledAfterMs)) return true;
            var state = _cluster.State;
            return state.Unreachable.Count > 0 || state.Members.Any(m => m.Status is not (MemberStatus.Up or MemberStatus.WeaklyUp));
        }
    }

    public TimeSpan Current => TakeoverUnderway ? DuringTakeover : Normal;

    private void MemberRemoved() => Interlocked.Exchange(ref _settledAfterMs, Environment.TickCount64 + (long)Window.TotalMilliseconds);

    /// <summary>Notes when a member leaves the cluster: its shards start elsewhere only after the removal margin.</summary>
    private sealed class MembershipWatch : ReceiveActor
    {
        public MembershipWatch(AskTimeouts timeouts)
        {
            Receive<ClusterEvent.MemberRemoved>(_ => timeouts.MemberRemoved());
            Receive<ClusterEvent.CurrentClusterState>(_ => { });
        }

        protected override void PreStart() => Cluster.Get(Context.System).Subscribe(Self, typeof(ClusterEvent.MemberRemoved));

        protected override void PostStop() => Cluster.Get(Context.System).Unsubscribe(Self);
    }
}
