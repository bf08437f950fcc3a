using Akka.Actor;
using Akka.Dispatch.SysMsg;

namespace Restock.Actors.Engine.Hosting;

/// <summary>
/// The asks a node is waiting on, with one shared deadline sweep instead of Akka's per-ask timer, token source,
/// registrations and eagerly registered temporary actor (together most of what an ask allocated). Asks with the same
/// timeout share a list in start order, so their deadlines are in order too and a sweep stops at the first one not
/// yet due; an ask answered leaves its list at once, so nothing answered is kept alive until its deadline.
/// </summary>
internal sealed class PendingReplies : IDisposable
{
    /// <summary>How often deadlines are checked: an ask ends at most this much after its timeout.</summary>
    public static readonly TimeSpan SweepInterval = TimeSpan.FromMilliseconds(50);

    private readonly IActorRefProvider _provider;
    private readonly Timer _sweep;
    private readonly object _listsLock = new();
    private Waiting[] _lists = [];
    private volatile bool _stopped;

    public PendingReplies(ActorSystem system)
    {
        _provider = ((ExtendedActorSystem)system).Provider;
        _sweep = new Timer(static state => ((PendingReplies)state!).Sweep(), this, SweepInterval, SweepInterval);
    }

    /// <summary>Sends <paramref name="message"/> to <paramref name="target"/> and waits for one reply of type <typeparamref name="T"/>.</summary>
    /// <param name="cutAfter">A shorter timeout that <see cref="Cut"/> may later impose, counted from the ask's start.</param>
    /// <param name="cutAlready">Applies <paramref name="cutAfter"/> from the start (read under the list's lock, see <see cref="Cut"/>).</param>
    /// <param name="onAnswer">Sees the answer before the caller does, on the answering actor's thread.</param>
    /// <param name="onFailed">Sees the end of an ask without an answer before the caller does: the exception the task ends
    /// with, or null when it is cancelled.</param>
    public Task<T> Ask<T>(IActorRef target, object message, TimeSpan timeout, TimeSpan cutAfter, Func<bool> cutAlready,
        Action<T>? onAnswer, Action<Exception?>? onFailed, CancellationToken cancellationToken)
    {
        var reply = new Reply<T>(_provider, ListFor(timeout), onAnswer, onFailed);
        // Taken now: once ended (which may happen from here on), the reply no longer holds it.
        var task = reply.Task;
        var sender = reply.Sender;
        reply.Start(timeout, cutAfter, cutAlready);
        if (cancellationToken.CanBeCanceled)
            reply.CancelWith(cancellationToken);
        target.Tell(message, sender);
        // Stopped meanwhile: no sweep will come, so end what is left now.
        if (_stopped) Sweep();
        return task;
    }

    /// <summary>Shortens every waiting ask whose timeout is longer than <paramref name="after"/> to that much from its start; those past it end now, cancelled.</summary>
    public void Cut(TimeSpan after)
    {
        foreach (var list in Volatile.Read(ref _lists))
            if (list.Timeout > after)
                list.Cut((long)after.TotalMilliseconds);
        Sweep();
    }

    private Waiting ListFor(TimeSpan timeout)
    {
        foreach (var list in Volatile.Read(ref _lists))
            if (list.Timeout == timeout)
                return list;
        lock (_listsLock)
        {
            foreach (var list in _lists)
                if (list.Timeout == timeout)
                    return list;
            var added = new Waiting(timeout);
            Volatile.Write(ref _lists, [.. _lists, added]);
            return added;
        }
    }

    private void Sweep()
    {
        var now = Environment.TickCount64;
        foreach (var list in Volatile.Read(ref _lists))
            list.EndDue(now, _stopped);
    }

    /// <summary>Stops the sweep; asks still waiting end now with a timeout (nothing will answer them).</summary>
    public void Dispose()
    {
        _sweep.Dispose();
        _stopped = true;
        Sweep();
    }

    /// <summary>Asks with one timeout, oldest first: an intrusive list, so joining and leaving it allocate nothing.</summary>
    private sealed class Waiting(TimeSpan timeout)
    {
        private Reply? _head;
        private Reply? _tail;

        public TimeSpan Timeout { get; } = timeout;

        public void Add(Reply reply, long cutAfterMs, Func<bool> cutAlready)
        {
            lock (this)
            {
                reply.StartedMs = Environment.TickCount64;
                reply.DeadlineMs = reply.StartedMs + (long)Timeout.TotalMilliseconds;
                // Read under the lock Cut takes: a takeover either sees this ask in the list or is seen here.
                if (cutAlready() && reply.StartedMs + cutAfterMs < reply.DeadlineMs)
                {
                    reply.DeadlineMs = reply.StartedMs + cutAfterMs;
                    reply.WasCut = true;
                }
                reply.Previous = _tail;
                if (_tail is null) _head = reply;
                else _tail.Next = reply;
                _tail = reply;
                reply.Listed = true;
            }
        }

        public void Remove(Reply reply)
        {
            lock (this)
                Unlink(reply);
        }

        /// <summary>Every deadline becomes at most start + <paramref name="afterMs"/>; start order stays deadline order.</summary>
        public void Cut(long afterMs)
        {
            lock (this)
                for (var r = _head; r is not null; r = r.Next)
                {
                    var cut = r.StartedMs + afterMs;
                    if (cut < r.DeadlineMs)
                    {
                        r.DeadlineMs = cut;
                        r.WasCut = true;
                    }
                }
        }

        public void EndDue(long nowMs, bool all)
        {
            Reply? due = null;
            lock (this)
            {
                while (_head is { } head && (all || head.DeadlineMs <= nowMs))
                {
                    Unlink(head);
                    head.Next = due;
                    due = head;
                }
            }
            // Completed outside the lock: a completion unregisters a temporary path and runs no continuation inline.
            while (due is not null)
            {
                var next = due.Next;
                due.Next = null;
                due.Expire(Timeout);
                due = next;
            }
        }

        private void Unlink(Reply reply)
        {
            if (!reply.Listed) return;
            if (reply.Previous is null) _head = reply.Next;
            else reply.Previous.Next = reply.Next;
            if (reply.Next is null) _tail = reply.Previous;
            else reply.Next.Previous = reply.Previous;
            reply.Previous = reply.Next = null;
            reply.Listed = false;
        }
    }

    /// <summary>
    /// What an ask hands to the asked actor as its sender, and all that the actor keeps of the ask once it has answered:
    /// Akka's cell keeps its last sender until its next message, which for most SKUs of a large catalogue comes long after
    /// the ask ended, so this object survives collections and is the one old-to-young reference each such request leaves.
    /// It holds one reference: the waiting <see cref="Reply"/>, and after the ask ends the reply's path if one was made
    /// (or an end marker), so the reply itself (its list links, token registration and deadlines) dies with the request.
    /// </summary>
    private sealed class ReplySender(Reply reply) : MinimalActorRef
    {
        // The reply while waiting; once ended, the provider (no path was made, the common case: nothing allocated)
        // or an Ended (a path was made, or the caller cancelled).
        private object _state = reply;

        public override IActorRefProvider Provider => Volatile.Read(ref _state) switch
        {
            Reply waiting => waiting.Provider,
            Ended ended => ended.Provider,
            var provider => (IActorRefProvider)provider,
        };

        public override ActorPath Path
        {
            get
            {
                while (true)
                {
                    var state = Volatile.Read(ref _state);
                    switch (state)
                    {
                        case Reply waiting:
                            return waiting.PathFor(this);
                        case Ended { Path: { } path }:
                            return path;
                        default:
                            // Asked for after the ask ended without one (a late answer's dead letter): a path of its own, never registered.
                            var ended = state as Ended;
                            var provider = ended?.Provider ?? (IActorRefProvider)state;
                            var made = provider.TempPath();
                            if (Interlocked.CompareExchange(ref _state, new Ended(provider, made, ended?.Cancelled ?? false), state) == state)
                                return made;
                            break;
                    }
                }
            }
        }

        /// <summary>Called by the reply under its lock when the ask ends (or makes a path after): only what a late answer needs stays.</summary>
        internal void End(IActorRefProvider provider, ActorPath? path, bool cancelled) =>
            Volatile.Write(ref _state, path is null && !cancelled ? provider : new Ended(provider, path, cancelled));

        protected override void TellInternal(object message, IActorRef sender)
        {
            switch (Volatile.Read(ref _state))
            {
                case Reply waiting:
                    waiting.Answer(message);
                    break;
                // A reply after the ask ended (timed out or cancelled) goes where Akka's ask sends it; a cancelled caller's goes nowhere.
                case Ended { Cancelled: true }:
                    break;
                default:
                    if (message is not null) Provider.DeadLetters.Tell(message, this);
                    break;
            }
        }

        private sealed record Ended(IActorRefProvider Provider, ActorPath? Path, bool Cancelled);
    }

    /// <summary>
    /// The state of one ask while it waits. Its sender's path (a temporary actor path, so a reply from another node finds it)
    /// is made and registered only when something reads it, as remoting does when it sends the ask to another node; a reply
    /// from an actor on this node comes straight to the sender object.
    /// </summary>
    private abstract class Reply
    {
        private const int Waiting = 0, Done = 1;
        private readonly Waiting _list;
        private int _state;
        private ActorPath? _path;
        private CancellationTokenRegistration _cancellation;

        // The list's fields, guarded by the list's lock.
        internal Reply? Previous;
        internal Reply? Next;
        internal bool Listed;
        internal long StartedMs;
        internal long DeadlineMs;
        internal bool WasCut;

        protected Reply(IActorRefProvider provider, Waiting list)
        {
            Provider = provider;
            _list = list;
            Sender = new ReplySender(this);
        }

        public IActorRefProvider Provider { get; }

        public ReplySender Sender { get; }

        public ActorPath PathFor(ReplySender sender)
        {
            lock (this)
            {
                if (_path is null)
                {
                    _path = Provider.TempPath();
                    if (Volatile.Read(ref _state) == Waiting)
                        Provider.RegisterTempActor(sender, _path);
                    else
                        sender.End(Provider, _path, EndedCancelled);
                }
                return _path;
            }
        }

        /// <summary>Whether the ask ended cancelled: an answer after that goes nowhere.</summary>
        protected bool EndedCancelled { get; private set; }

        public abstract void Answer(object message);

        public void Start(TimeSpan timeout, TimeSpan cutAfter, Func<bool> cutAlready) =>
            _list.Add(this, timeout > cutAfter ? (long)cutAfter.TotalMilliseconds : long.MaxValue / 2, cutAlready);

        public void CancelWith(CancellationToken token)
        {
            var registration = token.Register(static state =>
            {
                var reply = (Reply)state!;
                if (reply.Finish(cancelled: true)) reply.Cancelled();
            }, this);
            lock (this)
            {
                // Finished meanwhile (or cancelled inline by an already cancelled token): nothing left to remove it. Unregister,
                // not Dispose: the callback that finished it may still be running and waiting for this lock.
                if (Volatile.Read(ref _state) == Done) registration.Unregister();
                else _cancellation = registration;
            }
        }

        /// <summary>True for the one caller that ends this ask: it leaves its list, its path, its token and its sender.</summary>
        protected bool Finish(bool cancelled)
        {
            if (Interlocked.Exchange(ref _state, Done) != Waiting) return false;
            EndedCancelled = cancelled;
            _list.Remove(this);
            ActorPath? path;
            CancellationTokenRegistration cancellation;
            lock (this)
            {
                path = _path;
                cancellation = _cancellation;
                _cancellation = default;
                Sender.End(Provider, path, cancelled);
            }
            if (path is not null) Provider.UnregisterTempActor(path);
            // Unregister, not Dispose: Dispose waits for a running callback, and this may be that callback.
            cancellation.Unregister();
            return true;
        }

        /// <summary>Called once the sweep took this ask off its list because its deadline passed.</summary>
        public void Expire(TimeSpan timeout)
        {
            if (!Finish(cancelled: WasCut)) return;
            if (WasCut) Cancelled();
            else TimedOut(timeout);
        }

        protected abstract void Cancelled();

        protected abstract void TimedOut(TimeSpan timeout);

        protected void Unanswerable(object? message)
        {
            if (message is not null) Provider.DeadLetters.Tell(message, Sender);
        }
    }

    /// <remarks>
    /// Once ended it lets go of its task and callback, should anything still reach it (a cancellation callback or a
    /// sweep running late): the task would keep the answer alive with it.
    /// </remarks>
    private sealed class Reply<T> : Reply
    {
        // Continuations run on the thread pool, never on the replying actor's thread.
        private TaskCompletionSource<T>? _result = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private Action<T>? _onAnswer;
        private Action<Exception?>? _onFailed;

        public Reply(IActorRefProvider provider, Waiting list, Action<T>? onAnswer, Action<Exception?>? onFailed) : base(provider, list)
        {
            _onAnswer = onAnswer;
            _onFailed = onFailed;
        }

        /// <summary>Only until the ask ends (see <see cref="PendingReplies.Ask{T}"/>).</summary>
        public Task<T> Task => _result!.Task;

        /// <summary>The one caller that <see cref="Reply.Finish"/>ed this ask takes its result to complete, leaving none behind.</summary>
        private TaskCompletionSource<T> TakeResult()
        {
            var result = _result!;
            _result = null;
            _onAnswer = null;
            _onFailed = null;
            return result;
        }

        /// <summary>The same cases as Akka's own ask: the expected type, a failure status, anything else is an error.</summary>
        public override void Answer(object message)
        {
            if (!Finish(cancelled: false))
            {
                // A reply after the ask ended (timed out or cancelled) goes where Akka's ask sends it.
                if (!EndedCancelled) Unanswerable(message);
                return;
            }
            var onAnswer = _onAnswer;
            var onFailed = _onFailed;
            var result = TakeResult();
            switch (message)
            {
                case T answer:
                    onAnswer?.Invoke(answer);
                    result.SetResult(answer);
                    break;
                case null:
                    result.SetResult(default!);
                    break;
                case Status.Failure failure:
                    Fail(result, onFailed, failure.Cause ?? new TaskCanceledException("The actor answered with a failure and no cause."));
                    break;
                case ISystemMessage system:
                    Fail(result, onFailed, new InvalidOperationException($"system message of type '{system.GetType().Name}' is invalid for an ask"));
                    break;
                default:
                    Fail(result, onFailed, new ArgumentException($"Received message of type [{message.GetType()}] - Ask expected message of type [{typeof(T)}]"));
                    break;
            }
        }

        private static void Fail(TaskCompletionSource<T> result, Action<Exception?>? onFailed, Exception cause)
        {
            onFailed?.Invoke(cause);
            result.SetException(cause);
        }

        protected override void Cancelled()
        {
            var onFailed = _onFailed;
            var result = TakeResult();
            onFailed?.Invoke(null);
            result.SetCanceled();
        }

        protected override void TimedOut(TimeSpan timeout)
        {
            var onFailed = _onFailed;
            Fail(TakeResult(), onFailed, new AskTimeoutException($"Timeout after {timeout.TotalSeconds:F2} seconds"));
        }
    }
}
