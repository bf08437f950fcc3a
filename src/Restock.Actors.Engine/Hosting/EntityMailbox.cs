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
/// Two buffers: senders (any thread) append to one under the queue's own lock (no lock object per entity; nothing else
/// locks it); the actor's turn (one thread at a time, as Akka runs a mailbox) takes that whole buffer in one swap and
/// then reads and prepends (unstashing) without the lock, so a hot entity's senders and its reader do not take turns on
/// the lock per message. The dispatcher may read <see cref="HasMessages"/> from any thread: one count of both sides, so no
/// moment of a swap and no read between two sides' counts shows a queue holding messages as empty. A few slots when first
/// used, doubled when full; grown buffers are given back once the queue is empty. An emptied buffer goes back to the
/// senders (a drained queue keeps one few-slot buffer, on their side), so an entity taking one message at a time
/// allocates none: a new buffer per message was ~2% of all the promo mix allocated (PERFORMANCE-LOG, "session 9").
/// </summary>
public sealed class EntityMessageQueue : IMessageQueue, IUnboundedDequeBasedMessageQueueSemantics
{
    /// <summary>Slots of a new buffer (a power of two: the reader's indexes wrap with a mask).</summary>
    public const int FirstCapacity = 4;

    // Messages on both sides, read from any thread: one field, as two read one after the other could both be 0 while a
    // swap moves the messages from one side to the other.
    private int _count;

    // The senders' side, guarded by the lock; the count is also read without it.
    private Envelope[]? _incoming;
    private int _incomingCount;

    // The reader's side: a ring (prepends go before its head); only the actor's turn touches it.
    private Envelope[]? _taking;
    private int _takingHead;
    private int _takingCount;

    /// <summary>Slots held now on both sides: 0 before the first message and after grown buffers were given back.</summary>
    public int Capacity
    {
        get
        {
            lock (this) return (_incoming?.Length ?? 0) + (_taking?.Length ?? 0);
        }
    }

    public bool HasMessages => Volatile.Read(ref _count) > 0;

    public int Count => Volatile.Read(ref _count);

    public void Enqueue(IActorRef receiver, Envelope envelope)
    {
        lock (this)
        {
            if (_incoming is null) _incoming = new Envelope[FirstCapacity];
            else if (_incomingCount == _incoming.Length) Array.Resize(ref _incoming, _incoming.Length * 2);
            _incoming[_incomingCount] = envelope;
            Volatile.Write(ref _incomingCount, _incomingCount + 1);
            Interlocked.Increment(ref _count);
        }
    }

    /// <summary>Ahead of every queued message: unstashing prepends the stash's messages, last first. The actor's turn only.</summary>
    public void EnqueueFirst(Envelope envelope)
    {
        if (_taking is null) _taking = new Envelope[FirstCapacity];
        else if (_takingCount == _taking.Length) _taking = Unwrapped(_taking, _taking.Length * 2);
        _takingHead = (_takingHead - 1) & (_taking.Length - 1);
        _taking[_takingHead] = envelope;
        _takingCount++;
        Interlocked.Increment(ref _count);
    }

    /// <summary>The actor's turn only.</summary>
    public bool TryDequeue(out Envelope envelope)
    {
        if (_takingCount == 0 && !TakeIncoming())
        {
            envelope = default;
            return false;
        }
        var taking = _taking!;
        envelope = taking[_takingHead];
        taking[_takingHead] = default;
        _takingHead = (_takingHead + 1) & (taking.Length - 1);
        _takingCount--;
        Interlocked.Decrement(ref _count);
        if (_takingCount == 0) _takingHead = 0;
        return true;
    }

    public void CleanUp(IActorRef owner, IMessageQueue deadletters)
    {
        while (TryDequeue(out var envelope))
            deadletters.Enqueue(owner, envelope);
    }

    /// <summary>
    /// Swaps the senders' buffer in (everything in it came after everything already taken). The reader's empty buffer goes
    /// to the senders (a busy entity reuses its two buffers); when both sides are empty, see <see cref="Settle"/>.
    /// </summary>
    private bool TakeIncoming()
    {
        // The dispatcher asks once more after the last message: no lock for the usual answer "empty". A message enqueued
        // meanwhile schedules the actor again.
        if (Volatile.Read(ref _incomingCount) == 0)
        {
            if (_taking is not null || Volatile.Read(ref _incoming) is { Length: > FirstCapacity }) Settle();
            return false;
        }
        lock (this)
        {
            var full = _incoming!;
            var count = _incomingCount;
            // Empty now: the senders fill it next while the reader works through theirs.
            _incoming = _taking;
            Volatile.Write(ref _incomingCount, 0);
            _taking = full;
            _takingHead = 0;
            _takingCount = count;
        }
        return true;
    }

    /// <summary>
    /// Both sides found empty: grown buffers go, and one few-slot buffer stays, on the senders' side, where the next
    /// message goes (an idle entity holds no more than before; the reader takes it with that message).
    /// </summary>
    private void Settle()
    {
        var spare = _taking is { Length: <= FirstCapacity } ? _taking : null;
        _taking = null;
        lock (this)
        {
            if (_incomingCount == 0 && _incoming is { Length: > FirstCapacity }) _incoming = null;
            _incoming ??= spare;
        }
    }

    private Envelope[] Unwrapped(Envelope[] ring, int length)
    {
        var grown = new Envelope[length];
        for (var i = 0; i < _takingCount; i++)
            grown[i] = ring[(_takingHead + i) & (ring.Length - 1)];
        _takingHead = 0;
        return grown;
    }
}
