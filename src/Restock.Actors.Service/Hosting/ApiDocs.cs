namespace Restock.Actors.Service.Hosting;

/// <summary>
/// What a route takes and answers, for the OpenAPI document: the handlers read their JSON themselves (to name the
/// bad field in a 400), so the body type is declared here. Keys and scopes are added by <c>Access/ApiDescription</c>.
/// </summary>
internal static class ApiDocs
{
    public static RouteHandlerBuilder Answers<T>(this RouteHandlerBuilder route, string summary, int status, params int[] problems)
    {
        route.WithSummary(summary).Produces<T>(status);
        return route.Problems(problems);
    }

    public static RouteHandlerBuilder Problems(this RouteHandlerBuilder route, params int[] problems)
    {
        foreach (var status in problems)
            route = status == StatusCodes.Status400BadRequest ? route.ProducesValidationProblem() : route.ProducesProblem(status);
        return route;
    }

    public static RouteHandlerBuilder Takes<T>(this RouteHandlerBuilder route) where T : notnull =>
        route.Accepts<T>("application/json");
}
