using Restock.Actors.Engine.Hosting;

namespace Restock.Actors.Tests.Hosting;

/// <summary>The recovery settings Akka reads from the shipped journal configuration, on either database.</summary>
public sealed class RecoveryConfigTests
{
    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgresql")]
    public void A_recovery_waits_Akka_s_default_30_seconds_for_its_snapshot_and_each_event(string journal)
    {
        var config = RestockConfig.Load(name => name == "RESTOCK_JOURNAL" ? journal : null);
        // Read as Akka's recovery reads it (no "infinite"): the setting is a plain number of milliseconds.
        Assert.Equal(TimeSpan.FromSeconds(30), config.GetTimeSpan("akka.persistence.journal.sql.recovery-event-timeout", null, allowInfinite: false));
    }
}
