using Akka.Event;

namespace Restock.Actors.Engine.Hosting;

/// <summary>
/// Asks an entity to passivate now, as its idle check would, if nothing is under way (a write, a line being asked, a
/// payment deadline to watch); otherwise it is ignored. Fault schedules use it to passivate entities at chosen moments.
/// Sent through an actor selection, it may find the entity stopped: not worth a dead-letter line.
/// </summary>
public sealed class PassivateIfIdle : IDeadLetterSuppression
{
    public static readonly PassivateIfIdle Instance = new();

    private PassivateIfIdle()
    {
    }
}
