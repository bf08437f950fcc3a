using Akka.Actor;
using Restock.Actors.Engine.Inventory;

namespace Restock.Actors.Service.Hosting;

/// <summary>Calls into the engine and turns "no answer" into a 503 that tells the caller to retry with the same id.</summary>
internal static class EngineCall
{
    public static async Task<IResult> Run<T>(Func<Task<T>> call, Func<T, IResult> toResult)
    {
        try
        {
            return toResult(await call());
        }
        catch (Exception e) when (e is StockNotSavedException or AskTimeoutException or TaskCanceledException)
        {
            return Results.Problem(
                title: "The engine did not confirm this request.",
                detail: "Its outcome is unknown: retry with the same id; a repeat never applies twice.",
                statusCode: StatusCodes.Status503ServiceUnavailable);
        }
    }
}
