using Akka.Persistence;
using Akka.Persistence.Sql.Config;
using Akka.Persistence.Sql.Snapshot;
using Config = Akka.Configuration.Config;

namespace Restock.Actors.Engine.Hosting;

/// <summary>
/// Akka.Persistence.Sql's snapshot store whose writes on SQLite take the file's one writer in turn with the journal's
/// (<see cref="SqliteWriter"/>), saves serialized before their turn (<see cref="SqliteSnapshotWrites"/>): a journal
/// write then waits for a snapshot's insert and commit only, holding no thread, instead of sleeping in Microsoft.Data.Sqlite's
/// busy retries. Elsewhere it is the plugin's store.
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

    protected override Task DeleteAsync(string persistenceId, SnapshotSelectionCriteria criteria, CancellationToken cancellationToken) =>
        _sqlite is null
            ? base.DeleteAsync(persistenceId, criteria, cancellationToken)
            : SqliteWriter.RunAsync(_sqlite.ConnectionString, () => base.DeleteAsync(persistenceId, criteria, cancellationToken), cancellationToken);
}
