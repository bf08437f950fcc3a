using System.Collections.Immutable;
using Akka.Actor;
using Akka.Cluster.Sharding;
using Akka.Event;
using Akka.Persistence;
using Akka.Persistence.Journal;
using Restock.Actors.Domain.Inventory;
using Restock.Actors.Domain.Refunds;
using Restock.Actors.Engine.Inventory;
using Restock.Actors.Engine.Shops;
using Restock.Actors.Engine.Hosting;

namespace Restock.Actors.Engine.Refunds;

/// <summary>
/// Finishes every pre-shipment refund of one order: asks the shop once whether it restocks, records the answer,
/// then sends each refunded line to its SKU until that SKU answers for good, retrying across failures and crashes
/// (its progress is persisted and resumed on recovery). A new refund is written together with the shop's answer when
/// the shop answers within <c>shop-answer-before-first-write</c> (one write fewer per refund), else alone. A line
/// refused for a reason that can still change (the refund overtook the payment or the reservation) is retried with
/// backoff for <c>retry-for</c>, then parked as needs attention; submitting the refund again re-arms it. A repeat of a
/// refund, or a line sent twice, cannot restock twice: the SKU applies each refund id once.
/// </summary>
public sealed class RefundCoordinator : UntypedPersistentActor, IWithTimers
{
    private sealed record PolicyAnswered(string RefundId, RestockPolicyReply Policy);

    /// <summary>A new refund held back until its shop answers, and who submitted it.</summary>
    private sealed record Unwritten(string RefundId, IReadOnlyList<RefundEvent> Received, IActorRef ReplyTo);

    private sealed record LineAnswered(string RefundId, string SkuId, SkuReply Reply);

    private sealed record NoAnswer(string RefundId, string? SkuId, Exception Cause);

    private sealed record Retry(string RefundId, string? SkuId);

    /// <summary>
    /// Sent to itself at the end of recovery, so that it arrives after the message that started the coordinator. A stop
    /// taken in first (a handoff or passivation that reached it while it recovered) leaves it undelivered: no dead-letter line.
    /// </summary>
    private sealed class ArmIdleWatch : IDeadLetterSuppression
    {
        public static readonly ArmIdleWatch Instance = new();
    }

    private static readonly IImmutableSet<string> AttentionTags = ImmutableHashSet.Create(IRefundAttentionEvent.Tag);

    private readonly string _orderId;
    private readonly IActorRef _shops;
    private readonly IActorRef _skus;
    private readonly RefundSettings _settings;
    // Made when first needed: a logger names its actor by path, a string per coordinator started.
    private ILoggingAdapter? _log;
    private readonly string _persistenceId;
    private readonly IdleWatch _idle;
    private readonly HashSet<(string RefundId, string? SkuId)> _asking = [];
    private readonly Dictionary<(string RefundId, string? SkuId), int> _failures = [];
    private OrderRefunds _state = OrderRefunds.Empty;
    private bool _passivating;
    private bool _idleArmed;
    // Writes under way (PersistAll stashes what arrives meanwhile).
    private int _storing;
    // A new refund waiting for its shop's answer before its first write: everything else waits (stashed) until it is
    // written, as it would behind the write itself.
    private Unwritten? _unwritten;

    public RefundCoordinator(string orderId, IActorRef shops, IActorRef skus, RefundSettings settings)
    {
        _orderId = orderId;
        _shops = shops;
        _skus = skus;
        _settings = settings;
        _persistenceId = "refunds-" + orderId;
        _idle = new IdleWatch(settings.IdleBeforePassivation);
    }

    // An untyped actor: a ReceivePersistentActor builds its handler table in every instance's constructor, and one
    // coordinator is started per refunded order (its handler table was ~8% of all the promo mix allocated).
    protected override void OnRecover(object message)
    {
        switch (message)
        {
            case RefundEvent e:
                _state = RefundRules.Apply(_state, e);
                break;
            case RecoveryCompleted:
                foreach (var unfinished in _state.InProgress.ToList()) Proceed(unfinished.Refund.RefundId);
                Self.Tell(ArmIdleWatch.Instance);
                break;
        }
    }

    protected override void OnCommand(object message)
    {
        if (_unwritten is not null && !IsShopAnswerFor(_unwritten.RefundId, message))
        {
            Stash.Stash();
            return;
        }
        switch (message)
        {
            case RefundSucceeded m:
                OnRefund(m);
                break;
            case GetRefund q:
                Sender.Tell(_state.Refunds.TryGetValue(q.RefundId, out var p)
                    ? new RefundReply(_orderId, RefundOutcome.Accepted, null, null, RefundStatus.From(p))
                    : new RefundReply(_orderId, RefundOutcome.NotFound, null, $"no refund {q.RefundId} for order {_orderId}", null));
                break;
            case PolicyAnswered m:
                OnPolicy(m);
                break;
            case LineAnswered m:
                OnLine(m);
                break;
            case NoAnswer m:
                OnNoAnswer(m);
                break;
            case Retry r:
                _asking.Remove((r.RefundId, r.SkuId));
                Proceed(r.RefundId);
                break;
            case PassivateIfIdle:
                PassivateIfFinished();
                break;
            case IdleWatch.Check:
                if (!_idle.IsIdle(Context)) break;
                PassivateIfFinished();
                _idle.Start(Context);
                break;
            case ArmIdleWatch:
                break;
            // Handoff or passivation: an ordinary message, so it waits (stashed) until a write under way is confirmed, and
            // until recovery ends if it arrives during recovery; lines still being asked are asked again when the coordinator
            // recovers (a handoff's entity stays remembered and starts on its new node).
            case StopEntity:
                AskToBeStartedAgainIfForgotten();
                Context.Stop(Self);
                break;
            // Recovery has resumed every unfinished refund already.
            case ResumeRefunds:
                break;
            default:
                Unhandled(message);
                break;
        }
        ArmIdleWatchIfQuiet();
    }

    /// <summary>
    /// Starts watching the idle period once the coordinator may stay with nothing under way: not on start, since most
    /// coordinators finish their refund and stop at once (see <see cref="PassivateIfFinished"/>), and a check scheduled
    /// for each would stay in the scheduler for the whole period (every one promoted to the old generation on a busy node).
    /// </summary>
    private void ArmIdleWatchIfQuiet()
    {
        if (_idleArmed || _passivating || _storing > 0 || _asking.Count > 0) return;
        _idleArmed = true;
        _idle.Start(Context);
    }

    public static Props Props(string orderId, IActorRef shops, IActorRef skus, RefundSettings settings) =>
        EntityProps.Of(() => new RefundCoordinator(orderId, shops, skus, settings));

    // Read several times per write: built once.
    public override string PersistenceId => _persistenceId;

    protected override bool AroundReceive(Receive receive, object message)
    {
        if (message is not IdleWatch.Check) _idle.Seen();
        return base.AroundReceive(receive, message);
    }

    public ITimerScheduler Timers { get; set; } = null!;

    private void OnRefund(RefundSucceeded message)
    {
        var refund = message.Refund;
        switch (RefundRules.Receive(_state, refund, DateTimeOffset.UtcNow))
        {
            case RefundAccepted { Events: [RefundReceived] } accepted:
                _unwritten = new Unwritten(refund.RefundId, accepted.Events, Sender);
                AskShop(refund, _settings.ShopAnswerBeforeFirstWrite);
                break;
            case RefundAccepted { Events.Count: > 0 } accepted:
                var replyTo = Sender;
                Store(accepted.Events, () =>
                {
                    replyTo.Tell(Status(RefundOutcome.Accepted, refund.RefundId));
                    Proceed(refund.RefundId);
                });
                break;
            case RefundAccepted:
                Sender.Tell(Status(RefundOutcome.AlreadyReceived, refund.RefundId));
                break;
            case RefundRejected rejected:
                Sender.Tell(new RefundReply(_orderId, RefundOutcome.Rejected, rejected.Code.ToString(), rejected.Message, null));
                break;
        }
    }

    private static bool IsShopAnswerFor(string refundId, object message) => message switch
    {
        PolicyAnswered m => m.RefundId == refundId,
        NoAnswer { SkuId: null } m => m.RefundId == refundId,
        _ => false,
    };

    /// <summary>
    /// Writes the new refund with its shop's answer, or alone if the shop did not answer in time (<see cref="Proceed"/>
    /// then asks it again, as any unanswered ask); the submitter hears "accepted" once it is written. What waited
    /// meanwhile comes next.
    /// </summary>
    private void WriteUnwritten(RestockPolicyReply? policy)
    {
        var (refundId, received, replyTo) = _unwritten!;
        _unwritten = null;
        IReadOnlyList<RefundEvent> events = policy is null
            ? received
            : [.. received, new RestockDecided(refundId, policy.Restock, policy.SettingVersion)];
        Store(events, () =>
        {
            replyTo.Tell(Status(RefundOutcome.Accepted, refundId));
            Proceed(refundId);
        });
        Stash.UnstashAll();
    }

    private RefundReply Status(RefundOutcome outcome, string refundId) =>
        new(_orderId, outcome, null, null, RefundStatus.From(_state.Refunds[refundId]));

    /// <summary>Persists the events (tagging those the "needs attention" read model follows), applies them, then runs <paramref name="then"/>.</summary>
    private void Store(IReadOnlyList<RefundEvent> events, Action then)
    {
        if (events.Count == 0)
        {
            then();
            return;
        }
        var stored = events.Select(e => e is IRefundAttentionEvent ? new Tagged(e, AttentionTags) : (object)e).ToList();
        var applied = 0;
        _storing++;
        PersistAll(stored, _ =>
        {
            _state = RefundRules.Apply(_state, events[applied++]);
            if (applied != events.Count) return;
            _storing--;
            then();
            PassivateIfFinished();
            ArmIdleWatchIfQuiet();
        });
    }

    /// <summary>
    /// A coordinator whose refunds are all finished stops at once instead of after the idle period: one is started per
    /// refunded order, and kept for minutes each they were most of what a busy node's gen-0 collections promoted (and
    /// then most of its old generation's growth). A later message for the order starts it again from its journal. The idle
    /// check and <see cref="Hosting.PassivateIfIdle"/> stop it by the same rule.
    /// </summary>
    private void PassivateIfFinished()
    {
        if (_passivating || _asking.Count > 0 || _state.AnyInProgress) return;
        _passivating = true;
        Context.Parent.Tell(new Passivate(StopEntity.Instance));
    }

    /// <summary>Starts whatever the refund needs next and is not already under way.</summary>
    private void Proceed(string refundId)
    {
        // A retry a former incarnation scheduled can name a refund this one never wrote.
        if (!_state.Refunds.TryGetValue(refundId, out var progress) || !progress.InProgress) return;
        var refund = progress.Refund;
        if (progress.Policy is null)
        {
            AskShop(refund, _settings.AskTimeout);
            return;
        }
        foreach (var line in progress.Active)
        {
            if (!_asking.Add((refundId, line.SkuId))) continue;
            var command = new RefundLine(refundId, refund.OrderId, refund.ShopId, line.Quantity, progress.Policy.Restock,
                progress.Policy.SettingVersion, refund.CompletedAt);
            var skuId = line.SkuId;
            _skus.Ask<SkuReply>(new SkuRequest(skuId, command), _settings.AskTimeout)
                .PipeTo(Self, success: r => new LineAnswered(refundId, skuId, r), failure: e => new NoAnswer(refundId, skuId, e));
        }
    }

    private void AskShop(RefundRequest refund, TimeSpan timeout)
    {
        var refundId = refund.RefundId;
        if (!_asking.Add((refundId, null))) return;
        _shops.Ask<RestockPolicyReply>(new GetRestockPolicy(refund.ShopId, refund.CompletedAt), timeout)
            .PipeTo(Self, success: p => new PolicyAnswered(refundId, p), failure: e => new NoAnswer(refundId, null, e));
    }

    private void OnPolicy(PolicyAnswered answer)
    {
        _asking.Remove((answer.RefundId, null));
        _failures.Remove((answer.RefundId, null));
        if (_unwritten?.RefundId == answer.RefundId)
        {
            WriteUnwritten(answer.Policy);
            return;
        }
        // An answer a former incarnation asked for can reach this one (a restart keeps the actor's address): only a
        // written refund still without an answer records it.
        if (!_state.Refunds.TryGetValue(answer.RefundId, out var progress) || progress.Policy is not null) return;
        Store([new RestockDecided(answer.RefundId, answer.Policy.Restock, answer.Policy.SettingVersion)], () => Proceed(answer.RefundId));
    }

    private void OnLine(LineAnswered answer)
    {
        var key = (answer.RefundId, answer.SkuId);
        var reply = answer.Reply;
        var events = RefundRules.Answer(_state, answer.RefundId, answer.SkuId, reply.Succeeded ? null : reply.Rejection, reply.Message,
            DateTimeOffset.UtcNow, _settings.RetryFor);
        Store(events, () =>
        {
            if (!_state.Refunds[answer.RefundId].IsActive(answer.SkuId))
            {
                _asking.Remove(key);
                _failures.Remove(key);
                return;
            }
            // Refused for now: the line stays "asking" until its retry timer fires, so nothing sends it in between.
            var delay = NextDelay(key);
            (_log ??= Context.GetLogger()).Info("Refund {0} of order {1}: SKU {2} refused for now ({3}); retry in {4}",
                answer.RefundId, _orderId, answer.SkuId, reply.Rejection, delay);
            Timers.StartSingleTimer(key, new Retry(answer.RefundId, answer.SkuId), delay);
        });
    }

    /// <summary>No answer is not a "no": retry with a growing delay, for as long as it takes.</summary>
    private void OnNoAnswer(NoAnswer failure)
    {
        var key = (failure.RefundId, failure.SkuId);
        if (_unwritten?.RefundId == failure.RefundId && failure.SkuId is null)
        {
            (_log ??= Context.GetLogger()).Info("Refund {0} of order {1}: the shop did not answer before the first write ({2}); written alone, the shop is asked again",
                failure.RefundId, _orderId, failure.Cause.Message);
            _asking.Remove(key);
            WriteUnwritten(null);
            return;
        }
        // An ask a former incarnation made can fail into this one (a restart keeps the actor's address): asked again only if
        // this one still waits for that answer, or a refund it never wrote (or has finished) would keep its failure count,
        // and the next refund of that id would begin its backoff further along.
        if (!Awaits(failure.RefundId, failure.SkuId)) return;
        var delay = NextDelay(key);
        (_log ??= Context.GetLogger()).Warning("Refund {0} of order {1}: {2} did not answer ({3}); retry in {4}",
            failure.RefundId, _orderId, failure.SkuId is null ? "the shop" : "SKU " + failure.SkuId, failure.Cause.Message, delay);
        Timers.StartSingleTimer(key, new Retry(failure.RefundId, failure.SkuId), delay);
    }

    /// <summary>Whether a written refund still waits for this answer: its shop's (<paramref name="skuId"/> null) or a line's.</summary>
    private bool Awaits(string refundId, string? skuId) =>
        _state.Refunds.TryGetValue(refundId, out var progress) && progress.InProgress &&
        (skuId is null ? progress.Policy is null : progress.IsActive(skuId));

    /// <summary>
    /// A rejected write stored nothing, yet the lines it was for stay marked as being asked, so nothing would ask
    /// again: stop, and sharding (remember-entities) restarts the coordinator from its journal, which resumes every
    /// unfinished line.
    /// </summary>
    protected override void OnPersistRejected(Exception cause, object @event, long sequenceNr)
    {
        base.OnPersistRejected(cause, @event, sequenceNr);
        AskToBeStartedAgainIfForgotten();
        Context.Stop(Self);
    }

    /// <summary>A failed write stops the coordinator (Akka.Persistence's rule); sharding restarts it unless it was passivating.</summary>
    protected override void OnPersistFailure(Exception cause, object @event, long sequenceNr)
    {
        AskToBeStartedAgainIfForgotten();
        base.OnPersistFailure(cause, @event, sequenceNr);
    }

    /// <summary>
    /// A coordinator that asked to be passivated is forgotten by its shard (remember-entities) when it stops, whatever
    /// stops it, unless a message for it waits in the shard. A message the shard delivered before it took the passivation
    /// in (a new refund of the order) may have started work again, and nothing would bring the coordinator back for it:
    /// it sends its shard a resume, which the shard keeps and delivers to a new incarnation (during a handoff the shard
    /// drops it; the entity is remembered and starts on its new node).
    /// </summary>
    private void AskToBeStartedAgainIfForgotten()
    {
        if (_passivating && _state.AnyInProgress) Context.Parent.Tell(new ResumeRefunds(_orderId));
    }

    private TimeSpan NextDelay((string RefundId, string? SkuId) key)
    {
        var attempts = _failures[key] = _failures.GetValueOrDefault(key) + 1;
        return TimeSpan.FromMilliseconds(Math.Min(_settings.LongestRetryDelay.TotalMilliseconds, 200 * Math.Pow(2, Math.Min(attempts, 16))));
    }
}
