using Akka.Actor;
using Akka.Cluster.Tools.PublishSubscribe;
using Restock.Actors.Domain;

namespace Restock.Actors.Engine.Access;

/// <summary>A key was revoked: every node stops trusting what it remembers of it.</summary>
public sealed record KeyRevoked(string KeyId) : IRestockMessage;

/// <summary>
/// Tells every node of the cluster that a key was revoked (Akka's distributed pub-sub), so each one forgets it at
/// once instead of trusting it until its memory of the key expires. Delivery is best effort (a node unreachable at
/// that moment misses it): <see cref="VerifiedKeys.Ttl"/> is the bound then.
/// </summary>
public sealed class KeyRevocations
{
    public const string Topic = "restock.key-revocations";

    private readonly VerifiedKeys _keys;
    private readonly IActorRef _mediator;

    private KeyRevocations(VerifiedKeys keys, IActorRef mediator)
    {
        _keys = keys;
        _mediator = mediator;
    }

    /// <summary>Subscribes this node's <paramref name="keys"/> to revocations from every node.</summary>
    public static async Task<KeyRevocations> StartAsync(ActorSystem system, VerifiedKeys keys, TimeSpan timeout)
    {
        var mediator = DistributedPubSub.Get(system).Mediator;
        var listener = system.ActorOf(Props.Create(() => new Listener(keys)), "key-revocations");
        // The acknowledgement goes to whoever asked: once it is here, this node hears every later publication.
        await mediator.Ask<SubscribeAck>(new Subscribe(Topic, listener), timeout);
        return new KeyRevocations(keys, mediator);
    }

    /// <summary>The key store has revoked <paramref name="keyId"/>: forget it here now, and on every other node.</summary>
    public void Revoked(string keyId)
    {
        _keys.Forget(keyId);
        _mediator.Tell(new Publish(Topic, new KeyRevoked(keyId)));
    }

    private sealed class Listener : ReceiveActor
    {
        public Listener(VerifiedKeys keys) => Receive<KeyRevoked>(revoked => keys.Forget(revoked.KeyId));
    }
}
