using System.Data.Common;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace Restock.Actors.Engine.Hosting;

/// <summary>
/// Coalesces the per-entity reads of recovery into one query for many entities. Requests that arrive while a query
/// runs wait for the next one (the read side of group commit), so a burst of activations costs a few queries instead
/// of one per entity, and the plugin's actor that asked is free at once. A second query starts beside the first only
/// when a whole query's worth is already waiting (a backlog, e.g. remember-entities restarting thousands of entities):
/// the database reads in parallel while the first query's rows are turned into events, and batches stay full.
/// </summary>
/// <param name="read">Answers a batch of requests, one result per request, in order.</param>
/// <param name="maxPerQuery">The most requests one query answers: smaller batches answer the first callers sooner.</param>
/// <param name="maxQueries">The most queries under way at once.</param>
internal sealed class RecoveryReads<TRequest, TResult>(
    string name, Func<IReadOnlyList<TRequest>, CancellationToken, Task<TResult[]>> read, int maxPerQuery, CancellationToken stopping,
    int maxQueries = RecoveryReads.MaxQueriesAtOnce)
{
    private readonly object _gate = new();
    private List<(TRequest Request, TaskCompletionSource<TResult> Answer)> _waiting = [];
    private int _readers;

    public Task<TResult> Read(TRequest request)
    {
        var answer = new TaskCompletionSource<TResult>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_gate)
        {
            _waiting.Add((request, answer));
            if (!StartsReader()) return answer.Task;
        }
        _ = Task.Run(ReadWhileWaitingAsync);
        return answer.Task;
    }

    /// <summary>Whether another reader should start now (and counts it); under the gate.</summary>
    private bool StartsReader()
    {
        if (_readers > 0 && (_readers >= maxQueries || _waiting.Count < maxPerQuery)) return false;
        _readers++;
        return true;
    }

    private async Task ReadWhileWaitingAsync()
    {
        while (true)
        {
            // Behind the work already queued (the mailboxes of entities about to ask too), so a burst of activations
            // shares a query instead of the first caller taking one alone; an idle pool comes straight back.
            await Task.Yield();
            List<(TRequest Request, TaskCompletionSource<TResult> Answer)> batch;
            var another = false;
            lock (_gate)
            {
                if (_waiting.Count == 0)
                {
                    _readers--;
                    return;
                }
                var take = Math.Min(_waiting.Count, maxPerQuery);
                batch = _waiting.GetRange(0, take);
                _waiting.RemoveRange(0, take);
                if (_waiting.Count >= maxPerQuery) another = StartsReader();
            }
            if (another) _ = Task.Run(ReadWhileWaitingAsync);
            RestockMetrics.RecoveryReads.Add(1, RestockMetrics.Tag("read", name));
            RestockMetrics.RecoveryReadIds.Add(batch.Count, RestockMetrics.Tag("read", name));
            try
            {
                var results = await read(batch.Select(w => w.Request).ToList(), stopping);
                for (var i = 0; i < batch.Count; i++)
                    batch[i].Answer.TrySetResult(results[i]);
            }
            catch (Exception e)
            {
                foreach (var (_, answer) in batch)
                    answer.TrySetException(e);
            }
        }
    }
}

/// <summary>The SQL side of the batched recovery reads (SQLite and PostgreSQL).</summary>
internal static class RecoveryReads
{
    // SQLite allows 32,766 parameters per statement; PostgreSQL 65,535.
    public const int MaxIdsPerQuery = 500;

    // SQLite in WAL mode and PostgreSQL both read in parallel; the plugin's setting recovery-queries-at-once overrides it.
    public const int MaxQueriesAtOnce = 2;

    /// <summary>The most shared recovery queries of one kind under way at once, from the plugin's configuration.</summary>
    public static int QueriesAtOnce(Akka.Configuration.Config pluginConfig) => Math.Max(1, pluginConfig.GetInt("recovery-queries-at-once", MaxQueriesAtOnce));

    // Made once: the shared reads name a parameter or two per entity.
    private static readonly string[] ParameterNames = Enumerable.Range(0, 2 * MaxIdsPerQuery + 1).Select(i => "@p" + i).ToArray();

    /// <summary>The name of parameter <paramref name="i"/> (@p0, @p1, ...).</summary>
    public static string ParameterName(int i) => i < ParameterNames.Length ? ParameterNames[i] : "@p" + i;

    public static bool Supports(string providerName) =>
        providerName.StartsWith("SQLite", StringComparison.OrdinalIgnoreCase) || providerName.StartsWith("PostgreSQL", StringComparison.OrdinalIgnoreCase);

    /// <summary>A connection of the plugin's database (one of the <see cref="Supports"/> providers).</summary>
    public static DbConnection Connect(string providerName, string connectionString) =>
        providerName.StartsWith("SQLite", StringComparison.OrdinalIgnoreCase) ? new SqliteConnection(connectionString) : new NpgsqlConnection(connectionString);

    /// <summary>
    /// Runs <paramref name="sql"/>, whose parameters <paramref name="parameters"/> names @p0, @p1, ..., and reads every row.
    /// </summary>
    public static async Task<List<TRow>> QueryAsync<TRow>(Func<DbConnection> connect, string sql, IReadOnlyList<object> parameters,
        Func<DbDataReader, TRow> readRow, CancellationToken cancellationToken)
    {
        await using var connection = connect();
        await connection.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        for (var i = 0; i < parameters.Count; i++)
        {
            var parameter = command.CreateParameter();
            parameter.ParameterName = ParameterName(i);
            parameter.Value = parameters[i];
            command.Parameters.Add(parameter);
        }
        var rows = new List<TRow>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
            rows.Add(readRow(reader));
        return rows;
    }

    /// <summary>One result per requested id (duplicates allowed), from a query over the distinct ids: <c>sql IN (...) tail</c>.</summary>
    public static async Task<TResult[]> PerIdAsync<TResult>(Func<DbConnection> connect, string sqlBeforeIds, string sqlAfterIds,
        IReadOnlyList<string> ids, Func<DbDataReader, TResult> readRow, TResult missing, CancellationToken cancellationToken)
    {
        var distinct = ids.Distinct().ToList();
        var names = string.Join(", ", distinct.Select((_, i) => "@p" + i));
        var rows = await QueryAsync(connect, $"{sqlBeforeIds} IN ({names}) {sqlAfterIds}", distinct,
            r => (Id: r.GetString(0), Result: readRow(r)), cancellationToken);
        var found = rows.ToDictionary(r => r.Id, r => r.Result);
        return ids.Select(id => found.TryGetValue(id, out var result) ? result : missing).ToArray();
    }

    public static string Table(string? schema, string table) =>
        string.IsNullOrEmpty(schema) ? Quote(table) : $"{Quote(schema)}.{Quote(table)}";

    public static string Quote(string name) => '"' + name.Replace("\"", "\"\"") + '"';
}
