using Akka.Actor;
using Restock.Actors.Engine.Hosting;
using Restock.Actors.Tests.Support;

namespace Restock.Actors.Tests.Hosting;

/// <summary>
/// <see cref="RecoveryReadAheadTests"/>' replays on PostgreSQL, where the shared highest-and-replay statement runs too.
/// Needs a server: <c>.ci/postgres</c> starts one and prints the connection string to put in RESTOCK_TEST_POSTGRES.
/// </summary>
public sealed class RecoveryReadAheadPostgresTests : PostgresTest
{
    private ActorSystem Start(params string[] overrides) => ActorSystem.Create("restock", RestockConfig.Load(name => name switch
    {
        "RESTOCK_JOURNAL" => "postgresql",
        "RESTOCK_CONNECTION_STRING" => Database.ConnectionString,
        "RESTOCK_SINGLE_NODE" => "on",
        _ => null,
    }, overrides));

    [SkippableFact]
    public async Task Every_replay_answers_what_the_plugins_own_journal_answers_on_postgresql()
    {
        SkipWithoutServer();
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
