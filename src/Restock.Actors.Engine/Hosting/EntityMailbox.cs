using Akka.Actor;
using Akka.Configuration;
using Akka.Dispatch;
using Akka.Dispatch.MessageQueues;

namespace Restock.Actors.Engine.Hosting;

/// <summary>
/// The mailbox of sharded entities (configured as <see cref="EntityProps.MailboxId"/>). Akka's deque mailbox, which
/// persistent actors need for their stashes, holds a concurrent queue whose first segment has room for 32 messages
/// (~1 KB) from the actor's first message on, for as long as the actor lives: most of an idle SKU's memory when
/// 100,000 are active on a node. This one starts with no buffer and gives back a grown one once drained.
/// </summary>
public sealed class EntityMailbox(Settings settings, Config config) : MailboxType(settings, config), IProducesMessageQueue<EntityMessageQueue>
{
    public override IMessageQueue Create(IActorRef owner, ActorSystem system) => new EntityMessageQueue();
}

/// <summary>
/// A ring buffer under a lock (the queue's own monitor: no lock object per entity; nothing else locks it): any thread enqueues, the actor's own turn dequeues and prepends (unstashing), and the
/// dispatcher may read <see cref="HasMessages"/> from any thread. A few slots when first used, doubled when full,
/// released when drained after it grew (a hot entity keeps its buffer while it stays busy).
/// </summary>
public sealed class EntityMessageQueue : IMessageQueue, IUnboundedDequeBasedMessageQueueSemantics
{
    /// <summary>Slots of a new buffer (a power of two: indexes wrap with a mask).</summary>
    public const int FirstCapacity = 4;

    private Envelope[]? _slots;
    private int _head;
    private int _count;

    /// <summary>Slots held now: 0 before the first message and after a grown buffer drained.</summary>
    public int Capacity
    {
        get
        {
            lock (this) return _slots?.Length ?? 0;
        }
    }

    public bool HasMessages => Volatile.Read(ref _count) > 0;

    public int Count => Volatile.Read(ref _count);

    public void Enqueue(IActorRef receiver, Envelope envelope)
    {
        lock (this)
        {
            var slots = Room();
            slots[(_head + _count) & (slots.Length - 1)] = envelope;
            Volatile.Write(ref _count, _count + 1);
        }
    }

    /// <summary>Ahead of every queued message: unstashing prepends the stash's messages, last first.</summary>
    public void EnqueueFirst(Envelope envelope)
    {
        lock (this)
        {
            var slots = Room();
            _head = (_head - 1) & (slots.Length - 1);
            slots[_head] = envelope;
            Volatile.Write(ref _count, _count + 1);
        }
    }

    public bool TryDequeue(out Envelope envelope)
    {
        // The dispatcher asks once more after the last message: no lock for the answer "empty". A message enqueued
        // meanwhile schedules the actor again.
        if (Volatile.Read(ref _count) == 0)
        {
            envelope = default;
            return false;
        }
        lock (this)
        {
            var slots = _slots!;
            envelope = slots[_head];
            slots[_head] = default;
            _head = (_head + 1) & (slots.Length - 1);
            Volatile.Write(ref _count, _count - 1);
            if (_count == 0)
            {
                _head = 0;
                if (slots.Length > FirstCapacity) _slots = null;
            }
            return true;
        }
    }

    public void CleanUp(IActorRef owner, IMessageQueue deadletters)
    {
        while (TryDequeue(out var envelope))
            deadletters.Enqueue(owner, envelope);
    }

    private Envelope[] Room()
    {
        if (_slots is null) return _slots = new Envelope[FirstCapacity];
        if (_count < _slots.Length) return _slots;
        var grown = new Envelope[_slots.Length * 2];
        for (var i = 0; i < _count; i++)
            grown[i] = _slots[(_head + i) & (_slots.Length - 1)];
        _head = 0;
        return _slots = grown;
    }
}
