using Restock.Actors.LoadTests.Running;

namespace Restock.Actors.Tests.LoadSimulations;

/// <summary>The open model's arrivals under way: the run ends only once every one started has finished, and a failure surfaces.</summary>
public class ArrivalsInFlightTests
{
    [Fact]
    public async Task The_end_waits_for_every_arrival_started_and_counts_them_meanwhile()
    {
        var arrivals = new ArrivalsInFlight();
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        for (var i = 0; i < 3; i++)
            arrivals.Track(release.Task.ContinueWith(_ => { }, TaskScheduler.Default));
        arrivals.Track(Task.CompletedTask);
        Assert.Equal(3, arrivals.Count);

        var end = arrivals.AllFinishedAsync();
        Assert.False(end.IsCompleted);
        release.SetResult();
        await end;
        Assert.Equal(0, arrivals.Count);
    }

    [Fact]
    public async Task A_run_without_arrivals_ends_at_once_and_a_failed_arrival_fails_the_end()
    {
        await new ArrivalsInFlight().AllFinishedAsync();

        var arrivals = new ArrivalsInFlight();
        arrivals.Track(Task.FromException(new InvalidOperationException("the target broke")));
        arrivals.Track(Task.Delay(50));
        var e = await Assert.ThrowsAsync<InvalidOperationException>(arrivals.AllFinishedAsync);
        Assert.Equal("the target broke", e.Message);
    }

    [Fact]
    public async Task Arrivals_that_report_their_own_end_hold_the_end_beside_tracked_ones_and_their_failure_fails_it()
    {
        var arrivals = new ArrivalsInFlight();
        var tracked = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        arrivals.Starting();
        arrivals.Starting();
        arrivals.Track(tracked.Task);
        Assert.Equal(3, arrivals.Count);

        var end = arrivals.AllFinishedAsync();
        arrivals.Finished();
        arrivals.Failed(new InvalidOperationException("the engine refused"));
        arrivals.Finished();
        Assert.False(end.IsCompleted);
        tracked.SetResult();
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => end);
        Assert.Equal("the engine refused", e.Message);
        Assert.Equal(0, arrivals.Count);
    }
}
