using Npgsql;

namespace Restock.Actors.LoadTests.Targets;

/// <summary>
/// A fresh database of its own on a PostgreSQL server (e.g. what <c>.ci/postgres</c> prints), for one run or test;
/// dropped at the end, open connections included.
/// </summary>
public sealed class PostgresDatabase : IAsyncDisposable
{
    private readonly string _server;

    private PostgresDatabase(string server, string name)
    {
        _server = server;
        Name = name;
        ConnectionString = new NpgsqlConnectionStringBuilder(server) { Database = name }.ConnectionString;
    }

    public string Name { get; }

    /// <summary>The server's connection string with this database.</summary>
    public string ConnectionString { get; }

    /// <param name="prefix">Starts the database's name (letters, digits, underscores); a random suffix follows.</param>
    public static async Task<PostgresDatabase> CreateAsync(string server, string prefix)
    {
        var database = new PostgresDatabase(server, $"{prefix}_{Guid.NewGuid():N}");
        await database.Admin($"CREATE DATABASE {database.Name}");
        return database;
    }

    private async Task Admin(string sql)
    {
        await using var connection = new NpgsqlConnection(_server);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }

    public async ValueTask DisposeAsync()
    {
        NpgsqlConnection.ClearAllPools();
        await Admin($"DROP DATABASE IF EXISTS {Name} WITH (FORCE)");
    }
}
