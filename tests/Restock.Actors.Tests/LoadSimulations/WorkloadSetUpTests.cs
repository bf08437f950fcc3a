using Restock.Actors.LoadTests.Running;
using Restock.Actors.LoadTests.Scenarios;

namespace Restock.Actors.Tests.LoadSimulations;

/// <summary>
/// A simulation's set-up (each shop's switch, each SKU's initial stock) on a loaded machine: a step whose answer was lost
/// is sent again as the same step, so the run starts with every SKU stocked once; a step the engine refuses stops it.
/// </summary>
public sealed class WorkloadSetUpTests
{
    private static readonly Scenario Sale = Catalog.Find("promo-mix")! with { Skus = 300, Shops = 4 };

    [Fact]
    public async Task A_set_up_step_whose_answer_was_lost_is_sent_again_with_the_same_adjustment_id()
    {
        var engine = new FakeEngine { LostSetUpAnswers = 2 };
        var workload = new Workload(Sale, engine, new Metrics());

        await workload.SetUpAsync();

        Assert.Equal(Sale.Skus + Sale.Shops, engine.SetUpCalls.Count);
        foreach (var sku in workload.Skus)
        {
            var calls = engine.SetUpCalls[sku];
            Assert.Equal(3, calls.Count);
            Assert.Single(calls.Distinct());
        }
        Assert.All(workload.Shops, shop => Assert.Equal(3, engine.SetUpCalls[shop].Count));
    }

    [Fact]
    public async Task A_set_up_step_that_never_answers_stops_the_run_with_the_step_named()
    {
        var workload = new Workload(Sale, new FakeEngine { LostSetUpAnswers = 3 }, new Metrics());

        var failure = await Assert.ThrowsAsync<InvalidOperationException>(workload.SetUpAsync);

        Assert.Contains("switch of", failure.Message);
        Assert.Contains("AskTimeoutException", failure.Message);
    }

    [Fact]
    public async Task A_refused_set_up_step_is_not_sent_again()
    {
        var engine = new FakeEngine { RefuseStock = true };
        var workload = new Workload(Sale, engine, new Metrics());

        var failure = await Assert.ThrowsAsync<InvalidOperationException>(workload.SetUpAsync);

        Assert.Contains("initial stock", failure.Message);
        Assert.Contains("NotOwner", failure.Message);
        Assert.Contains("attempt 1", failure.Message);
    }
}
