using System.Reflection;
using Akka.Actor;
using Restock.Actors.Engine.Hosting;

namespace Restock.Actors.Tests.Hosting;

/// <summary>What a caller of the engine relies on from an ask: the answer, a failure, a timeout, its own cancellation.</summary>
public sealed class AskTests : IAsyncLifetime
{
    private readonly ActorSystem _system = ActorSystem.Create("restock", RestockConfig.Load(_ => null));

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync() => _system.Terminate();

    [Fact]
    public async Task The_answer_of_the_asked_actor_reaches_the_caller()
    {
        var timeouts = AskTimeouts.Start(_system, TimeSpan.FromMinutes(1));
        var echo = _system.ActorOf(Props.Create(() => new Echo()));

        Assert.Equal("stock: 7", await timeouts.Ask<string>(echo, "stock: 7", CancellationToken.None));
        Assert.Equal("stock: 8", await timeouts.Ask<string>(echo, "stock: 8", CancellationToken.None));
    }

    /// <summary>
    /// An actor keeps its last sender (the ask's reply reference) until its next message, which for most SKUs of a large
    /// catalogue comes much later: the answer it gave must not stay reachable through it once the caller has it.
    /// </summary>
    [Fact]
    public async Task An_answered_ask_leaves_its_answer_unreachable_from_the_actor_that_answered()
    {
        var timeouts = AskTimeouts.Start(_system, TimeSpan.FromMinutes(1));
        var keeper = _system.ActorOf(Props.Create(() => new AnswersWithNew()));

        var answer = await AskAndForget(timeouts, keeper);

        // The thread that completed the ask may not have left its frame yet (a busy machine, a Debug build keeps its
        // locals): collect until the answer is gone or a generous bound passes; a reference the actor keeps never goes.
        for (var attempt = 0; attempt < 100 && answer.IsAlive; attempt++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
            GC.Collect();
            if (answer.IsAlive) await Task.Delay(20);
        }
        Assert.False(answer.IsAlive);
    }

    // Not inlined, so no local of the caller's frame keeps the answer or its task alive.
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static async Task<WeakReference> AskAndForget(AskTimeouts timeouts, IActorRef keeper) =>
        new(await timeouts.Ask<object>(keeper, "stock?", CancellationToken.None));

    /// <summary>Answers each message with a new object.</summary>
    private sealed class AnswersWithNew : ReceiveActor
    {
        public AnswersWithNew() => ReceiveAny(_ => Sender.Tell(new object()));
    }

    /// <summary>
    /// The actor that answered keeps the ask's sender until its next message (for most SKUs of a large catalogue, long
    /// after): the ask's own state (its list links, deadlines, token and callbacks) must not stay reachable through it.
    /// </summary>
    [Fact]
    public async Task An_actor_that_keeps_an_answered_asks_sender_keeps_none_of_the_asks_state_alive()
    {
        var timeouts = AskTimeouts.Start(_system, TimeSpan.FromMinutes(1));
        var keeper = _system.ActorOf(Props.Create(() => new AnswersWhenTold()));

        var (held, state) = AskHeld(timeouts, keeper);
        Assert.Equal("holding", await timeouts.Ask<string>(keeper, "holding?", CancellationToken.None));
        Assert.Equal("answered", await timeouts.Ask<string>(keeper, "answer now", CancellationToken.None));
        Assert.Equal("late answer", await held);

        // The keeper still holds the sender; see An_answered_ask_leaves_its_answer_unreachable_from_the_actor_that_answered
        // for why this collects more than once.
        for (var attempt = 0; attempt < 100 && state.IsAlive; attempt++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
            GC.Collect();
            if (state.IsAlive) await Task.Delay(20);
        }
        Assert.False(state.IsAlive);
        Assert.Equal("holding", await timeouts.Ask<string>(keeper, "holding?", CancellationToken.None));
    }

    /// <summary>Starts an ask the keeper holds; the ask's waiting state (the newest in its list) only weakly.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static (Task<string> Held, WeakReference State) AskHeld(AskTimeouts timeouts, IActorRef keeper)
    {
        const BindingFlags Private = BindingFlags.NonPublic | BindingFlags.Instance;
        var held = timeouts.Ask<string>(keeper, "stock?", CancellationToken.None);
        var replies = typeof(AskTimeouts).GetField("_replies", Private)!.GetValue(timeouts)!;
        var list = ((Array)replies.GetType().GetField("_lists", Private)!.GetValue(replies)!).GetValue(0)!;
        return (held, new WeakReference(list.GetType().GetField("_tail", Private)!.GetValue(list)!));
    }

    [Fact]
    public async Task An_answer_sent_to_the_askers_path_arrives_as_one_from_another_node_does_and_the_path_ends_with_the_ask()
    {
        var timeouts = AskTimeouts.Start(_system, TimeSpan.FromMinutes(1));
        var byPath = _system.ActorOf(Props.Create(() => new AnswersByPath()));

        var path = await timeouts.Ask<ActorPath>(byPath, "where?", CancellationToken.None);

        // Nothing is left registered under the ask's path once it has its answer.
        Assert.IsType<EmptyLocalActorRef>(((ExtendedActorSystem)_system).Provider.ResolveActorRef(path));
    }

    /// <summary>
    /// A SKU on another node answers over remoting, to the path the ask's sender is given only when remoting reads it:
    /// the answer arrives, and one that comes after the caller stopped waiting goes nowhere and breaks nothing.
    /// </summary>
    [Fact]
    public async Task An_actor_on_another_node_answers_the_ask_and_a_late_answer_is_dropped()
    {
        var other = ActorSystem.Create("restock", RestockConfig.Load(_ => null));
        try
        {
            other.ActorOf(Props.Create(() => new Echo()), "echo");
            other.ActorOf(Props.Create(() => new AnswersWhenTold()), "held");
            var there = ((ExtendedActorSystem)other).Provider.DefaultAddress;
            var echo = await _system.ActorSelection(new RootActorPath(there) / "user" / "echo").ResolveOne(TimeSpan.FromSeconds(30));
            var held = await _system.ActorSelection(new RootActorPath(there) / "user" / "held").ResolveOne(TimeSpan.FromSeconds(30));

            var timeouts = AskTimeouts.Start(_system, TimeSpan.FromSeconds(30));
            Assert.Equal("stock: 9", await timeouts.Ask<string>(echo, "stock: 9", CancellationToken.None));
            Assert.Equal("stock: 10", await timeouts.Ask<string>(echo, "stock: 10", CancellationToken.None));

            using var cancel = new CancellationTokenSource();
            var abandoned = timeouts.Ask<string>(held, "stock?", cancel.Token);
            // Held by the other node until the caller has gone, then answered.
            Assert.Equal("holding", await timeouts.Ask<string>(held, "holding?", CancellationToken.None));
            await cancel.CancelAsync();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => abandoned);
            Assert.Equal("answered", await timeouts.Ask<string>(held, "answer now", CancellationToken.None));
            Assert.Equal("stock: 11", await timeouts.Ask<string>(echo, "stock: 11", CancellationToken.None));
        }
        finally
        {
            await other.Terminate();
        }
    }

    [Fact]
    public async Task A_failure_answered_by_the_actor_fails_the_callers_task()
    {
        var timeouts = AskTimeouts.Start(_system, TimeSpan.FromMinutes(1));
        var failing = _system.ActorOf(Props.Create(() => new Failing()));

        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => timeouts.Ask<string>(failing, "stock?", CancellationToken.None));
        Assert.Equal("journal unavailable", e.Message);
    }

    [Fact]
    public async Task An_ask_nobody_answers_ends_with_a_timeout()
    {
        var timeouts = AskTimeouts.Start(_system, TimeSpan.FromMilliseconds(200));
        var silent = _system.ActorOf(Props.Create(() => new Silent()));

        await Assert.ThrowsAsync<AskTimeoutException>(() => timeouts.Ask<string>(silent, "stock?", CancellationToken.None));
        // An answer after the timeout changes nothing for the caller (it goes to dead letters).
        silent.Tell("answer now", ActorRefs.NoSender);
    }

    [Fact]
    public async Task A_caller_that_cancels_stops_waiting_and_other_callers_keep_theirs()
    {
        var timeouts = AskTimeouts.Start(_system, TimeSpan.FromMinutes(5));
        var silent = _system.ActorOf(Props.Create(() => new Silent()));
        var echo = _system.ActorOf(Props.Create(() => new Echo()));
        using var cancel = new CancellationTokenSource();

        var cancelled = timeouts.Ask<string>(silent, "stock?", cancel.Token);
        var other = timeouts.Ask<string>(silent, "stock?", CancellationToken.None);
        await cancel.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled);
        Assert.False(other.IsCompleted);
        Assert.Equal("still here", await timeouts.Ask<string>(echo, "still here", CancellationToken.None));
    }

    [Fact]
    public async Task An_ask_with_a_token_already_cancelled_ends_cancelled()
    {
        var timeouts = AskTimeouts.Start(_system, TimeSpan.FromMinutes(5));
        var echo = _system.ActorOf(Props.Create(() => new Echo()));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => timeouts.Ask<string>(echo, "stock?", new CancellationToken(canceled: true)));
    }

    /// <summary>
    /// A request aborted just as its ask starts (a client closing its connection): the token's callback ends the ask while
    /// the ask is still taking its registration. Neither may wait for the other. The race is held open by taking the ask's
    /// lock (found by reflection) between its registration and its check, and letting both threads contend for it.
    /// </summary>
    [Fact]
    public async Task An_ask_whose_token_is_cancelled_while_it_starts_ends_cancelled_and_holds_no_thread()
    {
        const BindingFlags Private = BindingFlags.NonPublic | BindingFlags.Instance;
        var timeouts = AskTimeouts.Start(_system, TimeSpan.FromMinutes(5));
        var silent = _system.ActorOf(Props.Create(() => new Silent()));
        using (var first = new CancellationTokenSource())
        {
            var warmUp = timeouts.Ask<string>(silent, "stock?", first.Token);
            await first.CancelAsync();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => warmUp);
        }
        var replies = typeof(AskTimeouts).GetField("_replies", Private)!.GetValue(timeouts)!;
        var list = ((Array)replies.GetType().GetField("_lists", Private)!.GetValue(replies)!).GetValue(0)!;
        var tail = list.GetType().GetField("_tail", Private)!;

        for (var attempt = 0; attempt < 40; attempt++)
        {
            using var cancel = new CancellationTokenSource();
            var before = tail.GetValue(list);
            var held = new TaskCompletionSource<object>(TaskCreationOptions.RunContinuationsAsynchronously);
            var release = new ManualResetEventSlim();
            var holder = new Thread(() =>
            {
                object? reply;
                while ((reply = tail.GetValue(list)) is null || ReferenceEquals(reply, before)) Thread.SpinWait(1);
                lock (reply)
                {
                    held.SetResult(reply);
                    release.Wait();
                }
            });
            holder.Start();
            var asking = Task.Run(() => timeouts.Ask<string>(silent, "stock?", cancel.Token));
            var reply = await held.Task.WaitAsync(TimeSpan.FromSeconds(30));
            var state = reply.GetType().BaseType!.GetField("_state", Private)!;
            await Task.Delay(50);
            var cancelling = Task.Run(() => cancel.Cancel());
            while ((int)state.GetValue(reply)! == 0) await Task.Delay(1);
            await Task.Delay(50);
            release.Set();

            // A deadlock would hold both threads for good: the bound only turns it into a failure instead of a hang.
            await cancelling.WaitAsync(TimeSpan.FromSeconds(30));
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => asking.WaitAsync(TimeSpan.FromSeconds(30)));
            holder.Join();
        }
    }

    private sealed class Echo : ReceiveActor
    {
        public Echo() => ReceiveAny(m => Sender.Tell(m));
    }

    /// <summary>Answers to the actor its sender's path resolves to, as remoting delivers a reply from another node.</summary>
    private sealed class AnswersByPath : ReceiveActor
    {
        public AnswersByPath() => ReceiveAny(_ =>
            ((ExtendedActorSystem)Context.System).Provider.ResolveActorRef(Sender.Path).Tell(Sender.Path));
    }

    /// <summary>Holds the first asker's address; answers it (late) when told to.</summary>
    private sealed class AnswersWhenTold : ReceiveActor
    {
        private IActorRef? _held;

        public AnswersWhenTold()
        {
            Receive<string>(m => m == "holding?", _ => Sender.Tell(_held is null ? "nothing" : "holding"));
            Receive<string>(m => m == "answer now", _ =>
            {
                _held?.Tell("late answer");
                Sender.Tell("answered");
            });
            Receive<string>(_ => _held = Sender);
        }
    }

    private sealed class Failing : ReceiveActor
    {
        public Failing() => ReceiveAny(_ => Sender.Tell(new Status.Failure(new InvalidOperationException("journal unavailable"))));
    }

    private sealed class Silent : ReceiveActor
    {
        public Silent() => ReceiveAny(_ => { });
    }
}
