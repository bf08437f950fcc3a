using Akka.Actor;
using Akka.Event;
using Akka.Persistence.Query;
using Akka.Persistence.Sql.Query;
using Akka.Streams;
using Akka.Streams.Dsl;
using Restock.Actors.Domain.Inventory;
using Restock.Actors.Domain.Refunds;
using Restock.Actors.Engine.Inventory;

namespace Restock.Actors.Engine.Ledger;

/// <summary>
/// Feeds the restock ledger from the journal: tagged SKU events (and the refund coordinators' "needs attention" events)
/// from their stored offsets on, in batches, each batch written with its offset in one transaction. It fails loudly and is restarted (with backoff) by its supervisor;
/// the stored offset makes a restart resume exactly where the last committed batch ended.
/// </summary>
public sealed class LedgerProjection : ReceiveActor
{
    public const string Name = "restock-ledger";

    private sealed class Start
    {
        public static readonly Start Instance = new();
    }

    private sealed class StreamEnded
    {
        public static readonly StreamEnded Instance = new();
    }

    public LedgerProjection(LedgerStore store, LedgerSettings settings)
    {
        ReceiveAsync<Start>(async _ =>
        {
            await store.EnsureSchemaAsync();
            var journal = PersistenceQuery.Get(Context.System).ReadJournalFor<SqlReadJournal>(settings.ReadJournal);
            await Follow(journal, settings, store, Name, ILedgerEvent.Tag,
                e => e.Event is ILedgerEvent ledgerEvent
                    ? new LedgerStore.Change(((Sequence)e.Offset).Value, SkuActor.SkuIdOf(e.PersistenceId), ledgerEvent)
                    : null,
                batch => store.WriteAsync(Name, batch));
            await Follow(journal, settings, store, AttentionName, IRefundAttentionEvent.Tag,
                e => e.Event is IRefundAttentionEvent attention ? new LedgerStore.AttentionChange(((Sequence)e.Offset).Value, attention) : null,
                batch => store.WriteAttentionAsync(AttentionName, batch));
        });
        Receive<StreamEnded>(_ => throw new InvalidOperationException("a ledger event stream ended; restarting it"));
        Receive<Status.Failure>(f => throw new InvalidOperationException("the ledger projection failed; restarting it", f.Cause));
    }

    /// <summary>Name of the stored offset of the "refunds needing attention" list, fed by the same projection.</summary>
    public const string AttentionName = "refund-attention";

    /// <summary>Feeds one tag's events, from its stored offset on, to <paramref name="write"/> in batches.</summary>
    private async Task Follow<T>(SqlReadJournal journal, LedgerSettings settings, LedgerStore store, string name, string tag,
        Func<EventEnvelope, T?> read, Func<IReadOnlyList<T>, Task> write) where T : class
    {
        var offset = await store.ReadOffsetAsync(name);
        Context.GetLogger().Info("Projection {0} starts after journal offset {1}", name, offset);
        _ = journal.EventsByTag(tag, Offset.Sequence(offset))
            .Select(read)
            .Where(change => change is not null)
            .GroupedWithin(settings.BatchSize, settings.BatchWindow)
            .SelectAsync(1, async batch =>
            {
                var changes = batch.Select(c => c!).ToList();
                await write(changes);
                return changes.Count;
            })
            .RunWith(Sink.Ignore<int>(), Context.Materializer())
            .PipeTo(Self, success: () => StreamEnded.Instance);
    }

    public static Props Props(LedgerStore store, LedgerSettings settings) =>
        Akka.Actor.Props.Create(() => new LedgerProjection(store, settings));

    protected override void PreStart() => Self.Tell(Start.Instance);
}

public sealed record LedgerSettings(bool RunProjection, int BatchSize, TimeSpan BatchWindow, string ReadJournal)
{
    public static LedgerSettings From(Akka.Configuration.Config config)
    {
        var c = config.GetConfig("restock.ledger");
        return new LedgerSettings(c.GetBoolean("projection"), c.GetInt("batch-size"), c.GetTimeSpan("batch-window"),
            "akka.persistence.query.journal.sql");
    }
}
