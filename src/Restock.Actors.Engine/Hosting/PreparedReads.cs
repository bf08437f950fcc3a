using System.Collections.Concurrent;
using System.Data.Common;
using Microsoft.Data.Sqlite;

namespace Restock.Actors.Engine.Hosting;

/// <summary>
/// SQLite connections kept open with the shared recovery reads' statements prepared. Microsoft.Data.Sqlite prepares a
/// command's text again for every new command, and the shared read of 100 recoveries is ~10,000 characters of SQL with
/// 100 ranges: SQLite took ~4 ms to prepare it and ~0.7 ms to run it (PERFORMANCE-LOG, "Cold start (goal 4), session 10").
/// Each connection keeps its few most recent statements (a backlog's batches are full, so the same text comes back); a
/// connection serves one query at a time, and there are as many as queries run at once. An idle prepared statement holds
/// no read snapshot and no lock: the journal's writes and checkpoints are not held up by it.
/// </summary>
internal sealed class PreparedReads(string connectionString) : IDisposable
{
    // Statements kept per connection: a prepared statement of the 100-recovery read is large, and partial batches
    // (each count its own text) come rarely and need not stay.
    private const int StatementsPerConnection = 4;

    private readonly ConcurrentBag<Connection> _idle = [];
    private volatile bool _disposed;

    public Task<List<TRow>> QueryAsync<TRow>(string sql, IReadOnlyList<object> parameters, Func<DbDataReader, TRow> readRow,
        CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (!_idle.TryTake(out var connection)) connection = new Connection(connectionString);
        try
        {
            var rows = connection.Query(sql, parameters, readRow);
            Release(connection);
            return Task.FromResult(rows);
        }
        catch
        {
            // A connection that failed a query is not reused as it is.
            connection.Dispose();
            throw;
        }
    }

    private void Release(Connection connection)
    {
        _idle.Add(connection);
        // Disposed meanwhile: nobody else takes it back.
        if (_disposed) DisposeIdle();
    }

    public void Dispose()
    {
        _disposed = true;
        DisposeIdle();
    }

    private void DisposeIdle()
    {
        while (_idle.TryTake(out var connection))
            connection.Dispose();
    }

    private sealed class Connection : IDisposable
    {
        private readonly SqliteConnection _connection;
        // Most recently used last.
        private readonly List<(string Sql, SqliteCommand Command)> _statements = [];

        public Connection(string connectionString)
        {
            _connection = new SqliteConnection(connectionString);
            _connection.Open();
        }

        public List<TRow> Query<TRow>(string sql, IReadOnlyList<object> parameters, Func<DbDataReader, TRow> readRow)
        {
            var command = Statement(sql, parameters.Count);
            for (var i = 0; i < parameters.Count; i++)
                command.Parameters[i].Value = parameters[i];
            var rows = new List<TRow>();
            using var reader = command.ExecuteReader();
            while (reader.Read())
                rows.Add(readRow(reader));
            return rows;
        }

        private SqliteCommand Statement(string sql, int parameters)
        {
            var at = _statements.FindIndex(s => s.Sql == sql);
            if (at >= 0)
            {
                var found = _statements[at];
                _statements.RemoveAt(at);
                _statements.Add(found);
                return found.Command;
            }
            var command = _connection.CreateCommand();
            command.CommandText = sql;
            for (var i = 0; i < parameters; i++)
                command.Parameters.Add(new SqliteParameter(RecoveryReads.ParameterName(i), null));
            command.Prepare();
            if (_statements.Count == StatementsPerConnection)
            {
                _statements[0].Command.Dispose();
                _statements.RemoveAt(0);
            }
            _statements.Add((sql, command));
            return command;
        }

        public void Dispose()
        {
            foreach (var (_, command) in _statements)
                command.Dispose();
            _statements.Clear();
            _connection.Dispose();
        }
    }
}
