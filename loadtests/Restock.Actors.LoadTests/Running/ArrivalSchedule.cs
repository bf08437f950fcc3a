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
        var rate = Advance(now);
        for (; _due >= 1; _due--)
            yield return DueTime(now, rate);
    }

    private double Advance(TimeSpan now)
    {
        var rate = rateAt(now);
        _due += rate * (now - _last).TotalSeconds;
        _last = now;
        return rate;
    }

    // With `d` arrivals owed at `now`, the oldest was due (d - 1) / rate before it, the youngest at `now`.
    private TimeSpan DueTime(TimeSpan now, double rate) => rate > 0 ? now - TimeSpan.FromSeconds((_due - 1) / rate) : now;

    /// <summary>How long until the next arrival is due, at the rate of <paramref name="now"/>.</summary>
    public TimeSpan UntilNext(TimeSpan now) =>
        rateAt(now) is > 0 and var rate ? TimeSpan.FromSeconds(Math.Max(0, (1 - _due) / rate)) : TimeSpan.FromMilliseconds(1);

    /// <summary>
    /// Starts every arrival on a thread of its own (above normal priority) that sleeps until the next one is due, until
    /// <paramref name="stop"/>; <paramref name="start"/> gets each one's due time as a <see cref="Stopwatch"/> timestamp
    /// and runs on that thread, so it should only begin the arrival's work (up to its first wait). Not a scheduler tick:
    /// Akka's scheduler (and a stream's tick) has a 10 ms resolution. Not the thread pool either: an arrival queued there
    /// waited behind the engine's own work items (at 15,000/s arrivals started p99 6.2 ms late, nearly all of it in that
    /// queue), and that delay, the generator's own, was charged to the engine. Sleeping is 1 ms at the finest (no
    /// spinning: the engine needs the cores); the run records how late each arrival started.
    /// </summary>
    public Task RunAsync(Func<long, bool> start, TimeSpan until, CancellationToken stop)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() =>
        {
            try
            {
                Run(TimeProvider.System, static wait => Thread.Sleep(wait), start, until, stop);
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

    /// <summary>
    /// The generator's loop on the calling thread, on <paramref name="clock"/>'s timestamps: releases every arrival due,
    /// oldest first, then sleeps (at least 1 ms) until the next. Ends once every arrival due by <paramref name="until"/>
    /// (time since it started) is released, by its own clock: a run's stop timer fires late on a busy machine, and
    /// arrivals released meanwhile would be counted in a run meant to end. Also ends at <paramref name="stop"/> or when
    /// <paramref name="start"/> returns false.
    /// </summary>
    public void Run(TimeProvider clock, Action<TimeSpan> sleep, Func<long, bool> start, TimeSpan until, CancellationToken stop)
    {
        var origin = clock.GetTimestamp();
        var frequency = clock.TimestampFrequency;
        var slept = 0L;
        try
        {
            while (!stop.IsCancellationRequested)
            {
                var now = clock.GetElapsedTime(origin);
                var last = now >= until;
                if (last) now = until;
                var rate = Advance(now);
                for (; _due >= 1; _due--)
                    if (!start(origin + (long)(DueTime(now, rate).TotalSeconds * frequency)))
                        return;
                if (last) return;
                var wait = UntilNext(now);
                var asleep = clock.GetTimestamp();
                sleep(wait < TimeSpan.FromMilliseconds(1) ? TimeSpan.FromMilliseconds(1) : wait);
                slept += clock.GetTimestamp() - asleep;
            }
        }
        finally
        {
            var ran = clock.GetTimestamp() - origin;
            BusyShare = ran <= 0 ? 0 : Math.Clamp(1 - slept / (double)ran, 0, 1);
        }
    }

    /// <summary>
    /// The share of <see cref="Run"/>'s time its thread was not asleep: starting arrivals (each up to its first wait), or
    /// ready to and not given a core. Near 1, the generator itself cannot start arrivals faster, and arrivals start late
    /// whatever the engine does.
    /// </summary>
    public double BusyShare { get; private set; }
}
