using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Routing.Patterns;
using Restock.Actors.Engine.Access;

namespace Restock.Actors.Service.Access;

/// <summary>Who may call a route.</summary>
public enum Scope
{
    /// <summary>No key: the merchant page, the API description.</summary>
    Public,

    /// <summary>Any valid key.</summary>
    AnyKey,

    /// <summary>The operator key only.</summary>
    Operator,

    /// <summary>The platform key (or the operator): trading for any shop.</summary>
    Platform,

    /// <summary>The key of the shop named by the route's <c>{shopId}</c> (or the operator); never the platform.</summary>
    OwnShop,

    /// <summary>The platform, the operator, or a shop key when the refund is that shop's (the route checks; else 404).</summary>
    PlatformOrRefundsShop,
}

/// <summary>The caller a valid key identifies.</summary>
public sealed record Caller(string KeyId, KeyKind Kind, string? ShopId);

/// <summary>
/// The one place that says who may call what: every route the service maps, by method and pattern, with its scope.
/// A route missing here answers only the operator, and the authorization matrix test fails until it is added.
/// </summary>
public static class AccessPolicy
{
    public static readonly IReadOnlyDictionary<string, Scope> Routes = new Dictionary<string, Scope>
    {
        ["GET /me"] = Scope.AnyKey,
        ["POST /keys"] = Scope.Operator,
        ["GET /keys"] = Scope.Operator,
        ["DELETE /keys/{keyId}"] = Scope.Operator,

        ["GET /shops/{shopId}/skus/{skuId}"] = Scope.OwnShop,
        ["PUT /shops/{shopId}/skus/{skuId}/stock"] = Scope.OwnShop,
        ["POST /shops/{shopId}/skus/{skuId}/adjustments"] = Scope.OwnShop,

        ["GET /skus/{skuId}"] = Scope.Platform,
        ["POST /skus/{skuId}/reservations"] = Scope.Platform,
        ["POST /skus/{skuId}/orders/{orderId}/cancel"] = Scope.Platform,
        ["POST /skus/{skuId}/orders/{orderId}/payment"] = Scope.Platform,
        ["POST /skus/{skuId}/orders/{orderId}/shipment"] = Scope.Platform,
        ["POST /refunds"] = Scope.Platform,
        ["GET /orders/{orderId}/refunds/{refundId}"] = Scope.PlatformOrRefundsShop,

        ["GET /shops/{shopId}/settings"] = Scope.OwnShop,
        ["PUT /shops/{shopId}/settings/auto-restock"] = Scope.OwnShop,
        ["PUT /shops/{shopId}/settings/erp-restocks"] = Scope.OwnShop,

        ["GET /shops/{shopId}/ledger"] = Scope.OwnShop,
        ["GET /shops/{shopId}/not-restocked"] = Scope.OwnShop,
        ["GET /shops/{shopId}/refunds/needs-attention"] = Scope.OwnShop,
        ["GET /ledger"] = Scope.Operator,

        ["POST /shops/{shopId}/refunds/{refundId}/skus/{skuId}/restock"] = Scope.OwnShop,
        ["POST /shops/{shopId}/erp/restocks"] = Scope.OwnShop,

        ["POST /operators/whitelist-import"] = Scope.Operator,

        // Probes and the metrics scrape carry no key (as orchestrators and Prometheus are usually set up): they hold
        // counts and latencies, never a shop's data. The cluster view names the deployment's nodes: operator only.
        ["GET /healthz"] = Scope.Public,
        ["GET /readyz"] = Scope.Public,
        ["* /metrics"] = Scope.Public, // the Prometheus exporter's endpoint answers every method
        ["GET /cluster"] = Scope.Operator,

        ["GET /openapi/{documentName}.json"] = Scope.Public,
        ["GET /docs/{documentName?}"] = Scope.Public,
        ["GET /docs/scalar.js"] = Scope.Public,
        ["GET /docs/scalar.aspnetcore.js"] = Scope.Public,
        ["GET /docs/favicon.svg"] = Scope.Public,
    };

    /// <summary>"METHOD /pattern" of a routed endpoint, the key of <see cref="Routes"/> ("*" for any method); none for an endpoint without a route.</summary>
    public static IEnumerable<string> Keys(Endpoint endpoint)
    {
        if (endpoint is not RouteEndpoint route) yield break;
        var pattern = "/" + (route.RoutePattern.RawText ?? "").Trim('/');
        var methods = endpoint.Metadata.GetMetadata<HttpMethodMetadata>()?.HttpMethods ?? ["*"];
        foreach (var method in methods) yield return $"{method} {pattern}";
    }

    /// <summary>
    /// The display name of the endpoint ASP.NET Core routing selects when a path matches but its method does not: it
    /// answers 405 with an Allow header, holds no data, and carries neither route pattern nor route values.
    /// </summary>
    private const string MethodNotAllowedEndpoint = "405 HTTP Method Not Supported";

    /// <summary><see cref="Routes"/> by method and pattern, so a request's lookup builds no string.</summary>
    private static readonly Dictionary<(string Method, string Pattern), Scope> ByMethodAndPattern =
        Routes.ToDictionary(r => (r.Key[..r.Key.IndexOf(' ')], r.Key[(r.Key.IndexOf(' ') + 1)..]), r => r.Value);

    /// <summary>Each routed endpoint's pattern as written in <see cref="Routes"/>; as many entries as the service maps.</summary>
    private static readonly ConcurrentDictionary<RouteEndpoint, string> Patterns = new();

    /// <summary>The scope of an endpoint; null when it is not listed (then only the operator may call it).</summary>
    public static Scope? For(Endpoint endpoint, string method)
    {
        if (endpoint.Metadata.GetMetadata<Microsoft.AspNetCore.Authorization.IAllowAnonymous>() is not null) return Scope.Public;
        // Any valid key learns only which methods a path takes (the API description says as much); no key is still 401.
        if (endpoint is not RouteEndpoint && endpoint.DisplayName == MethodNotAllowedEndpoint) return Scope.AnyKey;
        if (endpoint is not RouteEndpoint route) return null;
        var pattern = Patterns.GetOrAdd(route, static r => "/" + (r.RoutePattern.RawText ?? "").Trim('/'));
        return ByMethodAndPattern.TryGetValue((method, pattern), out var scope) ? scope
            : method == "HEAD" && ByMethodAndPattern.TryGetValue(("GET", pattern), out var get) ? get
            : ByMethodAndPattern.TryGetValue(("*", pattern), out var any) ? any
            : null;
    }

    public static bool Allows(Scope? scope, Caller caller, RouteValueDictionary routeValues) => caller.Kind == KeyKind.Operator || scope switch
    {
        Scope.Public or Scope.AnyKey => true,
        Scope.Platform => caller.Kind == KeyKind.Platform,
        Scope.OwnShop => caller.Kind == KeyKind.Shop && routeValues.TryGetValue("shopId", out var shop) && (shop as string) == caller.ShopId,
        Scope.PlatformOrRefundsShop => caller.Kind is KeyKind.Platform or KeyKind.Shop,
        _ => false,
    };
}

/// <summary>
/// Authenticates the bearer key of every request to a non-public route and applies <see cref="AccessPolicy"/>:
/// no key, an unknown or a revoked one is 401; a key outside the route's scope is 403. Keys are looked up through
/// <see cref="VerifiedKeys"/> (see there how soon a revocation holds).
/// </summary>
internal sealed class AccessMiddleware(RequestDelegate next, VerifiedKeys keys, OperatorKey operatorKey)
{
    private const string Bearer = "Bearer ";

    private static readonly Caller ConfiguredOperator = new(OperatorKey.KeyId, KeyKind.Operator, null);

    /// <summary>Not async while the key is remembered (most requests): no state machine of its own per request.</summary>
    public Task InvokeAsync(HttpContext context)
    {
        if (context.GetEndpoint() is not { } endpoint)
            return next(context);
        var scope = AccessPolicy.For(endpoint, context.Request.Method);
        if (scope == Scope.Public)
            return next(context);
        var caller = Authenticate(context);
        return caller.IsCompletedSuccessfully ? Admit(context, scope, caller.Result) : AdmitOnceRead(context, scope, caller);
    }

    private async Task AdmitOnceRead(HttpContext context, Scope? scope, ValueTask<Caller?> caller) =>
        await Admit(context, scope, await caller);

    private Task Admit(HttpContext context, Scope? scope, Caller? caller)
    {
        if (caller is null)
        {
            context.Response.Headers.WWWAuthenticate = "Bearer";
            return Problem(context, StatusCodes.Status401Unauthorized, "A valid API key is required.",
                "send Authorization: Bearer <key>; this key is missing, unknown or revoked");
        }
        if (!AccessPolicy.Allows(scope, caller, context.Request.RouteValues))
        {
            return Problem(context, StatusCodes.Status403Forbidden, "This key may not do that; nothing was changed.",
                $"a {caller.Kind.ToString().ToLowerInvariant()} key{(caller.ShopId is null ? "" : " of " + caller.ShopId)} is outside this route's scope");
        }
        // A feature, not Items: Items makes a dictionary (and its feature) per request.
        context.Features.Set(caller);
        return next(context);
    }

    public static Caller CallerOf(HttpContext context) =>
        context.Features.Get<Caller>() ?? throw new InvalidOperationException("the route ran without an authenticated caller");

    /// <summary>
    /// Answers from the connection's memory when this keep-alive connection sent the same header before and nothing
    /// was forgotten since (no SHA-256, no lookup); else without a state machine or a copy of the secret when the key is
    /// remembered by the node (most requests).
    /// </summary>
    private ValueTask<Caller?> Authenticate(HttpContext context)
    {
        var header = context.Request.Headers.Authorization.ToString();
        var connection = ConnectionMemory(context);
        if (connection is not null && connection.TryGetValue(ConnectionCallerKey, out var item) && item is ConnectionCaller known
            && known.Header == header && keys.StillTrusted(known.Forgets, known.Until))
            return ValueTask.FromResult<Caller?>(known.Caller);
        if (!header.StartsWith(Bearer, StringComparison.OrdinalIgnoreCase)) return ValueTask.FromResult<Caller?>(null);
        var secret = header.AsSpan(Bearer.Length).Trim();
        // Read before the lookup: a key forgotten while it runs is not kept for the connection's next request.
        var forgets = keys.Forgets;
        if (operatorKey.Matches(secret))
            return ValueTask.FromResult<Caller?>(Remember(connection, header, ConfiguredOperator, forgets, long.MaxValue));
        // No RequestAborted: reading it creates a token source per request, and a key read is short.
        var lookup = keys.FindTrustedAsync(secret, CancellationToken.None);
        return lookup.IsCompletedSuccessfully ? ValueTask.FromResult(Found(connection, header, forgets, lookup.Result)) : Read(connection, header, forgets, lookup);

        static async ValueTask<Caller?> Read(IDictionary<object, object?>? connection, string header, long forgets, ValueTask<TrustedKey> lookup) =>
            Found(connection, header, forgets, await lookup);
    }

    /// <summary>
    /// The items of an HTTP/1.x connection, whose requests come one after another; none for HTTP/2 and 3 (their
    /// streams run at once and would share the dictionary) or a host without connections (tests in memory).
    /// </summary>
    private static IDictionary<object, object?>? ConnectionMemory(HttpContext context) =>
        HttpProtocol.IsHttp11(context.Request.Protocol) || HttpProtocol.IsHttp10(context.Request.Protocol)
            ? context.Features.Get<IConnectionItemsFeature>()?.Items
            : null;

    private static Caller? Found(IDictionary<object, object?>? connection, string header, long forgets, TrustedKey found) =>
        found.Key is { } key ? Remember(connection, header, new Caller(key.KeyId, key.Kind, key.ShopId), forgets, found.Until) : null;

    private static Caller Remember(IDictionary<object, object?>? connection, string header, Caller caller, long forgets, long until)
    {
        if (connection is not null) connection[ConnectionCallerKey] = new ConnectionCaller(header, caller, forgets, until);
        return caller;
    }

    /// <summary>The key of <see cref="ConnectionCaller"/> among a connection's items.</summary>
    private static readonly object ConnectionCallerKey = new();

    /// <summary>
    /// The caller a connection's last authorization header resolved to, trusted while no key has been forgotten since
    /// (<paramref name="Forgets"/>) and until the node's own trust in the key ends (<paramref name="Until"/>, UTC ticks).
    /// The header (its secret) lives as long as the connection, as Kestrel's own copy of a repeated header does.
    /// </summary>
    private sealed record ConnectionCaller(string Header, Caller Caller, long Forgets, long Until);

    private static Task Problem(HttpContext context, int status, string title, string detail) =>
        Results.Problem(title: title, detail: detail, statusCode: status).ExecuteAsync(context);
}

/// <summary>The operator key given in the configuration (<c>RESTOCK_OPERATOR_KEY</c>), if any; compared in constant time.</summary>
public sealed class OperatorKey(string? secret)
{
    public const string KeyId = "operator-env";

    private readonly byte[]? _hash = string.IsNullOrEmpty(secret) ? null : SHA256.HashData(Encoding.UTF8.GetBytes(secret));

    public bool Configured => _hash is not null;

    public bool Matches(ReadOnlySpan<char> candidate)
    {
        if (_hash is null) return false;
        var length = Encoding.UTF8.GetByteCount(candidate);
        Span<byte> utf8 = length <= 512 ? stackalloc byte[length] : new byte[length];
        Encoding.UTF8.GetBytes(candidate, utf8);
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(utf8, hash);
        return CryptographicOperations.FixedTimeEquals(_hash, hash);
    }
}
