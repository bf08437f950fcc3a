using Restock.Actors.LoadTests.Running;

namespace Restock.Actors.Tests.LoadSimulations;

/// <summary>The open model's arrivals: at the rate, each with the moment it was due, however late the generator wakes.</summary>
public class ArrivalScheduleTests
{
    private static TimeSpan Ms(double ms) => TimeSpan.FromMilliseconds(ms);

    [Fact]
    public void A_generator_waking_late_still_starts_every_arrival_due_and_times_each_from_when_it_was_due()
    {
        var schedule = new ArrivalSchedule(_ => 1_000);

        Assert.Empty(schedule.DueBy(Ms(0.5)));
        var late = schedule.DueBy(Ms(10.5)).ToList();

        // 1,000/s is one arrival per ms: ten were due, at 1, 2, ... 10 ms.
        Assert.Equal(10, late.Count);
        for (var i = 0; i < late.Count; i++)
            Assert.Equal(1.0 + i, late[i].TotalMilliseconds, precision: 3);
        Assert.All(late, due => Assert.True(due <= Ms(10.5)));
    }

    [Fact]
    public void Over_a_run_the_arrivals_match_the_rate_whatever_the_wake_ups()
    {
        var wakeUps = new Random(7);
        var schedule = new ArrivalSchedule(_ => 2_500);
        var due = new List<TimeSpan>();
        for (var now = TimeSpan.Zero; now < TimeSpan.FromSeconds(2); now += Ms(wakeUps.Next(1, 25)))
            due.AddRange(schedule.DueBy(now));

        Assert.InRange(due.Count, 2 * 2_500 - 60, 2 * 2_500);
        Assert.Equal(due.OrderBy(d => d), due);
        // Evenly spaced: one every 0.4 ms, never two at once.
        for (var i = 1; i < due.Count; i++)
            Assert.Equal(0.4, (due[i] - due[i - 1]).TotalMilliseconds, precision: 3);
    }

    [Fact]
    public void The_next_arrival_is_awaited_no_longer_than_until_it_is_due()
    {
        var schedule = new ArrivalSchedule(_ => 100);
        Assert.Single(schedule.DueBy(Ms(15)));

        // One arrival per 10 ms: half of the next one was owed at 15 ms, so it is due at 20 ms.
        Assert.Equal(5, schedule.UntilNext(Ms(15)).TotalMilliseconds, precision: 3);
    }

    /// <summary>A clock that moves only when the generator sleeps, each sleep overshooting as an OS sleep can.</summary>
    private sealed class FakeClock(Func<TimeSpan, TimeSpan> overshoot) : TimeProvider
    {
        public long Ticks { get; private set; } = 1_000_000;

        public override long TimestampFrequency => TimeSpan.TicksPerSecond;

        public override long GetTimestamp() => Ticks;

        public void Sleep(TimeSpan wait) => Ticks += (wait + overshoot(wait)).Ticks;
    }

    [Fact]
    public void The_generator_starts_every_arrival_due_in_order_at_its_intended_time_however_late_it_wakes()
    {
        var overshoot = new Random(3);
        var clock = new FakeClock(_ => TimeSpan.FromMilliseconds(overshoot.Next(0, 30)));
        var origin = clock.Ticks;
        var started = new List<(long Due, long At)>();
        using var stop = new CancellationTokenSource();

        new ArrivalSchedule(_ => 15_000).Run(clock, clock.Sleep, due =>
        {
            started.Add((due, clock.Ticks));
            if (clock.Ticks - origin >= TimeSpan.TicksPerSecond) stop.Cancel();
            return true;
        }, TimeSpan.MaxValue, stop.Token);

        // 15,000/s for the second the clock ran (plus the arrivals of its last wake-up): none dropped, none doubled.
        var ran = TimeSpan.FromTicks(clock.Ticks - origin);
        Assert.InRange(started.Count, 15_000, (int)(15_000 * ran.TotalSeconds) + 1);
        // Each one's intended time is on the rate's grid (one every 1/15,000 s), whenever the generator woke to start it.
        for (var i = 0; i < started.Count; i++)
            Assert.Equal((i + 1) / 15_000.0, TimeSpan.FromTicks(started[i].Due - origin).TotalSeconds, precision: 6);
        Assert.All(started, s => Assert.True(s.Due <= s.At));
    }

    [Fact]
    public void The_generator_reports_the_share_of_its_time_spent_starting_arrivals_rather_than_asleep()
    {
        // 1,000/s for 2 s, each start taking 0.25 ms of the generator's clock (the fake clock moves only when told): a quarter of its time.
        var clock = new FakeClock(_ => TimeSpan.Zero);
        var schedule = new ArrivalSchedule(_ => 1_000);
        schedule.Run(clock, clock.Sleep, _ =>
        {
            clock.Sleep(TimeSpan.FromMilliseconds(0.25));
            return true;
        }, TimeSpan.FromSeconds(2), CancellationToken.None);
        Assert.Equal(0.25, schedule.BusyShare, precision: 2);

        // Starts slower than the rate: never asleep.
        var saturated = new ArrivalSchedule(_ => 1_000);
        saturated.Run(clock, clock.Sleep, _ =>
        {
            clock.Sleep(TimeSpan.FromMilliseconds(2));
            return true;
        }, TimeSpan.FromSeconds(2), CancellationToken.None);
        Assert.Equal(1, saturated.BusyShare, precision: 2);
    }

    [Fact]
    public void The_generator_stops_when_told_to_and_sleeps_at_least_a_millisecond_between_wake_ups()
    {
        var clock = new FakeClock(_ => TimeSpan.Zero);
        var sleeps = new List<TimeSpan>();
        var started = 0;
        new ArrivalSchedule(_ => 100).Run(clock, wait =>
        {
            sleeps.Add(wait);
            clock.Sleep(wait);
        }, _ => ++started < 5, TimeSpan.MaxValue, CancellationToken.None);

        Assert.Equal(5, started);
        // One arrival per 10 ms: the generator slept until each was due, never in a tighter loop than 1 ms.
        Assert.All(sleeps, s => Assert.True(s >= TimeSpan.FromMilliseconds(1)));
        Assert.InRange(sleeps.Count, 5, 6);
    }

    [Fact]
    public void The_generator_ends_with_the_arrivals_due_by_its_end_however_late_it_wakes_past_it()
    {
        var clock = new FakeClock(wait => TimeSpan.FromMilliseconds(700));
        var due = new List<long>();
        var origin = clock.Ticks;

        new ArrivalSchedule(_ => 200).Run(clock, clock.Sleep, d =>
        {
            due.Add(d);
            return true;
        }, TimeSpan.FromSeconds(2), CancellationToken.None);

        // 2 s at 200/s: 400 arrivals, the last due at the end, though the generator last woke at ~2.8 s.
        Assert.Equal(400, due.Count);
        Assert.Equal(2.0, TimeSpan.FromTicks(due[^1] - origin).TotalSeconds, precision: 6);
    }
}
