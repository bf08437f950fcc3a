using Restock.Actors.Tests.Support;

namespace Restock.Actors.Tests.Ledger;

/// <summary>
/// A ledger projection that reads batches of no rows never moves: the ledger and the "needs attention" list would stay
/// frozen behind a projection restarting with backoff forever. The engine refuses such settings before it touches the
/// database.
/// </summary>
public sealed class LedgerSettingsTests
{
    [Theory]
    [InlineData("restock.ledger.batch-size = 0", "batch-size")]
    [InlineData("restock.ledger.batch-size = -1", "batch-size")]
    [InlineData("restock.ledger.gap-window = 0s", "gap-window")]
    public async Task An_engine_whose_ledger_settings_cannot_move_the_projection_refuses_to_start_and_changes_nothing(string setting, string named)
    {
        var failure = await RefusedStart.With(setting);

        Assert.Contains("restock.ledger", failure.Message);
        Assert.Contains(named, failure.Message);
    }
}
