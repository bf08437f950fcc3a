using Akka.Actor;

namespace Restock.Actors.Tests.Support;

/// <summary>
/// Every wait of a test on an actor or the engine has an end: Akka's <c>Ask</c> without a timeout waits forever (its
/// default ask-timeout is infinite), so one lost answer hung a whole test run with no name to it. A lost answer now
/// fails the test that waited, naming whom it asked and what.
/// </summary>
public static class Bounded
{
    /// <summary>Generous for a loaded CI machine: answers take milliseconds, and no test relies on this figure.</summary>
    public static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);

    /// <summary>
    /// Asks <paramref name="target"/>; with no answer in time it throws Akka's <see cref="AskTimeoutException"/> (tests
    /// that expect a lost answer catch that) with a message naming the actor and the question.
    /// </summary>
    public static async Task<T> AskBounded<T>(this ICanTell target, object message, TimeSpan? timeout = null)
    {
        var limit = timeout ?? Wait;
        try
        {
            return await target.Ask<T>(message, limit);
        }
        catch (AskTimeoutException)
        {
            throw new AskTimeoutException($"{Name(target)} did not answer {message} within {limit}");
        }
    }

    /// <summary>Waits for <paramref name="task"/>, failing with a message naming <paramref name="what"/> if it does not end in time.</summary>
    public static async Task<T> Within<T>(this Task<T> task, string what, TimeSpan? timeout = null)
    {
        await ((Task)task).Within(what, timeout);
        return await task;
    }

    /// <inheritdoc cref="Within{T}"/>
    public static async Task Within(this Task task, string what, TimeSpan? timeout = null)
    {
        var limit = timeout ?? Wait;
        try
        {
            await task.WaitAsync(limit);
        }
        catch (TimeoutException e) when (!task.IsCompleted)
        {
            throw new TimeoutException($"{what} did not happen within {limit}", e);
        }
    }

    private static string Name(ICanTell target) => target is IActorRef actor ? actor.Path.ToString() : target.ToString() ?? "the actor";
}
