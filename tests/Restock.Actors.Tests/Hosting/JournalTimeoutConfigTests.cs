using Restock.Actors.Engine.Hosting;
using Restock.Actors.Tests.Support;

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
        var failure = await RefusedStart.With("akka.persistence.journal.sql.write-timeout = 10s", $"akka.persistence.journal.sql.write-lock-wait = {lockWait}");

        Assert.Contains("akka.persistence.journal.sql.write-lock-wait", failure.Message);
        Assert.Contains("akka.persistence.journal.sql.write-timeout", failure.Message);
    }

    [Fact]
    public void The_shipped_configuration_waits_for_the_write_lock_less_than_its_write_timeout()
    {
        RestockConfig.CheckJournalTimeouts(RestockConfig.Load(_ => null));
        RestockConfig.CheckJournalTimeouts(RestockConfig.Load(name => name == "RESTOCK_JOURNAL" ? "postgresql" : null));
    }
}
