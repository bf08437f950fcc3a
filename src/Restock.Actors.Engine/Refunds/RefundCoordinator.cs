using Akka.Actor;
using Akka.Cluster.Sharding;
using Akka.Event;
using Akka.Persistence;
using Restock.Actors.Domain.Inventory;
using Restock.Actors.Domain.Refunds;
using Restock.Actors.Engine.Inventory;
using Restock.Actors.Engine.Shops;

namespace Restock.Actors.Engine.Refunds;

/// <summary>
/// Finishes every pre-shipment refund of one order: asks the shop once whether it restocks, records the answer,
/// then sends each refunded line to its SKU until that SKU answers, retrying across failures and crashes (its
/// progress is persisted and resumed on recovery). A repeat of a refund, or a line sent twice, cannot restock
/// twice: the SKU applies each refund id once.
/// </summary>
public sealed class RefundCoordinator : ReceivePersistentActor, IWithTimers
{
    private sealed record PolicyAnswered(string RefundId, RestockPolicyReply Policy);

    private sealed record LineAnswered(string RefundId, string SkuId, SkuReply Reply);

    private sealed record NoAnswer(string RefundId, string? SkuId, Exception Cause);

    private sealed record Retry(string RefundId, string? SkuId);

    private static readonly TimeSpan LongestRetryDelay = TimeSpan.FromSeconds(30);

    private readonly string _orderId;
    private readonly IActorRef _shops;
    private readonly IActorRef _skus;
    private readonly TimeSpan _askTimeout;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly HashSet<(string RefundId, string? SkuId)> _asking = [];
    private readonly Dictionary<(string RefundId, string? SkuId), int> _failures = [];
    private OrderRefunds _state = OrderRefunds.Empty;

    public RefundCoordinator(string orderId, IActorRef shops, IActorRef skus, TimeSpan askTimeout, TimeSpan idleBeforePassivation)
    {
        _orderId = orderId;
        _shops = shops;
        _skus = skus;
        _askTimeout = askTimeout;

        Recover<RefundEvent>(e => _state = RefundRules.Apply(_state, e));
        Recover<RecoveryCompleted>(_ =>
        {
            foreach (var unfinished in _state.Unfinished.ToList()) Proceed(unfinished.Refund.RefundId);
        });

        Command<RefundSucceeded>(Receive);
        Command<GetRefund>(q => Sender.Tell(_state.Refunds.TryGetValue(q.RefundId, out var p)
            ? new RefundReply(_orderId, RefundOutcome.Accepted, null, null, RefundStatus.From(p))
            : new RefundReply(_orderId, RefundOutcome.NotFound, null, $"no refund {q.RefundId} for order {_orderId}", null)));
        Command<PolicyAnswered>(OnPolicy);
        Command<LineAnswered>(OnLine);
        Command<NoAnswer>(OnNoAnswer);
        Command<Retry>(r =>
        {
            _asking.Remove((r.RefundId, r.SkuId));
            Proceed(r.RefundId);
        });
        Command<ReceiveTimeout>(_ =>
        {
            if (!_state.Unfinished.Any()) Context.Parent.Tell(new Passivate(PoisonPill.Instance));
        });
        SetReceiveTimeout(idleBeforePassivation);
    }

    public static Props Props(string orderId, IActorRef shops, IActorRef skus, TimeSpan askTimeout, TimeSpan idleBeforePassivation) =>
        Akka.Actor.Props.Create(() => new RefundCoordinator(orderId, shops, skus, askTimeout, idleBeforePassivation));

    public override string PersistenceId => "refunds-" + _orderId;

    public ITimerScheduler Timers { get; set; } = null!;

    private void Receive(RefundSucceeded message)
    {
        var refund = message.Refund;
        switch (RefundRules.Receive(_state, refund))
        {
            case RefundAccepted { Events.Count: > 0 } accepted:
                var replyTo = Sender;
                PersistAll(accepted.Events, e =>
                {
                    _state = RefundRules.Apply(_state, e);
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

    private RefundReply Status(RefundOutcome outcome, string refundId) =>
        new(_orderId, outcome, null, null, RefundStatus.From(_state.Refunds[refundId]));

    /// <summary>Starts whatever the refund needs next and is not already under way.</summary>
    private void Proceed(string refundId)
    {
        var progress = _state.Refunds[refundId];
        if (progress.Finished) return;
        var refund = progress.Refund;
        if (progress.Policy is null)
        {
            if (_asking.Add((refundId, null)))
                _shops.Ask<RestockPolicyReply>(new GetRestockPolicy(refund.ShopId, refund.CompletedAt), _askTimeout)
                    .PipeTo(Self, success: p => new PolicyAnswered(refundId, p), failure: e => new NoAnswer(refundId, null, e));
            return;
        }
        foreach (var line in progress.Unsettled)
        {
            if (!_asking.Add((refundId, line.SkuId))) continue;
            var command = new RefundLine(refundId, refund.OrderId, refund.ShopId, line.Quantity, progress.Policy.Restock,
                progress.Policy.SettingVersion, refund.CompletedAt);
            var skuId = line.SkuId;
            _skus.Ask<SkuReply>(new SkuRequest(skuId, command), _askTimeout)
                .PipeTo(Self, success: r => new LineAnswered(refundId, skuId, r), failure: e => new NoAnswer(refundId, skuId, e));
        }
    }

    private void OnPolicy(PolicyAnswered answer)
    {
        _asking.Remove((answer.RefundId, null));
        _failures.Remove((answer.RefundId, null));
        if (_state.Refunds[answer.RefundId].Policy is not null) return;
        Persist(new RestockDecided(answer.RefundId, answer.Policy.Restock, answer.Policy.SettingVersion), e =>
        {
            _state = RefundRules.Apply(_state, e);
            Proceed(answer.RefundId);
        });
    }

    private void OnLine(LineAnswered answer)
    {
        _asking.Remove((answer.RefundId, answer.SkuId));
        _failures.Remove((answer.RefundId, answer.SkuId));
        if (_state.Refunds[answer.RefundId].Settled.ContainsKey(answer.SkuId)) return;
        var reply = answer.Reply;
        var settled = reply.Succeeded
            ? new LineSettled(answer.RefundId, answer.SkuId, LineOutcome.Applied, null, null)
            : new LineSettled(answer.RefundId, answer.SkuId, LineOutcome.Rejected, reply.Rejection.ToString(), reply.Message);
        Persist(settled, e => _state = RefundRules.Apply(_state, e));
    }

    /// <summary>No answer is not a "no": retry with a growing delay, for as long as it takes.</summary>
    private void OnNoAnswer(NoAnswer failure)
    {
        var key = (failure.RefundId, failure.SkuId);
        var attempts = _failures[key] = _failures.GetValueOrDefault(key) + 1;
        var delay = TimeSpan.FromMilliseconds(Math.Min(LongestRetryDelay.TotalMilliseconds, 200 * Math.Pow(2, Math.Min(attempts, 10))));
        _log.Warning("Refund {0} of order {1}: {2} did not answer ({3}); retry {4} in {5}",
            failure.RefundId, _orderId, failure.SkuId is null ? "the shop" : "SKU " + failure.SkuId, failure.Cause.Message, attempts, delay);
        Timers.StartSingleTimer(key, new Retry(failure.RefundId, failure.SkuId), delay);
    }
}
