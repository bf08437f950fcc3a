using System.Data.Common;
using Akka.Persistence;
using Akka.Persistence.Sql.Config;
using Akka.Persistence.Sql.Snapshot;
using Config = Akka.Configuration.Config;

namespace Restock.Actors.Engine.Hosting;

/// <summary>
/// Akka.Persistence.Sql's snapshot store, where a recovering entity first learns in a query shared with every entity
/// recovering at once whether it has any snapshot. Most SKUs never take one (a SKU snapshots after thousands of events),
/// so their load is answered without a query of its own and without occupying the store's actor; the others load
/// through the plugin as before.
/// </summary>
public sealed class BatchedRecoverySnapshotStore : OneWriterSnapshotStore
{
    private readonly RecoveryReads<string, bool>? _hasSnapshot;
    private readonly CancellationTokenSource _stopping = new();

    public BatchedRecoverySnapshotStore(Config snapshotConfig) : base(snapshotConfig)
    {
        var config = new SnapshotConfig(snapshotConfig);
        if (!RecoveryReads.Supports(config.ProviderName)) return;
        var table = config.TableConfig.SnapshotTable;
        var id = RecoveryReads.Quote(table.ColumnNames.PersistenceId);
        var sql = $"SELECT DISTINCT {id} FROM {RecoveryReads.Table(config.TableConfig.SchemaName, table.Name)} WHERE {id}";
        DbConnection Connect() => RecoveryReads.Connect(config.ProviderName, config.ConnectionString);
        _hasSnapshot = new RecoveryReads<string, bool>("has-snapshot",
            (ids, cancel) => RecoveryReads.PerIdAsync(Connect, sql, "", ids, _ => true, false, cancel), RecoveryReads.MaxIdsPerQuery, _stopping.Token);
    }

    protected override async Task<SelectedSnapshot?> LoadAsync(string persistenceId, SnapshotSelectionCriteria criteria, CancellationToken cancellationToken)
    {
        if (_hasSnapshot is not null && !await _hasSnapshot.Read(persistenceId)) return null;
        return await base.LoadAsync(persistenceId, criteria, cancellationToken);
    }

    protected override void PostStop()
    {
        _stopping.Cancel();
        base.PostStop();
    }
}
