using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;
using Scalar.AspNetCore;

namespace Restock.Actors.Service.Access;

/// <summary>
/// The OpenAPI document at <c>/openapi/v1.json</c> (ASP.NET Core's generator) and the Scalar reference at
/// <c>/docs</c>. Each operation's key requirement and 401/403 answers come from <see cref="AccessPolicy"/>, the
/// same table the middleware enforces, so the description cannot drift from what is checked.
/// </summary>
internal static class ApiDescription
{
    public const string SchemeName = "apiKey";

    public static IServiceCollection AddApiDescription(this IServiceCollection services) => services.AddOpenApi(options =>
    {
        options.AddDocumentTransformer((document, _, _) =>
        {
            document.Info.Title = "Restock.Actors";
            document.Info.Description =
                "Stock of flash-sale SKUs, per-shop restock of refunds before shipment, and the restock ledger. " +
                "Every route except this description takes Authorization: Bearer <key>: a shop key (its own shop), " +
                "a platform key (trading for any shop) or the operator key (every route). Errors are problem details.";
            document.Components ??= new OpenApiComponents();
            document.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>();
            document.Components.SecuritySchemes[SchemeName] = new OpenApiSecurityScheme
            {
                Type = SecuritySchemeType.Http,
                Scheme = "bearer",
                Description = "An API key: restock_ followed by 43 characters. Shown once when issued (POST /keys).",
            };
            // The Prometheus exporter's endpoint is not a route handler, so the generator does not see it.
            document.Paths ??= new OpenApiPaths();
            document.Paths.TryAdd("/metrics", new OpenApiPathItem
            {
                Operations = new Dictionary<HttpMethod, OpenApiOperation>
                {
                    [HttpMethod.Get] = new()
                    {
                        Summary = "Metrics in Prometheus text format",
                        Description = $"Scope: {Describe(Scope.Public)}.",
                        Responses = new OpenApiResponses
                        {
                            ["200"] = new OpenApiResponse { Description = "Prometheus text exposition format" },
                            ["401"] = new OpenApiResponse { Description = "No key, or an unknown or revoked one." },
                            ["403"] = new OpenApiResponse { Description = "The key is not the operator's." },
                        },
                    },
                },
            });
            return Task.CompletedTask;
        });
        options.AddOperationTransformer((operation, context, _) =>
        {
            var description = context.Description;
            var key = $"{description.HttpMethod} /{(description.RelativePath ?? "").Split('?')[0].Trim('/')}";
            if (!AccessPolicy.Routes.TryGetValue(key, out var scope) || scope == Scope.Public) return Task.CompletedTask;
            operation.Security = [new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(SchemeName, context.Document)] = [] }];
            operation.Description = $"Scope: {Describe(scope)}." + (operation.Description is { Length: > 0 } d ? " " + d : "");
            operation.Responses ??= new OpenApiResponses();
            operation.Responses.TryAdd("401", new OpenApiResponse { Description = "No key, or an unknown or revoked one; nothing was changed." });
            if (scope != Scope.AnyKey)
                operation.Responses.TryAdd("403", new OpenApiResponse { Description = "The key is outside this route's scope; nothing was changed." });
            return Task.CompletedTask;
        });
    });

    public static void MapApiDescription(this WebApplication app)
    {
        app.MapOpenApi();
        app.MapScalarApiReference("/docs", options => options.WithTitle("Restock.Actors API").DisableDefaultFonts());
    }

    private static string Describe(Scope scope) => scope switch
    {
        Scope.Public => "public, no key",
        Scope.AnyKey => "any valid key",
        Scope.Operator => "the operator key",
        Scope.Platform => "a platform key (or the operator key)",
        Scope.OwnShop => "the key of the shop in the path (or the operator key); never a platform key",
        Scope.PlatformOrRefundsShop => "a platform key, the operator key, or the key of the refund's shop (another shop gets 404)",
        _ => scope.ToString(),
    };
}
