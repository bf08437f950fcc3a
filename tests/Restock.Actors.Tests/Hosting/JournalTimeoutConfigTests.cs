using Akka.Configuration;
using Restock.Actors.Engine.Hosting;

namespace Restock.Actors.Tests.Hosting;

/// <summary>
/// A SQLite journal transaction that may wait for the write lock as long as its write-timeout could still commit after its
/// writers were told it failed: the engine refuses such a configuration before it touches the database.
/// </summary>
public sealed class JournalTimeoutConfigTests
{
    [Theory]
    [InlineData("10s")]
    [InlineData("30s")]
    public async Task An_engine_whose_write_lock_wait_is_not_shorter_than_its_write_timeout_refuses_to_start_and_changes_nothing(string lockWait)
    {
        var folder = Path.Combine(Path.GetTempPath(), "restock-tests", Guid.NewGuid().ToString("N"));
        var config = RestockConfig.Load(name => name == "RESTOCK_CONNECTION_STRING" ? $"Data Source={Path.Combine(folder, "restock.db")}" : null,
            "akka.persistence.journal.sql.write-timeout = 10s", $"akka.persistence.journal.sql.write-lock-wait = {lockWait}");

        var failure = await Assert.ThrowsAsync<ConfigurationException>(() => RestockEngine.StartAsync(config));

        Assert.Contains("akka.persistence.journal.sql.write-lock-wait", failure.Message);
        Assert.Contains("akka.persistence.journal.sql.write-timeout", failure.Message);
        Assert.False(Directory.Exists(folder));
    }

    [Fact]
    public void The_shipped_configuration_waits_for_the_write_lock_less_than_its_write_timeout()
    {
        RestockConfig.CheckJournalTimeouts(RestockConfig.Load(_ => null));
        RestockConfig.CheckJournalTimeouts(RestockConfig.Load(name => name == "RESTOCK_JOURNAL" ? "postgresql" : null));
    }
}
