using Restock.Actors.LoadTests.Targets;

namespace Restock.Actors.Tests.Support;

/// <summary>
/// A test class on PostgreSQL: each test gets a fresh database on the server RESTOCK_TEST_POSTGRES names (<c>.ci/postgres</c>
/// starts one and prints it), dropped after the test. Without a server every test skips (<see cref="SkipWithoutServer"/>).
/// </summary>
public abstract class PostgresTest(string databasePrefix = "restock_test") : IAsyncLifetime
{
    private readonly string? _server = Environment.GetEnvironmentVariable("RESTOCK_TEST_POSTGRES");
    private PostgresDatabase? _database;

    /// <summary>This test's database; a test reads it after <see cref="SkipWithoutServer"/>.</summary>
    protected PostgresDatabase Database => _database ?? throw new InvalidOperationException("no PostgreSQL server: the test should have skipped");

    /// <summary>The server's connection string (its maintenance database), after <see cref="SkipWithoutServer"/>.</summary>
    protected string Server => _server ?? throw new InvalidOperationException("no PostgreSQL server: the test should have skipped");

    protected void SkipWithoutServer() => Skip.If(_server is null, "RESTOCK_TEST_POSTGRES is not set: run .ci/postgres for a local server");

    public async Task InitializeAsync()
    {
        if (_server is not null) _database = await PostgresDatabase.CreateAsync(_server, databasePrefix);
    }

    public async Task DisposeAsync()
    {
        if (_database is not null) await _database.DisposeAsync();
    }
}
