using Akka.Actor;
using Restock.Actors.Engine.Inventory;

namespace Restock.Actors.Service.Hosting;

/// <summary>Calls into the engine and turns "no answer" into a 503 that tells the caller to retry with the same id.</summary>
internal static class EngineCall
{
    /// <summary>Seconds a caller should wait before retrying: about the time a moving shard needs to start elsewhere.</summary>
    public const int RetryAfterSeconds = 2;

    public static Task<IResult> Run<T>(Func<Task<T>> call, Func<T, IResult> toResult) => Run(call(), toResult);

    /// <summary>The same for a call already made: no closure to allocate on a hot route.</summary>
    public static async Task<IResult> Run<T>(Task<T> call, Func<T, IResult> toResult)
    {
        try
        {
            return toResult(await call);
        }
        catch (Exception e) when (e is StockNotSavedException or StockOutcomeUnknownException or AskTimeoutException or TaskCanceledException)
        {
            return new RetryLater(Results.Problem(
                title: "The engine did not confirm this request.",
                detail: "Its outcome is unknown: retry with the same id; a repeat never applies twice.",
                statusCode: StatusCodes.Status503ServiceUnavailable));
        }
    }

    /// <summary>A 503 with <c>Retry-After</c>, so well-behaved clients back off instead of hammering a moving shard.</summary>
    private sealed class RetryLater(IResult problem) : IResult
    {
        public Task ExecuteAsync(HttpContext httpContext)
        {
            httpContext.Response.Headers.RetryAfter = RetryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
            return problem.ExecuteAsync(httpContext);
        }
    }
}
