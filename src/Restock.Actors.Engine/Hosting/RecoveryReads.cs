using System.Data.Common;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace Restock.Actors.Engine.Hosting;

/// <summary>
/// Coalesces the per-entity reads of recovery into one query for many entities. Requests that arrive while a query
/// runs wait for the next one (the read side of group commit), so a burst of activations costs a few queries instead
/// of one per entity, and the plugin's actor that asked is free at once.
/// </summary>
/// <param name="read">Answers a batch of requests, one result per request, in order.</param>
/// <param name="maxPerQuery">The most requests one query answers: smaller batches answer the first callers sooner.</param>
internal sealed class RecoveryReads<TRequest, TResult>(
    string name, Func<IReadOnlyList<TRequest>, CancellationToken, Task<TResult[]>> read, int maxPerQuery, CancellationToken stopping)
{
    private readonly object _gate = new();
    private List<(TRequest Request, TaskCompletionSource<TResult> Answer)> _waiting = [];
    private bool _reading;

    public Task<TResult> Read(TRequest request)
    {
        var answer = new TaskCompletionSource<TResult>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_gate)
        {
            _waiting.Add((request, answer));
            if (_reading) return answer.Task;
            _reading = true;
        }
        _ = Task.Run(ReadWhileWaitingAsync);
        return answer.Task;
    }

    private async Task ReadWhileWaitingAsync()
    {
        while (true)
        {
            // Behind the work already queued (the mailboxes of entities about to ask too), so a burst of activations
            // shares a query instead of the first caller taking one alone; an idle pool comes straight back.
            await Task.Yield();
            List<(TRequest Request, TaskCompletionSource<TResult> Answer)> batch;
            lock (_gate)
            {
                if (_waiting.Count == 0)
                {
                    _reading = false;
                    return;
                }
                var take = Math.Min(_waiting.Count, maxPerQuery);
                batch = _waiting.GetRange(0, take);
                _waiting.RemoveRange(0, take);
            }
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

    // Made once: the shared reads name a parameter or two per entity.
    private static readonly string[] ParameterNames = Enumerable.Range(0, 2 * MaxIdsPerQuery + 1).Select(i => "@p" + i).ToArray();

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
            parameter.ParameterName = i < ParameterNames.Length ? ParameterNames[i] : "@p" + i;
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
