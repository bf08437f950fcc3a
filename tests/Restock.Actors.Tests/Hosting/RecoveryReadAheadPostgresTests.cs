using Akka.Actor;
using Restock.Actors.Engine.Hosting;
using Restock.Actors.LoadTests.Targets;

namespace Restock.Actors.Tests.Hosting;

/// <summary>
/// <see cref="RecoveryReadAheadTests"/>' replays on PostgreSQL, where the shared highest-and-replay statement runs too.
/// Needs a server: <c>.ci/postgres</c> starts one and prints the connection string to put in RESTOCK_TEST_POSTGRES.
/// </summary>
public sealed class RecoveryReadAheadPostgresTests : IAsyncLifetime
{
    private readonly string? _server = Environment.GetEnvironmentVariable("RESTOCK_TEST_POSTGRES");
    private PostgresDatabase? _database;

    public async Task InitializeAsync()
    {
        if (_server is not null) _database = await PostgresDatabase.CreateAsync(_server, "restock_test");
    }

    public async Task DisposeAsync()
    {
        if (_database is not null) await _database.DisposeAsync();
    }

    private ActorSystem Start(params string[] overrides) => ActorSystem.Create("restock", RestockConfig.Load(name => name switch
    {
        "RESTOCK_JOURNAL" => "postgresql",
        "RESTOCK_CONNECTION_STRING" => _database!.ConnectionString,
        "RESTOCK_SINGLE_NODE" => "on",
        _ => null,
    }, overrides));

    [SkippableFact]
    public async Task Every_replay_answers_what_the_plugins_own_journal_answers_on_postgresql()
    {
        Skip.If(_server is null, "RESTOCK_TEST_POSTGRES is not set: run .ci/postgres for a local server");
        var engine = Start();
        try
        {
            await RecoveryReadAheadTests.AssertReplaysAsThePluginAsync(engine, () => Start(RecoveryReadAheadTests.PluginJournal));
        }
        finally
        {
            await engine.Terminate();
        }
    }
}
