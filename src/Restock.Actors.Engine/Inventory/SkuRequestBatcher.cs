using System.Collections.Concurrent;
using Akka.Actor;
using Restock.Actors.Domain.Inventory;
using Restock.Actors.Engine.Hosting;

namespace Restock.Actors.Engine.Inventory;

/// <summary>
/// Concurrent callers of one SKU on this node share its messages. Every message to a SKU costs an ask and a thread
/// hand-off at each of the region, the shard and the entity; at most <c>in-flight</c> messages to one SKU are under way
/// at once, and a caller arriving while that many are under way waits. When one is answered (or fails), every caller
/// then waiting goes to the SKU in one <see cref="SkuRequests"/>, which the SKU decides one by one in arrival order, writes
/// once and answers once. No timer: a caller that finds room is sent at once, so a SKU with one caller at a time sees no
/// change, and a busy one gets larger messages instead of more of them. Arrival order is kept: a caller never passes
/// one already waiting. A shared message holds at most <c>max-batch-size</c> commands, so that 1 still means one journal
/// write per command (a message's commands are written together).
/// </summary>
internal sealed class SkuRequestBatcher
{
    private readonly IActorRef _skuRegion;
    private readonly AskTimeouts _askTimeouts;
    private readonly int _inFlight;
    private readonly int _mostTogether;
    private readonly Action<SkuReply> _reserved;
    // A SKU's entry lives only while a message to it is under way: idle SKUs cost nothing here.
    private readonly ConcurrentDictionary<string, SkuLine> _lines = new();

    /// <param name="inFlight">Most messages under way to one SKU at once (at least 1).</param>
    /// <param name="mostTogether">Most commands in one message.</param>
    /// <param name="reserved">Sees each reservation's answer, on the answering actor's thread (keep it short).</param>
    public SkuRequestBatcher(IActorRef skuRegion, AskTimeouts askTimeouts, int inFlight, int mostTogether, Action<SkuReply> reserved)
    {
        _skuRegion = skuRegion;
        _askTimeouts = askTimeouts;
        _inFlight = inFlight;
        _mostTogether = mostTogether;
        _reserved = reserved;
    }

    public Task<SkuReply> Execute(string skuId, SkuCommand command)
    {
        while (true)
        {
            var line = _lines.GetOrAdd(skuId, static (id, self) => new SkuLine(self, id), this);
            if (line.TryJoin(command, out var waiting)) return waiting ?? line.Send(command);
            // Retired (it went idle) between the lookup and the lock: a new entry takes its place.
        }
    }

    /// <summary>One SKU's messages under way and the callers waiting for room, guarded by its own lock.</summary>
    private sealed class SkuLine
    {
        private readonly SkuRequestBatcher _batcher;
        private readonly string _skuId;
        // Made once per entry, not per request: a lone caller's ask hands its answer or failure here.
        private readonly Action<SkuReply> _oneAnswered, _oneReserved;
        private readonly Action<Exception?> _oneFailed;
        private int _underWay;
        private bool _retired;
        private List<Waiter>? _waiting;

        public SkuLine(SkuRequestBatcher batcher, string skuId)
        {
            _batcher = batcher;
            _skuId = skuId;
            _oneAnswered = _ => Ended();
            _oneReserved = reply =>
            {
                batcher._reserved(reply);
                Ended();
            };
            _oneFailed = _ => Ended();
        }

        /// <summary>False if this entry was retired; else true, with <paramref name="waiting"/> set if the caller waits for room.</summary>
        public bool TryJoin(SkuCommand command, out Task<SkuReply>? waiting)
        {
            waiting = null;
            lock (this)
            {
                if (_retired) return false;
                if (_underWay < _batcher._inFlight)
                {
                    _underWay++;
                    return true;
                }
                var waiter = new Waiter(command);
                (_waiting ??= []).Add(waiter);
                waiting = waiter.Task;
                return true;
            }
        }

        public Task<SkuReply> Send(SkuCommand command) =>
            _batcher._askTimeouts.Ask(_batcher._skuRegion, new SkuRequest(_skuId, command),
                command is Reserve ? _oneReserved : _oneAnswered, _oneFailed, CancellationToken.None);

        /// <summary>A message under way ended: the callers waiting take its place in one message, or the room frees up.</summary>
        private void Ended()
        {
            List<Waiter> next;
            lock (this)
            {
                if (_waiting is not { Count: > 0 })
                {
                    if (--_underWay == 0)
                    {
                        _retired = true;
                        _batcher._lines.TryRemove(new KeyValuePair<string, SkuLine>(_skuId, this));
                    }
                    return;
                }
                if (_waiting.Count <= _batcher._mostTogether)
                {
                    next = _waiting;
                    _waiting = null;
                }
                else
                {
                    next = _waiting.GetRange(0, _batcher._mostTogether);
                    _waiting.RemoveRange(0, _batcher._mostTogether);
                }
            }
            SendTogether(next);
        }

        private void SendTogether(List<Waiter> waiters)
        {
            RestockMetrics.SharedMessageSize.Record(waiters.Count);
            var commands = new SkuCommand[waiters.Count];
            for (var i = 0; i < commands.Length; i++)
                commands[i] = waiters[i].Command;
            _batcher._askTimeouts.Ask<SkuReplies>(_batcher._skuRegion, new SkuRequests(_skuId, commands), replies =>
            {
                // Next message first: the waiting callers' continuations are queued below, and the SKU is not kept idle meanwhile.
                Ended();
                for (var i = 0; i < waiters.Count; i++)
                {
                    if (i < replies.Replies.Count)
                    {
                        if (waiters[i].Command is Reserve) _batcher._reserved(replies.Replies[i]);
                        waiters[i].SetResult(replies.Replies[i]);
                    }
                    else
                        waiters[i].SetException(new InvalidOperationException($"SKU {_skuId} answered {replies.Replies.Count} of {waiters.Count} requests"));
                }
            }, failure =>
            {
                Ended();
                foreach (var waiter in waiters)
                    if (failure is null) waiter.SetCanceled();
                    else waiter.SetException(failure);
            }, CancellationToken.None);
        }
    }

    /// <summary>A caller waiting for room; like an ask's, its continuation runs on the thread pool, not the SKU's thread.</summary>
    private sealed class Waiter(SkuCommand command) : TaskCompletionSource<SkuReply>(TaskCreationOptions.RunContinuationsAsynchronously)
    {
        public SkuCommand Command { get; } = command;
    }
}
