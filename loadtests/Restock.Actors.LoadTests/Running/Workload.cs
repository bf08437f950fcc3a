using System.Collections.Concurrent;
using Restock.Actors.LoadTests.Scenarios;
using Restock.Actors.LoadTests.Targets;

namespace Restock.Actors.LoadTests.Running;

/// <summary>
/// What the runner knows of one acknowledged order: enough to check, at the end, that the engine kept every acknowledged
/// change. Values only (kept in <see cref="TrackedValues{T}"/>): the order's id is formatted from its number when a
/// command is sent (<see cref="Workload.OrderId"/>), its SKU and shop are indexes into the workload's.
/// </summary>
public struct TrackedOrder(long number, int sku, int shop, int quantity, DateTimeOffset deadline)
{
    private const int PaidFlag = 1, CancelledFlag = 2, UncertainFlag = 4;

    private int _flags;
    private int _refundedUnits;

    public readonly long Number = number;
    public readonly int Sku = sku;
    public readonly int Shop = shop;
    public readonly int Quantity = quantity;
    public readonly long DeadlineTicks = deadline.UtcTicks;

    public bool Paid => (Volatile.Read(ref _flags) & PaidFlag) != 0;

    public bool Cancelled => (Volatile.Read(ref _flags) & CancelledFlag) != 0;

    /// <summary>A pay or cancel failed without an answer: the runner cannot tell what the engine did.</summary>
    public bool Uncertain => (Volatile.Read(ref _flags) & UncertainFlag) != 0;

    /// <summary>Units of this order in refunds the engine acknowledged (they no longer count as held).</summary>
    public int RefundedUnits => Volatile.Read(ref _refundedUnits);

    public void MarkPaid() => Interlocked.Or(ref _flags, PaidFlag);

    public void MarkCancelled() => Interlocked.Or(ref _flags, CancelledFlag);

    public void MarkUncertain() => Interlocked.Or(ref _flags, UncertainFlag);

    public void Refunded(int units) => Interlocked.Add(ref _refundedUnits, units);

    /// <summary>
    /// Units the runner can be sure the engine still holds for this order at <paramref name="now"/>: acknowledged,
    /// not cancelled, paid or within its payment window (else released), less what acknowledged refunds took. A lower
    /// bound: orders whose last request got no answer count as holding nothing.
    /// </summary>
    public long HeldAt(DateTimeOffset now)
    {
        var flags = Volatile.Read(ref _flags);
        return (flags & (CancelledFlag | UncertainFlag)) != 0 || !((flags & PaidFlag) != 0 || DeadlineTicks > now.UtcTicks)
            ? 0
            : Math.Max(0, Quantity - RefundedUnits);
    }
}

/// <summary>A refund of an acknowledged order (its index among them); its id is formatted from the order's (<see cref="Workload.RefundId"/>).</summary>
public struct TrackedRefund(int order, int quantity)
{
    private int _accepted;

    public readonly int Order = order;
    public readonly int Quantity = quantity;

    /// <summary>At least one delivery was acknowledged: the engine owes this refund a finish.</summary>
    public bool Accepted => Volatile.Read(ref _accepted) == 1;

    /// <summary>Records an acknowledgement; true for the first one only.</summary>
    public bool MarkAccepted() => Interlocked.Exchange(ref _accepted, 1) == 0;
}

/// <summary>
/// The users of a scenario: buyers reserve (SKUs drawn by a Zipf law), pay or cancel; the warehouse ships; the
/// back office refunds (several deliveries, sometimes raced by an ERP restock); merchants restock by hand and
/// search the ledger. Every choice comes from the caller's seeded random source.
/// </summary>
public sealed class Workload
{
    private readonly Scenario _scenario;
    private readonly ITarget _target;
    private readonly Metrics _metrics;
    private readonly double[] _skuCdf;
    private readonly int[] _mixCdf;
    // Acknowledged orders by index (see Acknowledged).
    private readonly ConcurrentQueue<int> _reserved = new();
    // Only a mix that pays or cancels takes orders from the queue above; otherwise (hot-sku-bench) it would grow all run.
    private readonly bool _queueReserved;
    private readonly ConcurrentQueue<int> _paid = new();
    private long _orders;
    private long _attempts;

    public Workload(Scenario scenario, ITarget target, Metrics metrics)
    {
        _scenario = scenario;
        _target = target;
        _metrics = metrics;
        Skus = Enumerable.Range(0, scenario.Skus).Select(i => $"{scenario.Name}-sku-{i}").ToArray();
        Shops = Enumerable.Range(0, scenario.Shops).Select(i => $"{scenario.Name}-shop-{i}").ToArray();
        var weights = Enumerable.Range(1, scenario.Skus).Select(rank => 1 / Math.Pow(rank, scenario.Zipf)).ToArray();
        var sum = weights.Sum();
        var acc = 0.0;
        _skuCdf = weights.Select(w => acc += w / sum).ToArray();
        var m = scenario.Mix;
        var runningTotal = 0;
        _mixCdf = new[] { m.Reserve, m.Pay, m.Cancel, m.Ship, m.Refund, m.ManualRestock, m.LedgerQuery }.Select(w => runningTotal += w).ToArray();
        _queueReserved = m.Pay + m.Cancel > 0;
    }

    public string[] Skus { get; }

    public string[] Shops { get; }

    /// <summary>Every reservation the engine acknowledged, in the order acknowledged; the run refers to one by its index.</summary>
    public TrackedValues<TrackedOrder> Acknowledged { get; } = new();

    /// <summary>Every refund sent, acknowledged or not.</summary>
    public TrackedValues<TrackedRefund> Refunds { get; } = new();

    /// <summary>The id an order is sent with: made from its number only when a command is sent, kept nowhere.</summary>
    public string OrderId(long number) => $"{_scenario.Name}-o{number}";

    /// <summary>The id of the refund of an order (one per order: a paid order is refunded at most once).</summary>
    public string RefundId(long orderNumber) => $"rf-{OrderId(orderNumber)}";

    /// <summary>One earlier refund at random (its index).</summary>
    private bool TryPickRefund(Random random, out int refund)
    {
        var count = Refunds.Count;
        refund = count > 0 ? random.Next(count) : -1;
        return count > 0;
    }

    public long Attempts => Interlocked.Read(ref _attempts);

    private long _peakOversold;
    private long _oversoldSamples;

    /// <summary>The most oversold units one sample saw during the run (see <see cref="Invariants.Oversold"/>).</summary>
    public long PeakOversold => Interlocked.Read(ref _peakOversold);

    public long OversoldSamples => Interlocked.Read(ref _oversoldSamples);

    public void RecordOversoldSample(long units)
    {
        Interlocked.Increment(ref _oversoldSamples);
        for (var peak = PeakOversold; units > peak; peak = PeakOversold)
            if (Interlocked.CompareExchange(ref _peakOversold, units, peak) == peak) return;
    }

    /// <summary>Stocks every SKU and sets each shop's switch: the first share of shops restock automatically.</summary>
    public async Task SetUpAsync()
    {
        var on = (int)Math.Round(Shops.Length * _scenario.AutoRestockShare);
        for (var i = 0; i < Shops.Length; i++)
        {
            var shop = Shops[i];
            var autoRestock = i < on;
            await Require(() => _target.SetAutoRestock(shop, autoRestock), "switch of " + shop);
        }
        foreach (var chunk in Skus.Select((sku, index) => (Sku: sku, Shop: ShopOf(index))).Chunk(256))
            await Task.WhenAll(chunk.Select(s => Require(() => _target.SetStock(s.Shop, s.Sku, "initial-" + s.Sku, _scenario.StockPerSku), "initial stock of " + s.Sku)));
    }

    /// <summary>The shop that owns the SKU at <paramref name="skuIndex"/>: its orders and refunds name that shop.</summary>
    private string ShopOf(int skuIndex) => Shops[ShopIndexOf(skuIndex)];

    private int ShopIndexOf(int skuIndex) => skuIndex % Shops.Length;

    public Task ToggleSwitchesAsync(bool on) => Task.WhenAll(Shops.Select(shop => _metrics.Time("switch", () => _target.SetAutoRestock(shop, on))));

    /// <summary>Claims the right to start one more request; false once the scenario's attempt budget is spent.</summary>
    public bool TryStart() => _scenario.Attempts == 0 || Interlocked.Increment(ref _attempts) <= _scenario.Attempts;

    /// <summary>
    /// One user's next step. Every random choice is drawn before the step's first wait, so the open model's generator
    /// can run steps on its one thread with one random source (no source per arrival). <paramref name="dueAt"/>: when the
    /// open model meant the step to start (a Stopwatch timestamp; 0 under the closed model), which its requests are timed from.
    /// </summary>
    /// <param name="arrivals">The open model's arrivals in flight: the step is counted there until it ends, and a failure is
    /// reported there (the task returned then does not fail).</param>
    public Task StepAsync(Random random, long dueAt = 0, ArrivalsInFlight? arrivals = null)
    {
        var roll = random.Next(_mixCdf[^1]);
        // A loop, not Array.FindIndex: its predicate would capture the roll, a closure and a delegate per arrival.
        var kind = 0;
        while (roll >= _mixCdf[kind]) kind++;
        return kind switch
        {
            1 when _reserved.TryDequeue(out var order) => Counted(PayAsync(order, dueAt), arrivals),
            2 when _reserved.TryDequeue(out var order) => Counted(CancelAsync(order, dueAt), arrivals),
            3 when _paid.TryDequeue(out var order) => Counted(ShipAsync(order, dueAt), arrivals),
            4 when _paid.TryDequeue(out var order) => Counted(RefundAsync(order, random, dueAt), arrivals),
            5 when TryPickRefund(random, out var refund) => Counted(ManualRestockAsync(refund, dueAt), arrivals),
            6 => Counted(LedgerQueryAsync(random, dueAt), arrivals),
            _ => ReserveAsync(random, dueAt, arrivals),
        };
    }

    private static Task Counted(Task step, ArrivalsInFlight? arrivals)
    {
        arrivals?.Track(step);
        return step;
    }

    /// <summary>
    /// The hot path counts itself among the arrivals (see <see cref="ArrivalsInFlight.Starting"/>), in its own state machine:
    /// no continuation per arrival.
    /// </summary>
    private async Task ReserveAsync(Random random, long dueAt, ArrivalsInFlight? arrivals)
    {
        arrivals?.Starting();
        try
        {
            var drawn = Array.BinarySearch(_skuCdf, random.NextDouble());
            var index = Math.Min(Skus.Length - 1, drawn < 0 ? ~drawn : drawn);
            var quantity = (int)random.NextInt64(1, _scenario.MaxQuantity + 1);
            var number = Interlocked.Increment(ref _orders);
            var deadline = DateTimeOffset.UtcNow + _scenario.Window;
            // Timed here, not through Metrics.Time: its state machine was a box of ~150 B per reservation.
            var start = Metrics.StartOf(dueAt);
            var result = await _target.Reserve(Skus[index], OrderId(number), quantity, _scenario.Window);
            _metrics.Record("reserve", start, result);
            // Tracked once acknowledged: in a sale most reserves of the hottest SKUs are refused as sold out.
            if (!result.Ok) return;
            var order = Acknowledged.Add(new TrackedOrder(number, index, ShopIndexOf(index), quantity, deadline));
            if (_queueReserved) _reserved.Enqueue(order);
        }
        catch (Exception e) when (arrivals is not null)
        {
            arrivals.Failed(e);
        }
        finally
        {
            arrivals?.Finished();
        }
    }

    private async Task PayAsync(int index, long dueAt)
    {
        var result = await _metrics.Time("pay", (Workload: this, Index: index), static s => s.Workload.Send(s.Index, static (t, sku, id) => t.Pay(sku, id)), dueAt);
        if (result.Status == OpStatus.Failed) Acknowledged[index].MarkUncertain();
        if (!result.Ok) return;
        Acknowledged[index].MarkPaid();
        _paid.Enqueue(index);
    }

    private async Task CancelAsync(int index, long dueAt)
    {
        var result = await _metrics.Time("cancel", (Workload: this, Index: index), static s => s.Workload.Send(s.Index, static (t, sku, id) => t.Cancel(sku, id)), dueAt);
        if (result.Ok) Acknowledged[index].MarkCancelled();
        if (result.Status == OpStatus.Failed) Acknowledged[index].MarkUncertain();
    }

    private async Task ShipAsync(int index, long dueAt)
    {
        var result = await _metrics.Time("ship", (Workload: this, Index: index), static s => s.Workload.Send(s.Index, static (t, sku, id) => t.Ship(sku, id)), dueAt);
        if (result.Status == OpStatus.Failed) Acknowledged[index].MarkUncertain();
    }

    /// <summary>A command about an acknowledged order, sent with its SKU and its id.</summary>
    private Task<OpResult> Send(int index, Func<ITarget, string, string, Task<OpResult>> command)
    {
        var order = Acknowledged[index];
        return command(_target, Skus[order.Sku], OrderId(order.Number));
    }

    /// <summary>A refund delivered <see cref="Scenario.RefundCopies"/> times at once, sometimes raced by the ERP's own restock.</summary>
    private async Task RefundAsync(int index, Random random, long dueAt)
    {
        var order = Acknowledged[index];
        var quantity = (int)random.NextInt64(1, order.Quantity + 1);
        var refund = Refunds.Add(new TrackedRefund(index, quantity));
        var (refundId, orderId, shop, sku) = (RefundId(order.Number), OrderId(order.Number), Shops[order.Shop], Skus[order.Sku]);
        var deliveries = Enumerable.Range(0, _scenario.RefundCopies)
            .Select(async _ =>
            {
                var result = await _metrics.Time("refund", () => _target.Refund(refundId, orderId, shop, sku, quantity), dueAt);
                if (result.Ok && Refunds[refund].MarkAccepted()) Acknowledged[index].Refunded(quantity);
                return result;
            })
            .ToList();
        if (random.NextDouble() < _scenario.ErpRaceShare)
            deliveries.Add(_metrics.Time("erp restock", () => _target.ErpRestock(shop, refundId, orderId, sku, quantity), dueAt));
        await Task.WhenAll(deliveries);
    }

    private Task ManualRestockAsync(int refund, long dueAt)
    {
        var order = Acknowledged[Refunds[refund].Order];
        var (shop, refundId, sku) = (Shops[order.Shop], RefundId(order.Number), Skus[order.Sku]);
        return _metrics.Time("manual restock", () => _target.ManualRestock(shop, refundId, sku), dueAt);
    }

    private Task LedgerQueryAsync(Random random, long dueAt)
    {
        if (random.Next(2) == 0 && TryPickRefund(random, out var refund))
        {
            var orderId = OrderId(Acknowledged[Refunds[refund].Order].Number);
            return _metrics.Time("ledger query", () => _target.LedgerQuery(orderId, null), dueAt);
        }
        var sku = Skus[random.Next(Skus.Length)];
        return _metrics.Time("ledger query", () => _target.LedgerQuery(null, sku), dueAt);
    }

    // A set-up step is idempotent (a switch set to a value, a stock by its adjustment id), so one whose outcome is unknown
    // (failed, e.g. an ask timeout while a loaded machine starts thousands of SKUs) is sent again; a refusal is final.
    private const int SetUpAttempts = 3;

    private static async Task Require(Func<Task<OpResult>> step, string what)
    {
        for (var attempt = 1; ; attempt++)
        {
            var result = await step();
            if (result.Ok) return;
            if (result.Status != OpStatus.Failed || attempt == SetUpAttempts)
                throw new InvalidOperationException($"set-up failed ({what}, attempt {attempt}): {result.Status} {result.Reason}");
            // An instant failure (a refused connection, a node still starting) is not sent again at once.
            await Task.Delay(TimeSpan.FromMilliseconds(200 * attempt));
        }
    }
}
