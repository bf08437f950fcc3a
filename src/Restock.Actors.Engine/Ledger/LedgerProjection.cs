using Akka.Actor;
using Akka.Event;
using Akka.Persistence.Query;
using Akka.Persistence.Sql.Query;
using Akka.Streams;
using Akka.Streams.Dsl;
using Restock.Actors.Domain.Inventory;
using Restock.Actors.Engine.Inventory;

namespace Restock.Actors.Engine.Ledger;

/// <summary>
/// Feeds the restock ledger from the journal: tagged SKU events from the stored offset on, in batches, each batch
/// written with its offset in one transaction. It fails loudly and is restarted (with backoff) by its supervisor;
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
        var log = Context.GetLogger();
        ReceiveAsync<Start>(async start =>
        {
            await store.EnsureSchemaAsync();
            var offset = await store.ReadOffsetAsync(Name);
            var journal = PersistenceQuery.Get(Context.System).ReadJournalFor<SqlReadJournal>(settings.ReadJournal);
            log.Info("Restock ledger projection starts after journal offset {0}", offset);
            _ = journal.EventsByTag(ILedgerEvent.Tag, Offset.Sequence(offset))
                .Where(e => e.Event is ILedgerEvent)
                .Select(e => new LedgerStore.Change(((Sequence)e.Offset).Value, SkuActor.SkuIdOf(e.PersistenceId), (ILedgerEvent)e.Event))
                .GroupedWithin(settings.BatchSize, settings.BatchWindow)
                .SelectAsync(1, async batch =>
                {
                    await store.WriteAsync(Name, batch.ToList());
                    return batch.Count();
                })
                .RunWith(Sink.Ignore<int>(), Context.Materializer())
                .PipeTo(Self, success: () => StreamEnded.Instance);
        });
        Receive<StreamEnded>(_ => throw new InvalidOperationException("the ledger's event stream ended; restarting it"));
        Receive<Status.Failure>(f => throw new InvalidOperationException("the ledger projection failed; restarting it", f.Cause));
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
