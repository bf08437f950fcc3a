using Akka.Actor;
using Restock.Actors.Domain.Inventory;
using Restock.Actors.Domain.Refunds;
using Restock.Actors.Domain.Shops;
using Restock.Actors.Engine.Hosting;
using Restock.Actors.Engine.Inventory;
using Restock.Actors.Engine.Ledger;
using Restock.Actors.Engine.Refunds;

namespace Restock.Actors.Tests.Simulation;

public sealed record Violation(string Invariant, string Detail)
{
    public override string ToString() => $"{Invariant}: {Detail}";
}

/// <summary>The invariants checked after every schedule, by name. A known failure may be excused only by name, with its reason.</summary>
public static class Invariant
{
    public const string NeverNegative = "available-never-negative";
    public const string UnitsConserved = "units-conserved";
    public const string AcknowledgedIsDurable = "acknowledged-is-durable";
    public const string AppliedOnce = "applied-at-most-once";
    public const string RepeatsAnswerTheSame = "repeats-answer-the-same";
    public const string RecoveryMatchesJournal = "recovery-matches-journal";
    public const string RestockedAtMostOnce = "restocked-at-most-once";
    public const string RestockedWhenDue = "restocked-when-due";
    public const string RefundsFinish = "refunds-finish-or-park";
    public const string ExpiryHappens = "deadlines-release";
    public const string LedgerMatchesStock = "ledger-matches-stock";
}

/// <summary>Reads the journal, the live actors and the ledger after a quiesced schedule and says what does not hold.</summary>
public static class SimInvariants
{
    /// <summary>Refusals a refund line may end with for good: nothing later can change them.</summary>
    private static readonly HashSet<string> FinalRefusals =
        [nameof(RejectionCode.AlreadyShipped), nameof(RejectionCode.RefundExceedsRemaining), nameof(RejectionCode.AlreadyRefunded)];

    /// <summary>What a repeat of an acknowledged command may answer besides "already done": the truth about a line that closed since.</summary>
    private static readonly HashSet<string> TruthfulRepeatRefusals =
        [nameof(RejectionCode.AlreadyReleased), nameof(RejectionCode.AlreadyShipped), nameof(RejectionCode.AlreadyRefunded), "ReservationReleased"];

    private sealed record SkuJournal(IReadOnlyList<SkuEvent> Events, SkuState State);

    public static async Task<IReadOnlyList<Violation>> CheckAsync(ScheduleRun run, ISimHost host)
    {
        var v = new List<Violation>();
        var engine = host.Engine;
        var ids = run.Ids;
        var skus = run.Schedule.ShopOfSku.Keys.ToList();

        foreach (var call in run.SkuCalls)
        foreach (var answer in call.Answers)
            if (Negative(answer.Levels))
                v.Add(new(Invariant.NeverNegative, $"{call.Sku} answered {call.Command} with {answer.Levels}"));

        var journals = new Dictionary<string, SkuJournal>();
        // Judge a quiet SKU: on a slow machine a refund retry may still be on its way. Quiet means the running
        // actor's levels equal the fold of its journal; a SKU that never gets there is reported below.
        var quiet = await Task.WhenAll(skus.Select(sku => QuietJournal(engine, ids.Of(sku))));
        foreach (var (sku, events) in skus.Zip(quiet))
        {
            var state = SkuState.Empty();
            var seq = 0;
            try
            {
                foreach (var e in events)
                {
                    seq++;
                    state = SkuStock.Apply(state, e);
                    if (Negative(state.Levels)) v.Add(new(Invariant.NeverNegative, $"{sku} journal event {seq} ({e}) leaves {state.Levels}"));
                }
            }
            catch (Exception e)
            {
                v.Add(new(Invariant.RecoveryMatchesJournal, $"{sku}: the journal does not replay at event {seq}: {e.Message}"));
            }
            journals[sku] = new SkuJournal(events, state);
            var l = state.Levels;
            if (l.Available + l.Reserved + l.Committed + l.Shipped + l.Refunded != state.Stocked + l.Restocked)
                v.Add(new(Invariant.UnitsConserved, $"{sku}: {l} but stocked {state.Stocked}"));
            var overdue = state.OpenLines.Values.Where(o => o.Status == LineStatus.Reserved && o.PaymentDeadline < DateTimeOffset.UtcNow.AddSeconds(-1)).ToList();
            if (overdue.Count > 0)
                v.Add(new(Invariant.ExpiryHappens, $"{sku}: {overdue.Count} reservations past their deadline still held ({overdue[0].OrderId})"));
        }

        foreach (var call in run.SkuCalls)
        {
            var events = journals[call.Sku].Events;
            if (call.Acknowledged && !Durable(call.Command, events))
                v.Add(new(Invariant.AcknowledgedIsDurable, $"{call.Sku}: {call.Command} was acknowledged ({Outcomes(call)}) but its event is not in the journal"));
        }
        foreach (var group in run.SkuCalls.GroupBy(c => (c.Sku, Key(c.Command))))
        {
            var done = group.Sum(c => c.Answers.Count(a => a.Outcome == SkuOutcome.Done));
            if (done > 1) v.Add(new(Invariant.AppliedOnce, $"{group.Key.Sku}: {group.Key.Item2} answered Done {done} times"));
        }
        foreach (var (sku, journal) in journals)
        {
            foreach (var twice in journal.Events.Where(e => e is not ReservationReleased).GroupBy(EventKey).Where(g => g.Count() > 1))
                v.Add(new(Invariant.AppliedOnce, $"{sku}: the journal holds {twice.Count()} events {twice.Key}"));
            foreach (var twice in journal.Events.Select(RestockOf).OfType<string>().GroupBy(r => r).Where(g => g.Count() > 1))
                v.Add(new(Invariant.RestockedAtMostOnce, $"{sku}: refund {twice.Key} restocked {twice.Count()} times"));
        }

        foreach (var refund in run.RefundCalls.GroupBy(c => c.Request.RefundId))
        {
            var accepted = refund.Sum(c => c.Answers.Count(a => a.Outcome == RefundOutcome.Accepted));
            if (accepted > 1) v.Add(new(Invariant.AppliedOnce, $"refund {refund.Key} answered Accepted {accepted} times"));
        }
        await CheckRefunds(run, host, journals, v);

        // Every SKU once more from its snapshot and journal (a crash now): the live state must be the durable one.
        var running = await Task.WhenAll(skus.Select(sku => Stock(engine, ids.Of(sku))));
        foreach (var (sku, live) in skus.Zip(running))
        {
            if (live is not null && live != journals[sku].State.Levels)
                v.Add(new(Invariant.RecoveryMatchesJournal, $"{sku}: the running actor says {live}, its journal {journals[sku].State.Levels}"));
            engine.System.ActorSelection($"/system/sharding/sku/*/{ids.Of(sku)}").Tell(PoisonPill.Instance);
        }
        var recoveredLevels = await Task.WhenAll(skus.Select(sku => Stock(engine, ids.Of(sku))));
        foreach (var (sku, recovered) in skus.Zip(recoveredLevels))
        {
            if (recovered is not null && recovered != journals[sku].State.Levels)
                v.Add(new(Invariant.RecoveryMatchesJournal, $"{sku}: recovered as {recovered}, its journal says {journals[sku].State.Levels}"));
        }

        await CheckRepeats(run, engine, journals, v);
        if (host.HasLedger) await CheckLedger(run, engine, journals, v);
        return v;
    }

    private static async Task<List<SkuEvent>> QuietJournal(RestockEngine engine, string sku)
    {
        var events = new List<SkuEvent>();
        for (var attempt = 0; attempt < 75; attempt++)
        {
            events = (await JournalReader.ReadAsync(engine.System, SkuActor.PersistenceIdFor(sku))).SelectMany(SkuEventBatch.Expand).ToList();
            var live = await Stock(engine, sku);
            try
            {
                if (live == SkuStock.ApplyAll(SkuState.Empty(), events).Levels) return events;
            }
            catch (Exception)
            {
                return events;
            }
            await Task.Delay(200);
        }
        return events;
    }

    private static async Task CheckRefunds(ScheduleRun run, ISimHost host, Dictionary<string, SkuJournal> journals, List<Violation> v)
    {
        var engine = host.Engine;
        var refunds = run.RefundCalls.Where(c => c.Acknowledged).DistinctBy(c => c.Request.RefundId).Select(c => c.Request).ToList();
        var seen = await Task.WhenAll(refunds.Select(async refund =>
            (Journal: await JournalReader.ReadAsync(engine.System, "refunds-" + refund.OrderId),
                Status: (await Ask(() => engine.Refunds.Get(refund.OrderId, refund.RefundId)))?.Status)));
        foreach (var (refund, (received, status)) in refunds.Zip(seen))
        {
            if (!received.OfType<RefundReceived>().Any(r => r.Refund.RefundId == refund.RefundId))
                v.Add(new(Invariant.AcknowledgedIsDurable, $"refund {refund.RefundId} was acknowledged but is not in its coordinator's journal"));

            // Parked as "needs attention" is a visible end too: the refund's status and the shop's list show it.
            if (status is null || !(status.Finished || status.NeedsAttention))
            {
                v.Add(new(Invariant.RefundsFinish, $"refund {refund.RefundId} is not finished: {Describe(status)}"));
                continue;
            }
            foreach (var line in status.Lines)
            {
                var sku = line.SkuId[(line.SkuId.IndexOf('_') + 1)..];
                if (line.Outcome == LineOutcome.Rejected && !FinalRefusals.Contains(line.Code ?? ""))
                    v.Add(new(Invariant.RefundsFinish, $"refund {refund.RefundId} on {sku} ended refused with {line.Code}, which is not final ({line.Message})"));
                if (line.Outcome != LineOutcome.Applied || !journals.TryGetValue(sku, out var journal)) continue;
                if (!journal.Events.OfType<LineRefunded>().Any(e => e.RefundId == refund.RefundId))
                    v.Add(new(Invariant.AcknowledgedIsDurable, $"refund {refund.RefundId} on {sku} is settled as applied but the SKU's journal has no LineRefunded"));
                if (status.Restock == true && !journal.Events.Any(e => RestockOf(e) == refund.RefundId))
                    v.Add(new(Invariant.RestockedWhenDue, $"refund {refund.RefundId} on {sku} was decided with restock on (setting v{status.SettingVersion}) but never restocked"));
            }
        }
    }

    private static async Task CheckRepeats(ScheduleRun run, RestockEngine engine, Dictionary<string, SkuJournal> journals, List<Violation> v)
    {
        var before = await Counts(run, engine, journals.Keys);
        var repeats = run.SkuCalls.Where(c => c.Acknowledged).ToList();
        var replies = await Task.WhenAll(repeats.Select(call => Ask(() => engine.Inventory.Execute(run.Ids.Of(call.Sku), call.Command))));
        foreach (var (call, reply) in repeats.Zip(replies))
        {
            if (reply is null)
                v.Add(new(Invariant.RepeatsAnswerTheSame, $"{call.Sku}: a repeat of {call.Command} got no answer"));
            else if (reply.Outcome == SkuOutcome.Done)
                v.Add(new(Invariant.RepeatsAnswerTheSame, $"{call.Sku}: a repeat of acknowledged {call.Command} was applied again"));
            else if (reply.Outcome == SkuOutcome.Rejected && !TruthfulRepeatRefusals.Contains(reply.Rejection?.ToString() ?? ""))
                v.Add(new(Invariant.RepeatsAnswerTheSame,
                    $"{call.Sku}: acknowledged {call.Command} ({Outcomes(call)}) answered {reply.Rejection} when repeated: {reply.Message}"));
        }
        var refunds = run.RefundCalls.Where(c => c.Acknowledged).DistinctBy(c => c.Request.RefundId).ToList();
        var refundReplies = await Task.WhenAll(refunds.Select(call => Ask(() => engine.Refunds.Submit(call.Request))));
        foreach (var (call, reply) in refunds.Zip(refundReplies))
        {
            if (reply?.Outcome != RefundOutcome.AlreadyReceived)
                v.Add(new(Invariant.RepeatsAnswerTheSame, $"refund {call.Request.RefundId} repeated answered {reply?.Outcome.ToString() ?? "nothing"}"));
        }
        var after = await Counts(run, engine, journals.Keys);
        foreach (var sku in journals.Keys)
            if (after[sku] != before[sku])
                v.Add(new(Invariant.RepeatsAnswerTheSame, $"{sku}: repeating acknowledged commands wrote {after[sku] - before[sku]} events"));
    }

    private static async Task<Dictionary<string, int>> Counts(ScheduleRun run, RestockEngine engine, IEnumerable<string> skus)
    {
        var list = skus.ToList();
        var counts = await Task.WhenAll(list.Select(async sku => (await JournalReader.ReadAsync(engine.System, SkuActor.PersistenceIdFor(run.Ids.Of(sku)))).Count));
        return list.Zip(counts).ToDictionary(p => p.Item1, p => p.Item2);
    }

    private static async Task CheckLedger(ScheduleRun run, RestockEngine engine, Dictionary<string, SkuJournal> journals, List<Violation> v)
    {
        foreach (var (sku, journal) in journals)
        {
            var expected = journal.Events.Select(LedgerRowOf).OfType<(string, long, RestockTrigger)>().OrderBy(r => r.Item1).ToList();
            List<(string, long, RestockTrigger)> rows = [];
            for (var wait = 0; wait < 50; wait++)
            {
                rows = (await AllPages(engine.Ledger, new LedgerQuery(SkuId: run.Ids.Of(sku), Limit: LedgerQuery.MaxLimit)))
                    .Select(e => (e.RefundId, e.Quantity, e.Trigger)).OrderBy(r => r.RefundId).ToList();
                if (rows.SequenceEqual(expected)) break;
                await Task.Delay(200);
            }
            if (!rows.SequenceEqual(expected))
                v.Add(new(Invariant.LedgerMatchesStock, $"{sku}: ledger [{string.Join(", ", rows)}], journal restocks [{string.Join(", ", expected)}]"));
            if (rows.Sum(r => r.Item2) != journal.State.Levels.Restocked)
                v.Add(new(Invariant.LedgerMatchesStock, $"{sku}: ledger holds {rows.Sum(r => r.Item2)} units, the SKU restocked {journal.State.Levels.Restocked}"));
        }
    }

    private static async Task<List<RestockEntry>> AllPages(LedgerStore ledger, LedgerQuery query)
    {
        var all = new List<RestockEntry>();
        for (long? cursor = null; ;)
        {
            var page = await ledger.SearchAsync(query with { Cursor = cursor });
            all.AddRange(page.Entries);
            if (page.NextCursor is null) return all;
            cursor = page.NextCursor;
        }
    }

    private static (string, long, RestockTrigger)? LedgerRowOf(SkuEvent e) => e switch
    {
        LineRefunded { Restock: RefundRestock.Restocked } r => (r.RefundId, r.Quantity, RestockTrigger.Auto),
        RefundRestocked r => (r.RefundId, r.Quantity, r.Trigger),
        _ => null,
    };

    private static string? RestockOf(SkuEvent e) => e switch
    {
        LineRefunded { Restock: RefundRestock.Restocked } r => r.RefundId,
        RefundRestocked r => r.RefundId,
        _ => null,
    };

    /// <summary>The id an event is unique by (one reservation, payment, shipment per order line; one adjustment per id).</summary>
    private static string EventKey(SkuEvent e) => e switch
    {
        StockAdjusted a => "adjustment " + a.AdjustmentId,
        StockReserved r => "reservation " + r.OrderId,
        PaymentConfirmed p => "payment " + p.OrderId,
        LineShipped s => "shipment " + s.OrderId,
        LineRefunded r => "refund " + r.RefundId,
        RefundRestocked r => "restock request " + r.RefundId,
        _ => e.ToString(),
    };

    private static string Key(SkuCommand c) => c switch
    {
        SetStock s => "adjustment " + s.AdjustmentId,
        AdjustStock a => "adjustment " + a.AdjustmentId,
        Reserve r => "reserve " + r.OrderId,
        Release r => "release " + r.OrderId,
        ConfirmPayment p => "payment " + p.OrderId,
        Ship s => "ship " + s.OrderId,
        RestockRefund r => "restock " + r.RefundId,
        _ => c.ToString(),
    };

    /// <summary>The event an acknowledged command stands for ("already done" included: then it was written earlier).</summary>
    private static bool Durable(SkuCommand c, IReadOnlyList<SkuEvent> events) => c switch
    {
        SetStock s => events.OfType<StockAdjusted>().Any(e => e.AdjustmentId == s.AdjustmentId),
        AdjustStock a => events.OfType<StockAdjusted>().Any(e => e.AdjustmentId == a.AdjustmentId),
        Reserve r => events.OfType<StockReserved>().Any(e => e.OrderId == r.OrderId),
        Release r => events.OfType<ReservationReleased>().Any(e => e.OrderId == r.OrderId),
        ConfirmPayment p => events.OfType<PaymentConfirmed>().Any(e => e.OrderId == p.OrderId),
        Ship s => events.OfType<LineShipped>().Any(e => e.OrderId == s.OrderId),
        RestockRefund r => events.Any(e => RestockOf(e) == r.RefundId),
        _ => true,
    };

    private static bool Negative(StockLevels l) =>
        l.Available < 0 || l.Reserved < 0 || l.Committed < 0 || l.Shipped < 0 || l.Refunded < 0 || l.Restocked < 0;

    private static string Outcomes(SkuCall call) => string.Join("/", call.Answers.Select(a => a.Rejection?.ToString() ?? a.Outcome.ToString()));

    private static string Describe(RefundStatus? s) => s is null
        ? "no status"
        : $"restock {s.Restock?.ToString() ?? "undecided"}, lines [{string.Join(", ", s.Lines.Select(l => $"{l.SkuId}: {l.Outcome?.ToString() ?? "open"} {l.Code}"))}]";

    private static async Task<StockLevels?> Stock(RestockEngine engine, string sku) => (await Ask(() => engine.Inventory.GetStock(sku)))?.Levels;

    private static async Task<T?> Ask<T>(Func<Task<T>> ask) where T : class
    {
        for (var attempt = 0; attempt < 20; attempt++)
        {
            try
            {
                return await ask();
            }
            catch (Exception)
            {
                await Task.Delay(200);
            }
        }
        return null;
    }
}
