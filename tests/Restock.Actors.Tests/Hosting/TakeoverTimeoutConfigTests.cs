using Restock.Actors.Engine.Hosting;
using Restock.Actors.Tests.Support;

namespace Restock.Actors.Tests.Hosting;

/// <summary>
/// While shards move, callers wait the takeover ask timeout for a prompt 503 instead of the full ask timeout. A takeover
/// timeout of 0 would refuse every such caller at once, one above the ask timeout would make them wait longer: the engine
/// refuses both before it touches the database.
/// </summary>
public sealed class TakeoverTimeoutConfigTests
{
    [Theory]
    [InlineData("0s")]
    [InlineData("11s")]
    public async Task An_engine_whose_takeover_ask_timeout_is_zero_or_above_its_ask_timeout_refuses_to_start_and_changes_nothing(string takeover)
    {
        var failure = await RefusedStart.With("restock.inventory.ask-timeout = 10s", $"restock.cluster.takeover-ask-timeout = {takeover}");

        Assert.Contains("restock.cluster.takeover-ask-timeout", failure.Message);
        Assert.Contains("restock.inventory.ask-timeout", failure.Message);
    }

    [Fact]
    public void The_shipped_configurations_pass_the_check()
    {
        RestockConfig.CheckAskTimeouts(RestockConfig.Load(_ => null));
        RestockConfig.CheckAskTimeouts(RestockConfig.Load(name => name == "RESTOCK_JOURNAL" ? "postgresql" : null));
    }
}
