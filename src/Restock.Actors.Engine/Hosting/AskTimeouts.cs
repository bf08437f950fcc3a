using Akka.Actor;
using Akka.Cluster;
using Akka.Remote;

namespace Restock.Actors.Engine.Hosting;

/// <summary>
/// How long a caller waits for an entity. While the cluster's membership is changing (a connection to a member
/// lost, a member unreachable, joining, leaving, downed, or recently removed) shards may be on their way to
/// another node and a request for one of them waits in the region's buffer: callers then get the short takeover
/// timeout, a prompt 503 to retry, instead of holding their connection for the whole ask timeout. A request already
/// waiting when the change is seen gets the same short timeout counted from its own start (ended at once if it has
/// waited longer), so no caller waits more than the takeover timeout once a takeover is known. Entities on settled
/// shards answer well within either. The waiting is done by <see cref="PendingReplies"/> (a shared deadline sweep).
/// </summary>
public sealed class AskTimeouts
{
    private readonly Cluster? _cluster;
    private readonly PendingReplies _replies;
    private readonly Func<bool> _settling;
    private long _settledAfterMs;

    private AskTimeouts(Cluster? cluster, PendingReplies replies, TimeSpan normal, TimeSpan duringTakeover, TimeSpan window)
    {
        _cluster = cluster;
        _replies = replies;
        _settling = () => Environment.TickCount64 < Interlocked.Read(ref _settledAfterMs);
        Normal = normal;
        DuringTakeover = duringTakeover;
        Window = window;
    }

    public TimeSpan Normal { get; }

    public TimeSpan DuringTakeover { get; }

    public TimeSpan Window { get; }

    public static AskTimeouts Start(ActorSystem system, TimeSpan normal)
    {
        var config = system.Settings.Config;
        var replies = new PendingReplies(system);
        system.WhenTerminated.ContinueWith(_ => replies.Dispose(), TaskScheduler.Default);
        var timeouts = new AskTimeouts(Cluster.Get(system), replies, normal, RestockConfig.TakeoverAskTimeoutOf(config), config.GetTimeSpan("restock.cluster.takeover-window"));
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
            if (state.Unreachable.Count > 0) return true;
            // A loop, not Any(): it runs on every ask, and Any() boxes the set's enumerator.
            foreach (var member in state.Members)
                if (member.Status is not (MemberStatus.Up or MemberStatus.WeaklyUp)) return true;
            return false;
        }
    }

    public TimeSpan Current => TakeoverUnderway ? DuringTakeover : Normal;

    /// <summary>Asks <paramref name="target"/>, waiting <see cref="Current"/> at most, and less if a takeover starts meanwhile.</summary>
    public Task<T> Ask<T>(IActorRef target, object message, CancellationToken cancellationToken) =>
        Ask<T>(target, message, null, cancellationToken);

    /// <summary>The same; <paramref name="onAnswer"/> sees the answer first, on the answering actor's thread (keep it short).</summary>
    public Task<T> Ask<T>(IActorRef target, object message, Action<T>? onAnswer, CancellationToken cancellationToken) =>
        _replies.Ask(target, message, Current, DuringTakeover, _settling, onAnswer, null, cancellationToken);

    /// <summary>The same; <paramref name="onFailed"/> sees an end without an answer first (its exception, null if cancelled).</summary>
    public Task<T> Ask<T>(IActorRef target, object message, Action<T>? onAnswer, Action<Exception?>? onFailed, CancellationToken cancellationToken) =>
        _replies.Ask(target, message, Current, DuringTakeover, _settling, onAnswer, onFailed, cancellationToken);

    /// <summary>Shards may move from now on: shorten new asks for the window, and cut the waiting ones to the takeover timeout.</summary>
    private void MembershipChanging()
    {
        // Set before the cut: an ask joining its list after the cut has passed it sees this and is cut itself.
        Interlocked.Exchange(ref _settledAfterMs, Environment.TickCount64 + (long)Window.TotalMilliseconds);
        _replies.Cut(DuringTakeover);
    }

    /// <summary>
    /// Akka's own signals that shards may move. A lost connection comes first: a killed process's sockets close at
    /// once, seconds before the failure detector marks the member unreachable.
    /// </summary>
    private sealed class MembershipWatch : ReceiveActor
    {
        public MembershipWatch(AskTimeouts timeouts)
        {
            Receive<DisassociatedEvent>(_ => timeouts.MembershipChanging());
            Receive<ClusterEvent.UnreachableMember>(_ => timeouts.MembershipChanging());
            Receive<ClusterEvent.IMemberEvent>(e =>
            {
                if (e is not ClusterEvent.MemberUp and not ClusterEvent.MemberWeaklyUp and not ClusterEvent.MemberJoined)
                    timeouts.MembershipChanging();
            });
            Receive<ClusterEvent.CurrentClusterState>(_ => { });
        }

        protected override void PreStart()
        {
            Context.System.EventStream.Subscribe(Self, typeof(DisassociatedEvent));
            Cluster.Get(Context.System).Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsSnapshot,
                typeof(ClusterEvent.IMemberEvent), typeof(ClusterEvent.UnreachableMember));
        }

        protected override void PostStop()
        {
            Context.System.EventStream.Unsubscribe(Self);
            Cluster.Get(Context.System).Unsubscribe(Self);
        }
    }
}
