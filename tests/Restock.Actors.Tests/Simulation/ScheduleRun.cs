using System.Collections.Concurrent;
using Akka.Actor;
using Restock.Actors.Domain.Inventory;
using Restock.Actors.Domain.Refunds;
using Restock.Actors.Domain.Shops;
using Restock.Actors.Engine.Hosting;
using Restock.Actors.Engine.Inventory;
using Restock.Actors.Engine.Refunds;
using Restock.Actors.Engine.Shops;

namespace Restock.Actors.Tests.Simulation;

/// <summary>One client request (same id on every delivery) and every answer any delivery got.</summary>
public sealed class SkuCall(string sku, SkuCommand command)
{
    public string Sku { get; } = sku;
    public SkuCommand Command { get; } = command;
    public ConcurrentQueue<SkuReply> Answers { get; } = new();
    public bool Answered => !Answers.IsEmpty;
    public bool Acknowledged => Answers.Any(a => a.Succeeded);
}

public sealed class RefundCall(RefundRequest request)
{
    public RefundRequest Request { get; } = request;
    public ConcurrentQueue<RefundReply> Answers { get; } = new();
    public bool Answered => !Answers.IsEmpty;
    public bool Acknowledged => Answers.Any(a => a.Outcome is RefundOutcome.Accepted or RefundOutcome.AlreadyReceived);
}

public sealed class ShopCall(string shop, ShopCommand command)
{
    public string Shop { get; } = shop;
    public ShopCommand Command { get; } = command;
    public ConcurrentQueue<ShopReply> Answers { get; } = new();
    public bool Answered => !Answers.IsEmpty;
}

/// <summary>
/// Plays one schedule against the engine as its clients would: every request carries its id on every delivery,
/// may be sent in several copies at once, may time out at the client (outcome unknown) and is then retried, and
/// may be delivered once more, late, after later requests. Then it quiesces: faults stop, every request still
/// without an answer is retried until it has one, and refunds get time to finish.
/// </summary>
public sealed class ScheduleRun
{
    private static readonly TimeSpan PatientAsk = TimeSpan.FromSeconds(1);
    private static int _nextRun;

    private readonly ISimHost _host;
    private readonly Schedule _schedule;
    private readonly RunFaults _faults;
    private readonly List<Task> _background = [];
    private DateTimeOffset _lastShortDeadline = DateTimeOffset.MinValue;

    public ScheduleRun(ISimHost host, Schedule schedule)
    {
        _host = host;
        _schedule = schedule;
        Ids = new SimIds(Interlocked.Increment(ref _nextRun));
        _faults = new RunFaults(schedule.Seed);
    }

    public SimIds Ids { get; }

    public Schedule Schedule => _schedule;

    public ConcurrentQueue<SkuCall> SkuCalls { get; } = new();
    public ConcurrentQueue<RefundCall> RefundCalls { get; } = new();
    public ConcurrentQueue<ShopCall> ShopCalls { get; } = new();

    /// <summary>Refund id -> the shop's policy as the run's checks must see it is read from the coordinator; this is only what was sent.</summary>
    public ConcurrentDictionary<string, RefundRequest> Refunds { get; } = new();

    public string FaultSummary => _faults.Summary;

    public int Restarts { get; private set; }

    /// <summary>Wall time of each phase of the run, in order: where a schedule's time goes.</summary>
    public List<(string Phase, TimeSpan Took)> Phases { get; } = [];

    private readonly System.Diagnostics.Stopwatch _phaseClock = System.Diagnostics.Stopwatch.StartNew();

    private void EndPhase(string phase)
    {
        Phases.Add((phase, _phaseClock.Elapsed));
        _phaseClock.Restart();
    }

    private RestockEngine Engine => _host.Engine;

    public async Task RunAsync()
    {
        _host.Faults?.Register(Ids.Run, _faults);
        try
        {
            await SetUp();
            EndPhase("setup");
            var started = DateTime.UtcNow;
            var restartGate = new SemaphoreSlim(1, 1);
            var tasks = new List<Task>();
            foreach (var step in _schedule.Steps)
            {
                var wait = started.AddMilliseconds(step.AtMs) - DateTime.UtcNow;
                if (wait > TimeSpan.Zero) await Task.Delay(wait);
                if (step is SystemRestart)
                {
                    // In-flight requests fail or time out at their clients, who retry once the new system is up.
                    await Task.WhenAny(Task.WhenAll(tasks), Task.Delay(200));
                    await _host.RestartAsync();
                    Restarts++;
                    continue;
                }
                tasks.Add(Play(step));
            }
            await Task.WhenAll(tasks).WaitAsync(TimeSpan.FromSeconds(60));
            EndPhase("steps");
        }
        finally
        {
            _faults.Stop();
            _host.Faults?.Unregister(Ids.Run);
        }
        await Quiesce();
    }

    private async Task SetUp()
    {
        foreach (var (shop, (on, erp)) in _schedule.InitialShops)
        {
            if (erp) await Shop(shop, new SetErpRestocks(true, "sim", "setup", DateTimeOffset.UtcNow), Delivery.Plain);
            if (on) await Shop(shop, new SetAutoRestock(true, SettingOrigin.Merchant, "sim", "setup", erp, DateTimeOffset.UtcNow), Delivery.Plain);
        }
        await Task.WhenAll(_schedule.InitialStock.Select(s => Sku(s.Key, new SetStock("initial", s.Value, "setup", Ids.Of(_schedule.ShopOfSku[s.Key])), Delivery.Plain)));
    }

    private Task Play(Step step) => step switch
    {
        Buyer b => PlayBuyer(b),
        SwitchToggle t => Shop(t.Shop, new SetAutoRestock(t.On, SettingOrigin.Merchant, "merchant", "sim", t.OverrideErp, DateTimeOffset.UtcNow),
            Plan(new Random(t.Seed))),
        ErpFlagToggle t => Shop(t.Shop, new SetErpRestocks(t.On, "merchant", "sim", DateTimeOffset.UtcNow), Plan(new Random(t.Seed))),
        StockAdjustment a => Sku(a.Sku, new AdjustStock(a.AdjustmentId, a.Delta, "sim", Ids.Of(_schedule.ShopOfSku[a.Sku])), Plan(new Random(a.Seed))),
        EntityFault f => Disrupt(f),
        StorageFaults w => StartStorageFaults(w),
        _ => Task.CompletedTask,
    };

    private Task StartStorageFaults(StorageFaults window)
    {
        _faults.Start(window);
        return Task.CompletedTask;
    }

    public Task Disrupt(EntityFault fault)
    {
        var (type, id) = fault.Kind switch
        {
            EntityKind.Sku => ("sku", Ids.Of(fault.EntityId)),
            EntityKind.Shop => ("shop", Ids.Of(fault.EntityId)),
            _ => ("order-refunds", Ids.Of(fault.EntityId)),
        };
        // Any shard: the entity lives in exactly one.
        Engine.System.ActorSelection($"/system/sharding/{type}/*/{id}")
            .Tell(fault.Disruption == Disruption.Crash ? PoisonPill.Instance : PassivateIfIdle.Instance);
        return Task.CompletedTask;
    }

    private async Task PlayBuyer(Buyer b)
    {
        var random = new Random(b.Seed);
        var order = Ids.Of(b.OrderId);
        var deadline = DateTimeOffset.UtcNow + (b.ShortDeadline ? TimeSpan.FromMilliseconds(100 + random.Next(400)) : TimeSpan.FromHours(1));
        if (b.ShortDeadline) lock (_background) if (deadline > _lastShortDeadline) _lastShortDeadline = deadline;

        var reserved = await Task.WhenAll(b.Lines.Select(async l =>
            (l.Sku, l.Quantity, Reply: await Sku(l.Sku, new Reserve(order, l.Quantity, deadline), Plan(random)))));
        var held = reserved.Where(r => r.Reply?.Succeeded == true).Select(r => (r.Sku, r.Quantity)).ToList();
        if (held.Count == 0 || b.Fate == Fate.Abandon) return;
        await Task.Delay(b.PauseMs);
        if (b.Fate == Fate.Cancel)
        {
            await Task.WhenAll(held.Select(l => Sku(l.Sku, new Release(order), Plan(random))));
            return;
        }

        var shop = _schedule.ShopOfSku[held[0].Sku];
        var refund = new RefundRequest($"{order}-r1", order, Ids.Of(shop), held.Select(l => new RefundedLine(Ids.Of(l.Sku), l.Quantity)).ToList(),
            DateTimeOffset.UtcNow);
        if (b.RefundOvertakesPayment)
        {
            await Task.WhenAll(Task.WhenAll(held.Select(l => Sku(l.Sku, new ConfirmPayment(order), Plan(random)))), Refund(refund, Plan(random)));
            return;
        }

        var paid = new List<(string Sku, long Quantity)>();
        foreach (var (line, reply) in held.Zip(await Task.WhenAll(held.Select(l => Sku(l.Sku, new ConfirmPayment(order), Plan(random))))))
            if (reply?.Succeeded == true) paid.Add(line);
        if (paid.Count == 0 || b.Fate == Fate.PayOnly) return;
        refund = refund with { Lines = paid.Select(l => new RefundedLine(Ids.Of(l.Sku), l.Quantity)).ToList(), CompletedAt = DateTimeOffset.UtcNow };

        switch (b.Fate)
        {
            case Fate.Ship:
                await Task.WhenAll(paid.Select(l => Sku(l.Sku, new Ship(order), Plan(random))));
                return;
            case Fate.ShipRacesRefund:
                await Task.WhenAll(Task.WhenAll(paid.Select(l => Sku(l.Sku, new Ship(order), Plan(random)))), Refund(refund, Plan(random)));
                return;
            case Fate.RefundInTwoParts when paid[0].Quantity > 1:
                var part = refund with { Lines = [new RefundedLine(Ids.Of(paid[0].Sku), 1)] };
                await RefundWithErp(part, b.Erp, random);
                await RefundWithErp(refund with
                {
                    RefundId = $"{order}-r2",
                    Lines = paid.Select((l, i) => new RefundedLine(Ids.Of(l.Sku), i == 0 ? l.Quantity - 1 : l.Quantity)).ToList(),
                    CompletedAt = DateTimeOffset.UtcNow,
                }, ErpRole.None, random);
                break;
            default:
                await RefundWithErp(refund, b.Erp, random);
                break;
        }

        if (b.ManualRestock)
        {
            foreach (var r in Refunds.Values.Where(r => r.OrderId == order).ToList())
            {
                await WaitFinished(r, TimeSpan.FromSeconds(3));
                await Task.WhenAll(r.Lines.Select(l => Sku(Unscoped(l.SkuId),
                    new RestockRefund(r.RefundId, null, null, RestockTrigger.Manual, r.ShopId, "merchant", DateTimeOffset.UtcNow), Plan(random))));
            }
        }
    }

    private async Task RefundWithErp(RefundRequest refund, ErpRole erp, Random random)
    {
        Task Erp() => Task.WhenAll(refund.Lines.Select(l => Sku(Unscoped(l.SkuId),
            new RestockRefund(refund.RefundId, refund.OrderId, l.Quantity, RestockTrigger.Erp, refund.ShopId, "erp", DateTimeOffset.UtcNow), Plan(random))));
        switch (erp)
        {
            case ErpRole.Ahead:
                await Erp();
                await Refund(refund, Plan(random));
                break;
            case ErpRole.Racing:
                await Task.WhenAll(Erp(), Refund(refund, Plan(random)));
                break;
            case ErpRole.After:
                await Refund(refund, Plan(random));
                await WaitFinished(refund, TimeSpan.FromSeconds(3));
                await Erp();
                break;
            default:
                await Refund(refund, Plan(random));
                break;
        }
    }

    private string Unscoped(string scopedId) => scopedId[(scopedId.IndexOf('_') + 1)..];

    private async Task WaitFinished(RefundRequest refund, TimeSpan patience)
    {
        var until = DateTime.UtcNow + patience;
        while (DateTime.UtcNow < until)
        {
            try
            {
                using var cts = new CancellationTokenSource(PatientAsk);
                if ((await Engine.Refunds.Get(refund.OrderId, refund.RefundId, cts.Token)).Status is { } s && (s.Finished || s.NeedsAttention)) return;
            }
            catch (Exception e) when (e is OperationCanceledException or AskTimeoutException)
            {
            }
            await Task.Delay(50);
        }
    }

    private async Task<bool> AnyOverdue()
    {
        foreach (var sku in _schedule.ShopOfSku.Keys)
        {
            var state = SkuStock.ApplyAll(SkuState.Empty(),
                (await JournalReader.ReadAsync(Engine.System, SkuActor.PersistenceIdFor(Ids.Of(sku)))).SelectMany(SkuEventBatch.Expand));
            if (state.OpenLines.Values.Any(l => l.Status == LineStatus.Reserved && l.PaymentDeadline < DateTimeOffset.UtcNow)) return true;
        }
        return false;
    }

    private static Delivery Plan(Random random) => new(
        Copies: random.Next(4) == 0 ? 2 + random.Next(2) : 1,
        FirstTryTimesOut: random.Next(6) == 0,
        LateCopyAfterMs: random.Next(5) == 0 ? 20 + random.Next(200) : 0);

    private Task<SkuReply?> Sku(string sku, SkuCommand command, Delivery plan)
    {
        var call = new SkuCall(sku, command);
        SkuCalls.Enqueue(call);
        return Deliver(call.Answers, ct => Engine.Inventory.Execute(Ids.Of(sku), command, ct), plan);
    }

    private Task<RefundReply?> Refund(RefundRequest refund, Delivery plan)
    {
        Refunds[refund.RefundId] = refund;
        var call = new RefundCall(refund);
        RefundCalls.Enqueue(call);
        return Deliver(call.Answers, ct => Engine.Refunds.Submit(refund, ct), plan);
    }

    private Task<ShopReply?> Shop(string shop, ShopCommand command, Delivery plan)
    {
        var call = new ShopCall(shop, command);
        ShopCalls.Enqueue(call);
        return Deliver(call.Answers, ct => Engine.Shops.Execute(Ids.Of(shop), command, ct), plan);
    }

    /// <summary>Sends until some delivery gets an answer (or the run gives up for now: quiescence retries it).</summary>
    private async Task<T?> Deliver<T>(ConcurrentQueue<T> answers, Func<CancellationToken, Task<T>> send, Delivery plan) where T : class
    {
        for (var copy = 1; copy < plan.Copies; copy++) Background(() => Once(answers, send, PatientAsk));
        if (plan.LateCopyAfterMs > 0)
            Background(async () =>
            {
                await Task.Delay(plan.LateCopyAfterMs);
                await Once(answers, send, PatientAsk);
            });
        for (var attempt = 0; attempt < 6; attempt++)
        {
            var timeout = attempt == 0 && plan.FirstTryTimesOut ? TimeSpan.FromMilliseconds(1 + Random.Shared.Next(5)) : PatientAsk;
            if (await Once(answers, send, timeout) is { } reply) return reply;
            await Task.Delay(5 + 10 * attempt);
        }
        return null;
    }

    private void Background(Func<Task> work)
    {
        lock (_background) _background.Add(Task.Run(work));
    }

    private static async Task<T?> Once<T>(ConcurrentQueue<T> answers, Func<CancellationToken, Task<T>> send, TimeSpan timeout) where T : class
    {
        try
        {
            using var cts = new CancellationTokenSource(timeout);
            var reply = await send(cts.Token);
            answers.Enqueue(reply);
            return reply;
        }
        catch (Exception)
        {
            // Timed out, refused to save, system going down: to a client every failure means "outcome unknown".
            return null;
        }
    }

    /// <summary>No new faults; every request without an answer is retried until it has one; deadlines pass; refunds finish.</summary>
    private async Task Quiesce()
    {
        Task[] late;
        lock (_background) late = _background.ToArray();
        await Task.WhenAll(late).WaitAsync(TimeSpan.FromSeconds(30));
        EndPhase("late copies");

        for (var round = 0; round < 20; round++)
        {
            var open = SkuCalls.Where(c => !c.Answered).Select(c => (Task)Once(c.Answers, ct => Engine.Inventory.Execute(Ids.Of(c.Sku), c.Command, ct), PatientAsk))
                .Concat(RefundCalls.Where(c => !c.Answered).Select(c => (Task)Once(c.Answers, ct => Engine.Refunds.Submit(c.Request, ct), PatientAsk)))
                .Concat(ShopCalls.Where(c => !c.Answered).Select(c => (Task)Once(c.Answers, ct => Engine.Shops.Execute(Ids.Of(c.Shop), c.Command, ct), PatientAsk)))
                .ToList();
            if (open.Count == 0) break;
            await Task.WhenAll(open);
            await Task.Delay(100);
        }
        EndPhase("unanswered retried");

        var expiry = _lastShortDeadline + TimeSpan.FromMilliseconds(100) - DateTimeOffset.UtcNow;
        if (expiry > TimeSpan.Zero) await Task.Delay(expiry);
        EndPhase("deadlines pass");
        // An actor that stopped on a fault comes back after sharding's restart backoff: give overdue lines that long.
        for (var wait = 0; wait < 100 && await AnyOverdue(); wait++) await Task.Delay(100);
        EndPhase("expiries land");
        await Task.WhenAll(RefundCalls.Where(c => c.Acknowledged).Select(c => WaitFinished(c.Request, TimeSpan.FromSeconds(30))));
        EndPhase("refunds finish");
    }
}
