using Akka.Actor;
using Akka.Dispatch.MessageQueues;
using Restock.Actors.Engine.Hosting;

namespace Restock.Actors.Tests.Hosting;

/// <summary>
/// The entity mailbox keeps Akka's mailbox contract (order, prepending for unstash, any number of messages, every
/// message once) while an idle entity holds only a few slots. Bytes allocated on this thread, not timings.
/// </summary>
public sealed class EntityMailboxTests
{
    private static Envelope Message(object message) => new(message, ActorRefs.NoSender);

    private static List<object> Drain(IMessageQueue queue)
    {
        var taken = new List<object>();
        while (queue.TryDequeue(out var envelope)) taken.Add(envelope.Message);
        return taken;
    }

    [Fact]
    public void Messages_come_out_in_the_order_they_went_in_across_growth_and_wrap_around()
    {
        var queue = new EntityMessageQueue();
        var next = 0;
        var expected = new List<object>();
        // Interleaved so that the ring's head has moved before it grows.
        for (var round = 0; round < 5; round++)
        {
            for (var i = 0; i < 3 + round * 7; i++)
            {
                queue.Enqueue(ActorRefs.Nobody, Message(next));
                expected.Add(next++);
            }
            Assert.True(queue.TryDequeue(out var first));
            Assert.Equal(expected[0], first.Message);
            expected.RemoveAt(0);
            Assert.Equal(expected.Count, queue.Count);
        }

        Assert.Equal(expected, Drain(queue));
        Assert.False(queue.HasMessages);
        Assert.Equal(0, queue.Count);
    }

    [Fact]
    public void Prepended_messages_come_before_the_queued_ones_last_prepended_first_as_unstashing_needs()
    {
        var queue = new EntityMessageQueue();
        foreach (var m in new[] { "queued-1", "queued-2", "queued-3" }) queue.Enqueue(ActorRefs.Nobody, Message(m));
        // Akka unstashes a stash [s1, s2, s3, s4, s5] by prepending s5 first and s1 last; five prepends also grow the ring.
        foreach (var m in new[] { "s5", "s4", "s3", "s2", "s1" }) queue.EnqueueFirst(Message(m));

        Assert.Equal(["s1", "s2", "s3", "s4", "s5", "queued-1", "queued-2", "queued-3"], Drain(queue));
    }

    [Fact]
    public void A_grown_buffer_is_given_back_once_drained_and_an_idle_queue_keeps_a_few_slots()
    {
        var queue = new EntityMessageQueue();
        Assert.Equal(0, queue.Capacity);
        queue.Enqueue(ActorRefs.Nobody, Message("one"));
        Drain(queue);
        Assert.Equal(EntityMessageQueue.FirstCapacity, queue.Capacity);

        for (var i = 0; i < 1_000; i++) queue.Enqueue(ActorRefs.Nobody, Message(i));
        Assert.True(queue.Capacity >= 1_000);
        Assert.Equal(1_000, Drain(queue).Count);
        Assert.Equal(0, queue.Capacity);
    }

    [Fact]
    public void An_entity_taking_its_messages_one_or_a_few_at_a_time_allocates_no_buffer_per_message()
    {
        var queue = new EntityMessageQueue();
        var envelope = Message("m");
        void Round(int messages)
        {
            for (var i = 0; i < messages; i++) queue.Enqueue(ActorRefs.Nobody, envelope);
            while (queue.TryDequeue(out _)) { }
        }
        Round(1);
        Round(EntityMessageQueue.FirstCapacity);

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 1_000; i++) Round(1 + i % EntityMessageQueue.FirstCapacity);

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal(EntityMessageQueue.FirstCapacity, queue.Capacity);
    }

    [Fact]
    public void Clean_up_hands_every_message_left_to_dead_letters_in_order()
    {
        var queue = new EntityMessageQueue();
        var deadLetters = new EntityMessageQueue();
        queue.Enqueue(ActorRefs.Nobody, Message("b"));
        queue.EnqueueFirst(Message("a"));
        queue.Enqueue(ActorRefs.Nobody, Message("c"));

        queue.CleanUp(ActorRefs.Nobody, deadLetters);

        Assert.False(queue.HasMessages);
        Assert.Equal(["a", "b", "c"], Drain(deadLetters));
    }

    [Fact]
    public async Task Concurrent_senders_lose_nothing_and_each_senders_messages_stay_in_order()
    {
        const int senders = 4, each = 20_000;
        var queue = new EntityMessageQueue();
        var received = new List<(int Sender, int N)>();
        var sending = Enumerable.Range(0, senders).Select(s => Task.Run(() =>
        {
            for (var n = 0; n < each; n++) queue.Enqueue(ActorRefs.Nobody, Message((s, n)));
        })).ToArray();
        // One consumer, as the dispatcher runs an actor's mailbox on one thread at a time.
        while (received.Count < senders * each)
        {
            if (queue.TryDequeue(out var envelope)) received.Add(((int, int))envelope.Message);
            else await Task.Yield();
        }
        await Task.WhenAll(sending);

        Assert.False(queue.HasMessages);
        for (var s = 0; s < senders; s++)
            Assert.Equal(Enumerable.Range(0, each), received.Where(r => r.Sender == s).Select(r => r.N));
    }

    /// <summary>
    /// A persistent entity stashes while it recovers or writes and unstashes (prepends) while senders keep sending: with
    /// those interleaved at random (seeded, so a failure repeats), each sender's messages still come out in order the
    /// first time, an unstashed batch comes back whole and first, and every message is handled exactly once.
    /// </summary>
    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(42)]
    public async Task Stashing_and_unstashing_while_senders_send_keeps_order_and_loses_nothing(int seed)
    {
        const int senders = 4, each = 25_000;
        var random = new Random(seed);
        var queue = new EntityMessageQueue();
        var sending = Enumerable.Range(0, senders).Select(s => Task.Run(() =>
        {
            for (var n = 0; n < each; n++) queue.Enqueue(ActorRefs.Nobody, Message((s, n)));
        })).ToArray();

        var lastSeen = Enumerable.Repeat(-1, senders).ToArray();
        var handled = new HashSet<(int, int)>();
        var stash = new List<(int Sender, int N)>();
        var expectedNext = new List<(int Sender, int N)>();
        while (handled.Count < senders * each)
        {
            if (!queue.TryDequeue(out var envelope))
            {
                if (stash.Count > 0) Unstash();
                else await Task.Yield();
                continue;
            }
            var m = ((int Sender, int N))envelope.Message;
            if (expectedNext.Count > 0)
            {
                Assert.Equal(expectedNext[0], m);
                expectedNext.RemoveAt(0);
            }
            else
            {
                // First time out of the queue: after everything its sender sent before it.
                Assert.True(m.N > lastSeen[m.Sender], $"sender {m.Sender}: {m.N} after {lastSeen[m.Sender]}");
                lastSeen[m.Sender] = m.N;
            }
            switch (random.Next(10))
            {
                case < 3:
                    stash.Add(m);
                    break;
                case 3:
                    Assert.True(handled.Add(m), $"{m} handled twice");
                    Unstash();
                    break;
                default:
                    Assert.True(handled.Add(m), $"{m} handled twice");
                    break;
            }
        }
        await Task.WhenAll(sending);

        Assert.Empty(stash);
        Assert.False(queue.HasMessages);
        Assert.Equal(senders * each, handled.Count);

        void Unstash()
        {
            // As Akka's UnstashAll: the last stashed prepended first, so the stash comes back in its own order.
            for (var i = stash.Count - 1; i >= 0; i--) queue.EnqueueFirst(Message(stash[i]));
            // Ahead of what an earlier unstash put back and is not out yet.
            expectedNext.InsertRange(0, stash);
            stash.Clear();
        }
    }

    /// <summary>
    /// The dispatcher may ask any thread whether an entity has messages: while the actor's turn moves the senders' buffer
    /// to its own side, the queue must not look empty. The actor's turn takes one message and sends one back, so the
    /// queue always holds some; another thread samples it meanwhile (the number of messages per round seeded).
    /// </summary>
    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    public async Task A_queue_holding_messages_never_looks_empty_from_another_thread_while_its_buffers_swap(int seed)
    {
        const int rounds = 2_000_000;
        var random = new Random(seed);
        var queue = new EntityMessageQueue();
        var held = random.Next(2, 5);
        for (var i = 0; i < held; i++) queue.Enqueue(ActorRefs.Nobody, Message(i));
        var done = 0;
        var looksEmpty = 0L;
        var sampling = Task.Run(() =>
        {
            while (Volatile.Read(ref done) == 0)
                if (!queue.HasMessages || queue.Count == 0) looksEmpty++;
        });
        await Task.Run(() =>
        {
            for (var round = 0; round < rounds; round++)
            {
                Assert.True(queue.TryDequeue(out var envelope));
                queue.Enqueue(ActorRefs.Nobody, envelope);
            }
        });
        Volatile.Write(ref done, 1);
        await sampling;

        Assert.Equal(0, looksEmpty);
        Assert.Equal(held, queue.Count);
    }

    /// <summary>Akka's deque mailbox holds a ~1 KB queue segment from an actor's first message until it stops.</summary>
    [Fact]
    public void An_entity_that_handled_a_message_holds_a_small_queue_not_a_segment_for_32()
    {
        const int queues = 1_000;
        var kept = new EntityMessageQueue[queues];
        var envelope = Message("stock");
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < queues; i++)
        {
            var queue = kept[i] = new EntityMessageQueue();
            queue.Enqueue(ActorRefs.Nobody, envelope);
            queue.TryDequeue(out _);
        }
        var perQueue = (GC.GetAllocatedBytesForCurrentThread() - before) / queues;

        Assert.All(kept, q => Assert.False(q.HasMessages));
        Assert.InRange(perQueue, 1, 160);
    }
}
