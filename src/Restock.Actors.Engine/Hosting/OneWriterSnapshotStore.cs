using Akka.Persistence;
using Akka.Persistence.Sql.Config;
using Akka.Persistence.Sql.Snapshot;
using Config = Akka.Configuration.Config;

namespace Restock.Actors.Engine.Hosting;

/// <summary>
/// Akka.Persistence.Sql's snapshot store whose writes on SQLite take the file's one writer in turn with every other write of
/// the engine's to that file (<see cref="SqliteWriter"/>; the journal's only if the store is set to the journal's file, its
/// own file being the default), saves serialized before their turn (<see cref="SqliteSnapshotWrites"/>): a write then waits
/// for a snapshot's insert and commit only, holding no thread, instead of sleeping in Microsoft.Data.Sqlite's busy retries.
/// Elsewhere it is the plugin's store.
/// </summary>
public abstract class OneWriterSnapshotStore : SqlSnapshotStore
{
    private readonly SqliteSnapshotWrites? _sqlite;

    protected OneWriterSnapshotStore(Config snapshotConfig) : base(snapshotConfig)
    {
        _sqlite = SqliteSnapshotWrites.For(Context.System.Serialization, new SnapshotConfig(snapshotConfig),
            // The timeout Akka's breaker applies: the plugin's own setting, else the snapshot stores' fallback.
            snapshotConfig.WithFallback(Context.System.Settings.Config.GetConfig("akka.persistence.snapshot-store-plugin-fallback"))
                .GetTimeSpan("circuit-breaker.call-timeout"));
    }

    /// <summary>
    /// The plugin's delete builds its linq2db query on first use, and a delete runs inside the writer's turn: the first one
    /// after a start held every journal write ~150 ms (a SKU's first snapshot under load, or after a crash's replay). One
    /// delete that matches nothing, at start and outside the turn, builds it first; it only warms, so its outcome is ignored.
    /// </summary>
    protected override void PreStart()
    {
        base.PreStart();
        if (_sqlite is not null)
            base.DeleteAsync("restock-snapshot-store-start", new SnapshotSelectionCriteria(-1), CancellationToken.None)
                .ContinueWith(static t => t.Exception, TaskContinuationOptions.OnlyOnFaulted);
    }

    protected override Task SaveAsync(SnapshotMetadata metadata, object snapshot, CancellationToken cancellationToken) =>
        _sqlite is null ? base.SaveAsync(metadata, snapshot, cancellationToken) : _sqlite.SaveAsync(metadata, snapshot, cancellationToken);

    protected override Task DeleteAsync(SnapshotMetadata metadata, CancellationToken cancellationToken) =>
        _sqlite is null
            ? base.DeleteAsync(metadata, cancellationToken)
            : SqliteWriter.RunAsync(_sqlite.ConnectionString, () => base.DeleteAsync(metadata, cancellationToken), cancellationToken);

    /// <summary>
    /// On SQLite, one row per writers' turn, oldest first, the criteria's own delete last: freeing a row walks every page
    /// of it, and the older parts of a large SKU's snapshots (up to 32 rows of ~0.46 MB) deleted in one statement held every
    /// journal write up to 500 ms under load (PERFORMANCE-LOG "Goal 3, session 14") when the snapshots shared the journal's
    /// file, as they still do in memory or in a <c>file:</c> URI; a journal write there, and a snapshot save in a file of
    /// the snapshots' own, now waits for one row at most. Only rows the criteria select go; a delete stopped between rows leaves older rows that no head reads, and
    /// the entity's next delete (after its next save) takes them.
    /// </summary>
    protected override async Task DeleteAsync(string persistenceId, SnapshotSelectionCriteria criteria, CancellationToken cancellationToken)
    {
        if (_sqlite is null)
        {
            await base.DeleteAsync(persistenceId, criteria, cancellationToken);
            return;
        }
        var keys = await _sqlite.KeysAsync(persistenceId, criteria.MaxSequenceNr, cancellationToken);
        // No row the criteria could select: no turn to take. Rows come only from saves, committed before they are answered,
        // and an entity deletes below a save it was answered for; a row still being saved below it is left for the next
        // delete, as a row left by a stopped delete is.
        if (keys.Count == 0) return;
        for (var i = 0; i < keys.Count - 1; i++)
        {
            var upTo = new SnapshotSelectionCriteria(keys[i], criteria.MaxTimeStamp, criteria.MinSequenceNr, criteria.MinTimestamp);
            await SqliteWriter.RunAsync(_sqlite.ConnectionString, () => base.DeleteAsync(persistenceId, upTo, cancellationToken), cancellationToken);
        }
        await SqliteWriter.RunAsync(_sqlite.ConnectionString, () => base.DeleteAsync(persistenceId, criteria, cancellationToken), cancellationToken);
    }
}
