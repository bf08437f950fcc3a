using Akka.Actor;
using Npgsql;
using Restock.Actors.Domain.Inventory;
using Restock.Actors.Engine.Hosting;
using Restock.Actors.Engine.Ledger;
using Restock.Actors.Tests.Support;
namespace Restock.Actors.Tests.Ledger;

/// <summary>
/// A projection that is stopped rather than failing (the singleton handing over, its supervisor stopping it, the node
/// shutting down) gives back the connection it follows the journal with: on PostgreSQL one kept open is a server slot
/// held until the process exits. Needs a server (<c>.ci/postgres</c>, RESTOCK_TEST_POSTGRES); on SQLite every query
/// completes before its await, so the stop never finds the projection waiting on one.
/// </summary>
public sealed class LedgerProjectionStopTests : PostgresTest
{
    [SkippableFact]
    public async Task A_projection_stopped_while_its_journal_query_waits_releases_the_connection()
    {
        SkipWithoutServer();
        var connectionString = Database.ConnectionString;
        var engine = await RestockEngine.StartAsync(RestockConfig.Load(name => name switch
        {
            "RESTOCK_JOURNAL" => "postgresql",
            "RESTOCK_CONNECTION_STRING" => connectionString,
            "RESTOCK_SINGLE_NODE" => "on",
            _ => null,
        }, ["restock.ledger.projection = off", "restock.ledger.reconcile-every = 0s"])).Within("the engine to start");
        try
        {
            await engine.Inventory.Execute("pg-mug", new SetStock("a1", 5, "delivery"));

            // A transaction holding the journal table makes the projection's first journal query wait on the server.
            await using (var holder = new NpgsqlConnection(connectionString))
            {
                await holder.OpenAsync();
                await using var hold = await holder.BeginTransactionAsync();
                await using (var command = new NpgsqlCommand("LOCK TABLE journal IN ACCESS EXCLUSIVE MODE", holder, hold))
                    await command.ExecuteNonQueryAsync();

                var projection = engine.System.ActorOf(LedgerProjection.Props(engine.Ledger, LedgerSettings.From(engine.System.Settings.Config)));
                await Eventually(async () => await Count("wait_event_type = 'Lock'") == 1, "the projection's journal query to wait for the lock");
                Assert.True(await projection.GracefulStop(TimeSpan.FromSeconds(20)));
                await hold.RollbackAsync();
            }
        }
        finally
        {
            await engine.DisposeAsync();
        }

        // Everything else gives its connections back with the engine: cleared from the pool, none is left on the server.
        NpgsqlConnection.ClearPool(new NpgsqlConnection(connectionString));
        await Eventually(async () => await Count("true") == 0, "every connection to the database to be closed");
    }

    /// <summary>Server connections to the test's database that match <paramref name="condition"/>, counted from outside it.</summary>
    private async Task<long> Count(string condition)
    {
        await using var connection = new NpgsqlConnection(Server);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand($"SELECT count(*) FROM pg_stat_activity WHERE datname = @db AND {condition}", connection);
        command.Parameters.AddWithValue("db", Database.Name);
        return (long)(await command.ExecuteScalarAsync())!;
    }

    private static async Task Eventually(Func<Task<bool>> done, string what)
    {
        for (var i = 0; !await done(); i++)
        {
            Assert.True(i < 200, $"waited 20 s for {what}");
            await Task.Delay(100);
        }
    }
}
