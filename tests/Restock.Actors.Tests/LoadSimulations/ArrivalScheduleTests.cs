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
}
