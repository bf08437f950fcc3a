using Akka.Actor;
using Akka.Event;

namespace Restock.Actors.Engine.Hosting;

/// <summary>
/// An entity's idle period, watched without Akka's receive timeout: that cancels and schedules a timer on every
/// message the entity receives (a registration, a cancellation token and a handle, which stay in the scheduler's wheel
/// until their time comes: on a busy node they survive every gen-0 collection). Here one check is pending at a time,
/// due when the entity would have been idle for the whole period; a message only notes its time.
/// </summary>
public sealed class IdleWatch
{
    /// <summary>The check. It is never cancelled, so it may reach the entity after it stopped: not worth a dead-letter line.</summary>
    public sealed class Check : IDeadLetterSuppression
    {
        public static readonly Check Instance = new();

        private Check()
        {
        }
    }

    // The scheduler's ticks (10 ms) may deliver a check this much before it was due.
    private const long Earliness = 100;

    private readonly TimeSpan _period;
    private long _lastMessageAtMs = Environment.TickCount64;
    private long _checkAtMs;

    public IdleWatch(TimeSpan period) => _period = period;

    /// <summary>Notes a message other than <see cref="Check"/>.</summary>
    public void Seen() => _lastMessageAtMs = Environment.TickCount64;

    /// <summary>Schedules the first check, a whole period on.</summary>
    public void Start(IActorContext context) => CheckIn(context, _period);

    /// <summary>
    /// On a <see cref="Check"/>: true when the entity has received nothing for the whole period (it then decides, and
    /// calls <see cref="Start"/> again if it stays). Otherwise the next check is scheduled for when it would be idle that long.
    /// </summary>
    public bool IsIdle(IActorContext context)
    {
        var now = Environment.TickCount64;
        // A check scheduled by an earlier incarnation (before a restart) comes early: only the latest one goes on.
        if (now < _checkAtMs - Earliness) return false;
        var idleFor = TimeSpan.FromMilliseconds(now - _lastMessageAtMs);
        if (idleFor >= _period) return true;
        CheckIn(context, _period - idleFor);
        return false;
    }

    /// <summary>Schedules the next check <paramref name="delay"/> on (an entity that is idle but cannot stop yet).</summary>
    public void CheckIn(IActorContext context, TimeSpan delay)
    {
        _checkAtMs = Environment.TickCount64 + (long)delay.TotalMilliseconds;
        // Deliberately not cancelable (see the summary); at most one check is pending and it ends within one period.
#pragma warning disable AK1004
        context.System.Scheduler.ScheduleTellOnce(delay, context.Self, Check.Instance, ActorRefs.NoSender);
#pragma warning restore AK1004
    }
}
