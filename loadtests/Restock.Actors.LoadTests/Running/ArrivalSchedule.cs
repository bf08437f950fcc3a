using System.Diagnostics;

namespace Restock.Actors.LoadTests.Running;

/// <summary>
/// When the open model's arrivals are due: at the target rate (or along its ramp) whatever the engine does. Asked at
/// any moment, it gives the arrivals due since it was last asked, each with the moment it was due, so a generator that
/// wakes late still starts every arrival and times it from when it was meant to start.
/// </summary>
public sealed class ArrivalSchedule(Func<TimeSpan, double> rateAt)
{
    private double _due;
    private TimeSpan _last = TimeSpan.Zero;

    /// <summary>The arrivals due by <paramref name="now"/> (time since the run started) not yet given, as times they were due.</summary>
    public IEnumerable<TimeSpan> DueBy(TimeSpan now)
    {
        var rate = rateAt(now);
        _due += rate * (now - _last).TotalSeconds;
        _last = now;
        // With `d` arrivals owed at `now`, the oldest was due (d - 1) / rate before it, the youngest at `now`.
        for (; _due >= 1; _due--)
            yield return rate > 0 ? now - TimeSpan.FromSeconds((_due - 1) / rate) : now;
    }

    /// <summary>How long until the next arrival is due, at the rate of <paramref name="now"/>.</summary>
    public TimeSpan UntilNext(TimeSpan now) =>
        rateAt(now) is > 0 and var rate ? TimeSpan.FromSeconds(Math.Max(0, (1 - _due) / rate)) : TimeSpan.FromMilliseconds(1);

    /// <summary>
    /// Runs <paramref name="start"/> for every arrival, with its due time as a <see cref="Stopwatch"/> timestamp, on a
    /// thread of its own that sleeps until the next one is due, until <paramref name="stop"/>. Not a scheduler tick:
    /// Akka's scheduler (and a stream's tick) has a 10 ms resolution, so every arrival would start up to 10 ms after it
    /// was due and that delay, the generator's own, would be charged to the engine. Sleeping is 1 ms at the finest
    /// (no spinning: the engine needs the cores), so arrivals start at most about a millisecond late on an idle
    /// machine; the run records how late each one started.
    /// </summary>
    public Task RunAsync(Func<long, bool> start, CancellationToken stop)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() =>
        {
            try
            {
                var origin = Stopwatch.GetTimestamp();
                while (!stop.IsCancellationRequested)
                {
                    var now = Stopwatch.GetElapsedTime(origin);
                    foreach (var due in DueBy(now))
                        if (!start(origin + (long)(due.TotalSeconds * Stopwatch.Frequency)))
                        {
                            done.TrySetResult();
                            return;
                        }
                    var wait = UntilNext(now);
                    Thread.Sleep(wait < TimeSpan.FromMilliseconds(1) ? TimeSpan.FromMilliseconds(1) : wait);
                }
                done.TrySetResult();
            }
            catch (Exception e)
            {
                done.TrySetException(e);
            }
        })
        {
            IsBackground = true,
            Name = "open-model arrivals",
            Priority = ThreadPriority.AboveNormal,
        };
        thread.Start();
        return done.Task;
    }
}
