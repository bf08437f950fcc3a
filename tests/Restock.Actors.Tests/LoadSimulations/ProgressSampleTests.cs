using Akka.Actor;
using Restock.Actors.LoadTests.Running;

namespace Restock.Actors.Tests.LoadSimulations;

/// <summary>The runner's live view samples the hot SKUs' stock every second; an engine too busy to answer it never ends a run.</summary>
public class ProgressSampleTests
{
    [Fact]
    public void A_stock_sample_that_times_out_in_process_or_over_http_is_shown_as_unreachable()
    {
        Assert.True(LoadRun.NotAnswering(new AskTimeoutException("Timeout after 10.00 seconds")));
        Assert.True(LoadRun.NotAnswering(new HttpRequestException("connection refused")));
        Assert.True(LoadRun.NotAnswering(new TaskCanceledException()));
        Assert.False(LoadRun.NotAnswering(new InvalidOperationException("a defect in the runner")));
    }
}
