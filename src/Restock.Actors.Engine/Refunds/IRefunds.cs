using Akka.Actor;
using Akka.Cluster.Sharding;
using Restock.Actors.Domain.Refunds;
using Restock.Actors.Engine.Hosting;

namespace Restock.Actors.Engine.Refunds;

/// <summary>Pre-shipment refunds for callers: hand one over (durably), ask where it stands.</summary>
public interface IRefunds
{
    Task<RefundReply> Submit(RefundRequest refund, CancellationToken cancellationToken = default);

    Task<RefundReply> Get(string orderId, string refundId, CancellationToken cancellationToken = default);
}

internal sealed class ShardedRefunds(IActorRef refundRegion, AskTimeouts askTimeouts) : IRefunds
{
    public Task<RefundReply> Submit(RefundRequest refund, CancellationToken cancellationToken = default) =>
        askTimeouts.Ask<RefundReply>(refundRegion, new RefundSucceeded(refund), cancellationToken);

    public Task<RefundReply> Get(string orderId, string refundId, CancellationToken cancellationToken = default) =>
        askTimeouts.Ask<RefundReply>(refundRegion, new GetRefund(orderId, refundId), cancellationToken);
}

/// <summary>All refunds of one order go to one coordinator.</summary>
internal sealed class OrderRefundsMessageExtractor(int shards) : HashCodeMessageExtractor(shards)
{
    public override string EntityId(object message) => (message as IOrderRefundsMessage)?.OrderId!;
}
