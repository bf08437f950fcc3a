using Restock.Actors.Engine.Hosting;
using Restock.Actors.Engine.Refunds;
using Restock.Actors.Tests.Support;

namespace Restock.Actors.Tests.Refunds;

/// <summary>
/// A new refund waits up to shop-answer-before-first-write for its shop before its first write; while the shop's shard
/// moves, callers get their 503 after takeover-ask-timeout. A wait as long as that would leave the refund unwritten when
/// its caller is told to retry: the engine refuses such a configuration before it touches the database.
/// </summary>
public sealed class RefundSettingsTests
{
    [Theory]
    [InlineData("1500ms")]
    [InlineData("2s")]
    public async Task An_engine_whose_shop_answer_wait_is_not_shorter_than_its_takeover_ask_timeout_refuses_to_start_and_changes_nothing(string wait)
    {
        var failure = await RefusedStart.With("restock.inventory.ask-timeout = 10s", "restock.cluster.takeover-ask-timeout = 1500ms", $"restock.refunds.shop-answer-before-first-write = {wait}");

        Assert.Contains("shop-answer-before-first-write", failure.Message);
        Assert.Contains("restock.cluster.takeover-ask-timeout", failure.Message);
    }

    [Fact]
    public void The_shipped_configuration_passes_the_check_with_its_shop_answer_wait_below_the_takeover_ask_timeout()
    {
        var shipped = RestockConfig.Load(_ => null);
        var settings = RefundSettings.From(shipped);

        Assert.True(settings.ShopAnswerBeforeFirstWrite < shipped.GetTimeSpan("restock.cluster.takeover-ask-timeout"));
    }
}
