using OpenTelemetry.Metrics;
using Restock.Actors.Engine.Hosting;

namespace Restock.Actors.Service.Hosting;

/// <summary>
/// What operators and orchestrators poll: <c>/healthz</c> (the process answers), <c>/readyz</c> (send traffic
/// here), <c>/metrics</c> (Prometheus text) and <c>/cluster</c> (members and where the shards are).
/// </summary>
internal static class OperationsEndpoints
{
    private static readonly TimeSpan CheckTimeout = TimeSpan.FromSeconds(2);

    public static IServiceCollection AddRestockMetrics(this IServiceCollection services)
    {
        services.AddOpenTelemetry().WithMetrics(metrics => metrics
            .AddMeter(RestockMetrics.MeterName)
            // The default buckets (0-10,000 in coarse steps) say nothing about millisecond latencies.
            .AddView("restock.journal.write_latency", new ExplicitBucketHistogramConfiguration
            {
                Boundaries = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000],
            })
            .AddView("restock.ledger.projection_lag", new ExplicitBucketHistogramConfiguration
            {
                Boundaries = [100, 200, 500, 1000, 2000, 5000, 10000, 20000, 60000],
            })
            .AddView("restock.journal.batch_size", new ExplicitBucketHistogramConfiguration
            {
                Boundaries = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000],
            })
            .AddPrometheusExporter());
        return services;
    }

    public static void MapOperations(this WebApplication app)
    {
        app.MapGet("/healthz", () => Results.Ok(new { status = "alive" }));
        app.MapGet("/readyz", async (EngineHost host) =>
        {
            if (host.Started is not { } engine)
                return Results.Json(new { ready = false, memberStatus = "Starting" }, statusCode: StatusCodes.Status503ServiceUnavailable);
            var readiness = await engine.ReadinessAsync(CheckTimeout);
            return Results.Json(readiness, statusCode: readiness.Ready ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable);
        });
        app.MapPrometheusScrapingEndpoint("/metrics");
        app.MapGet("/cluster", (EngineHost host) => EngineCall.Run(() => host.Engine.ClusterViewAsync(CheckTimeout), Results.Ok));
    }
}
