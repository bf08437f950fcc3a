using Restock.Actors.Engine.Access;
using Restock.Actors.Service.Hosting;

namespace Restock.Actors.Service.Access;

public sealed record IssueKeyBody(string? Kind, string? ShopId, string? Label);

public sealed record MeResponse(string KeyId, KeyKind Kind, string? ShopId);

/// <summary>A key as listed: never its secret.</summary>
public sealed record KeyResponse(string KeyId, KeyKind Kind, string? ShopId, string Label, DateTimeOffset CreatedAt, DateTimeOffset? RevokedAt)
{
    public static KeyResponse From(ApiKey k) => new(k.KeyId, k.Kind, k.ShopId, k.Label, k.CreatedAt, k.RevokedAt);
}

/// <summary>The answer that creates a key: the only place its secret <c>key</c> ever appears.</summary>
public sealed record IssuedKeyResponse(string KeyId, string Key, KeyKind Kind, string? ShopId, string Label, DateTimeOffset CreatedAt);

public sealed record KeyListResponse(IReadOnlyList<KeyResponse> Keys);

internal static class AccessEndpoints
{
    /// <summary>The key store, the configured operator key, and the start-up step that makes sure an operator key exists.</summary>
    public static IServiceCollection AddAccess(this IServiceCollection services, Akka.Configuration.Config config, string operatorKey, string url)
    {
        services.AddSingleton(ApiKeyStore.From(config));
        services.AddSingleton(sp => VerifiedKeys.From(config, sp.GetRequiredService<ApiKeyStore>(), TimeProvider.System));
        services.AddSingleton(new OperatorKey(operatorKey));
        services.AddHostedService(sp => new OperatorKeyBootstrap(
            sp.GetRequiredService<ApiKeyStore>(), sp.GetRequiredService<OperatorKey>(), url, Console.Out));
        // Registered after the engine's host, so the actor system it needs is up when it starts.
        services.AddSingleton<KeyRevocationsHost>();
        services.AddHostedService(sp => sp.GetRequiredService<KeyRevocationsHost>());
        services.AddSingleton(sp => sp.GetRequiredService<KeyRevocationsHost>().Revocations);
        return services;
    }

    public static void MapAccess(this IEndpointRouteBuilder app)
    {
        app.MapGet("/me", (HttpContext context) =>
        {
            var caller = AccessMiddleware.CallerOf(context);
            return Results.Ok(new MeResponse(caller.KeyId, caller.Kind, caller.ShopId));
        })
            .Answers<MeResponse>("Who this key is", StatusCodes.Status200OK);

        app.MapPost("/keys", async (HttpRequest request, ApiKeyStore keys, CancellationToken ct) =>
        {
            var (body, problem) = await Requests.ReadJson<IssueKeyBody>(request);
            if (problem is not null) return problem;
            var check = new Requests();
            var kind = body!.Kind switch
            {
                "shop" => KeyKind.Shop,
                "platform" => KeyKind.Platform,
                _ => (KeyKind?)null,
            };
            if (kind is null) check.Add("kind", "must be \"shop\" or \"platform\"");
            string? shop = null;
            if (kind == KeyKind.Shop) shop = check.Id("shopId", body.ShopId);
            else if (body.ShopId is not null) check.Add("shopId", "only a shop key names a shop");
            var label = check.Text("label", body.Label, kind == KeyKind.Shop ? $"{shop} key" : "platform key");
            if (check.Problem is { } bad) return bad;

            var issued = await keys.IssueAsync(kind!.Value, shop, label, DateTimeOffset.UtcNow, ct);
            var k = issued.Key;
            return Results.Created($"/keys/{k.KeyId}", new IssuedKeyResponse(k.KeyId, issued.Secret, k.Kind, k.ShopId, k.Label, k.CreatedAt));
        })
            .Takes<IssueKeyBody>().Answers<IssuedKeyResponse>("Issues a shop or platform key; its secret is shown only in this answer", StatusCodes.Status201Created, StatusCodes.Status400BadRequest);

        app.MapGet("/keys", async (ApiKeyStore keys, CancellationToken ct) =>
            Results.Ok(new KeyListResponse((await keys.ListAsync(ct)).Select(KeyResponse.From).ToList())))
            .Answers<KeyListResponse>("Every key, without secrets", StatusCodes.Status200OK);

        app.MapDelete("/keys/{keyId}", async (string keyId, ApiKeyStore keys, KeyRevocations revocations, CancellationToken ct) =>
        {
            var check = new Requests();
            var id = check.Id("keyId", keyId);
            if (check.Problem is { } bad) return bad;
            if (!await keys.RevokeAsync(id, DateTimeOffset.UtcNow, ct))
                return Results.Problem(title: "Not found.", detail: $"no key {id}", statusCode: StatusCodes.Status404NotFound);
            revocations.Revoked(id);
            return Results.NoContent();
        })
            .WithSummary("Revokes a key at once, on every node").Produces(StatusCodes.Status204NoContent).Problems(StatusCodes.Status400BadRequest, StatusCodes.Status404NotFound);
    }
}

/// <summary>Subscribes this node to key revocations once the engine's actor system is up.</summary>
internal sealed class KeyRevocationsHost(EngineHost engine, VerifiedKeys keys) : IHostedService
{
    private static readonly TimeSpan SubscribeTimeout = TimeSpan.FromSeconds(10);

    private KeyRevocations? _revocations;

    public KeyRevocations Revocations => _revocations ?? throw new InvalidOperationException("key revocations have not started yet");

    public async Task StartAsync(CancellationToken cancellationToken) =>
        _revocations = await KeyRevocations.StartAsync(engine.Engine.System, keys, SubscribeTimeout);

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
