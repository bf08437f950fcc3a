using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Restock.Actors.Service.Access;
using Restock.Actors.Tests.Support;
using Xunit.Abstractions;

namespace Restock.Actors.Tests.Access;

public enum Caller
{
    NoKey,
    UnknownKey,
    RevokedKey,
    OtherShopKey,
    OwnShopKey,
    PlatformKey,
    OperatorKey,
}

/// <summary>
/// One request per route against shop-a's data, from every kind of caller. <paramref name="Scope"/> is who the
/// contract lets in, written here independently of the service's own policy; <paramref name="Success"/> are the
/// statuses a caller inside the scope may get (a repeat may answer differently from the first call).
/// </summary>
public sealed record RouteCase(string Route, Scope Scope, string Path, object? Body, int[] Success, Func<MatrixWorld, Task>? Settle = null)
{
    public override string ToString() => Route;
}

/// <summary>
/// The authorization matrix: every route × {no key, unknown key, revoked key, another shop's key, the shop's own key,
/// a platform key, the operator key} → the status the contract gives, and nothing changed wherever it is refused.
/// It fails when the service maps a route that this matrix (or the access policy) does not cover.
/// </summary>
public sealed class AuthorizationMatrixTests(MatrixWorld world, ITestOutputHelper output) : IClassFixture<MatrixWorld>
{
    private static readonly int[] Ok = [200];

    public static readonly IReadOnlyList<RouteCase> Cases =
    [
        new("GET /me", Scope.AnyKey, "/me", null, Ok),
        new("POST /keys", Scope.Operator, "/keys", new { kind = "platform", label = "matrix" }, [201]),
        new("GET /keys", Scope.Operator, "/keys", null, Ok),
        new("DELETE /keys/{keyId}", Scope.Operator, "/keys/{doomed}", null, [204]),
        new("GET /shops/{shopId}/skus/{skuId}", Scope.OwnShop, "/shops/shop-a/skus/sku-a", null, Ok),
        new("PUT /shops/{shopId}/skus/{skuId}/stock", Scope.OwnShop, "/shops/shop-a/skus/sku-a/stock", new { adjustmentId = "m-set", quantity = 50 }, Ok),
        new("POST /shops/{shopId}/skus/{skuId}/adjustments", Scope.OwnShop, "/shops/shop-a/skus/sku-a/adjustments", new { adjustmentId = "m-adj", delta = 1 }, Ok),
        new("GET /skus/{skuId}", Scope.Platform, "/skus/sku-a", null, Ok),
        new("POST /skus/{skuId}/reservations", Scope.Platform, "/skus/sku-a/reservations", new { orderId = "o-matrix", quantity = 1 }, Ok),
        new("POST /skus/{skuId}/orders/{orderId}/cancel", Scope.Platform, "/skus/sku-a/orders/o-cancel/cancel", null, Ok),
        new("POST /skus/{skuId}/orders/{orderId}/payment", Scope.Platform, "/skus/sku-a/orders/o-pay/payment", null, Ok),
        new("POST /skus/{skuId}/orders/{orderId}/shipment", Scope.Platform, "/skus/sku-a/orders/o-ship/shipment", null, Ok),
        new("POST /refunds", Scope.Platform, "/refunds",
            new { refundId = "r-matrix", orderId = "o-refund", shopId = "shop-a", lines = new[] { new { skuId = "sku-a", quantity = 1 } } }, [202, 200],
            w => w.RefundFinished("o-refund", "r-matrix")),
        new("GET /orders/{orderId}/refunds/{refundId}", Scope.PlatformOrRefundsShop, "/orders/o-refund/refunds/r-get", null, Ok),
        new("GET /shops/{shopId}/settings", Scope.OwnShop, "/shops/shop-a/settings", null, Ok),
        new("PUT /shops/{shopId}/settings/auto-restock", Scope.OwnShop, "/shops/shop-a/settings/auto-restock", new { on = false, actor = "matrix" }, Ok),
        new("PUT /shops/{shopId}/settings/erp-restocks", Scope.OwnShop, "/shops/shop-a/settings/erp-restocks", new { on = false, actor = "matrix" }, Ok),
        new("GET /shops/{shopId}/ledger", Scope.OwnShop, "/shops/shop-a/ledger", null, Ok),
        new("GET /shops/{shopId}/not-restocked", Scope.OwnShop, "/shops/shop-a/not-restocked", null, Ok),
        new("GET /shops/{shopId}/refunds/needs-attention", Scope.OwnShop, "/shops/shop-a/refunds/needs-attention", null, Ok),
        new("GET /ledger", Scope.Operator, "/ledger?shopId=shop-a", null, Ok),
        new("POST /shops/{shopId}/refunds/{refundId}/skus/{skuId}/restock", Scope.OwnShop, "/shops/shop-a/refunds/r-manual/skus/sku-a/restock", new { actor = "matrix" }, Ok),
        new("POST /shops/{shopId}/erp/restocks", Scope.OwnShop, "/shops/shop-a/erp/restocks",
            new { refundId = "r-erp", orderId = "o-erp", skuId = "sku-a", quantity = 1 }, Ok),
        new("GET /cluster", Scope.Operator, "/cluster", null, Ok),
        new("POST /operators/whitelist-import", Scope.Operator, "/operators/whitelist-import", new { shopIds = new[] { "shop-w" } }, Ok),
    ];

    public static TheoryData<RouteCase> Rows => new(Cases);

    /// <summary>What the contract gives each caller on a route of this scope; 0 = one of the route's success statuses.</summary>
    private static int Expected(Scope scope, Caller caller) => (scope, caller) switch
    {
        (_, Caller.NoKey or Caller.UnknownKey or Caller.RevokedKey) => 401,
        (_, Caller.OperatorKey) => 0,
        (Scope.AnyKey, _) => 0,
        (Scope.Platform, Caller.PlatformKey) => 0,
        (Scope.OwnShop, Caller.OwnShopKey) => 0,
        (Scope.PlatformOrRefundsShop, Caller.PlatformKey or Caller.OwnShopKey) => 0,
        (Scope.PlatformOrRefundsShop, Caller.OtherShopKey) => 404, // another shop's refund: its existence is not told
        _ => 403,
    };

    [Theory]
    [MemberData(nameof(Rows))]
    public async Task Each_caller_gets_the_status_of_its_scope_and_a_refusal_changes_nothing(RouteCase row)
    {
        var scope = row.Scope;
        var method = row.Route.StartsWith('*') ? HttpMethod.Get : new HttpMethod(row.Route.Split(' ')[0]);
        var path = row.Path.Replace("{doomed}", world.DoomedKeyId);
        var callers = Enum.GetValues<Caller>().OrderBy(c => Expected(scope, c) == 0).ToList();

        var before = await world.State();
        foreach (var caller in callers)
        {
            var expected = Expected(scope, caller);
            if (expected == 0) continue;
            var (status, body) = await world.Send(caller, method, path, row.Body);
            output.WriteLine($"{row.Route} as {caller}: {status}");
            Assert.True(status == expected, $"{row.Route} as {caller}: expected {expected}, got {status} {body}");
            if (status is 401 or 403 or 404)
                Assert.Equal("application/problem+json", (await world.LastContentType())?.MediaType);
        }
        Assert.Equal(before, await world.State());

        foreach (var caller in callers.Where(c => Expected(scope, c) == 0))
        {
            var (status, body) = await world.Send(caller, method, path, row.Body);
            output.WriteLine($"{row.Route} as {caller}: {status}");
            Assert.True(row.Success.Contains(status), $"{row.Route} as {caller}: expected {string.Join(" or ", row.Success)}, got {status} {body}");
        }
        if (row.Settle is not null) await row.Settle(world);
    }

    [Fact]
    public void Every_route_the_service_maps_has_a_scope_and_a_row_in_the_matrix()
    {
        var endpoints = world.Factory.Services.GetRequiredService<EndpointDataSource>().Endpoints;
        var mapped = endpoints.SelectMany(AccessPolicy.Keys).Distinct().ToList();
        var explicitlyPublic = endpoints.Where(e => e.Metadata.GetMetadata<IAllowAnonymous>() is not null).SelectMany(AccessPolicy.Keys).ToHashSet();
        var covered = Cases.Select(c => c.Route).ToHashSet();

        var unlisted = mapped.Where(r => !AccessPolicy.Routes.ContainsKey(r) && !explicitlyPublic.Contains(r)).ToList();
        Assert.True(unlisted.Count == 0, "routes without a scope in AccessPolicy: " + string.Join(", ", unlisted));
        var untested = mapped.Where(r => AccessPolicy.Routes.TryGetValue(r, out var s) && s != Scope.Public && !covered.Contains(r)).ToList();
        Assert.True(untested.Count == 0, "routes missing from the authorization matrix: " + string.Join(", ", untested));
        var stale = AccessPolicy.Routes.Keys.Concat(covered).Where(r => !mapped.Contains(r)).Distinct().ToList();
        Assert.True(stale.Count == 0, "scopes or matrix rows for routes the service does not map: " + string.Join(", ", stale));
    }

    [Fact]
    public async Task A_shop_naming_itself_on_another_shops_sku_or_refund_finds_nothing_and_changes_nothing()
    {
        var before = await world.State();
        foreach (var (method, path, body) in new (HttpMethod, string, object?)[]
                 {
                     (HttpMethod.Get, "/shops/shop-b/skus/sku-a", null),
                     (HttpMethod.Put, "/shops/shop-b/skus/sku-a/stock", new { adjustmentId = "steal", quantity = 0 }),
                     (HttpMethod.Post, "/shops/shop-b/skus/sku-a/adjustments", new { adjustmentId = "steal", delta = -1 }),
                     (HttpMethod.Post, "/shops/shop-b/refunds/r-get/skus/sku-a/restock", new { actor = "mallory" }),
                     (HttpMethod.Post, "/shops/shop-b/erp/restocks", new { refundId = "r-get", orderId = "o-refund", skuId = "sku-a", quantity = 1 }),
                 })
        {
            var (status, text) = await world.Send(Caller.OtherShopKey, method, path, body);
            Assert.True(status == 404, $"{method} {path}: expected 404, got {status} {text}");
        }
        Assert.Equal(before, await world.State());
    }

    [Fact]
    public async Task A_shop_named_by_a_refund_reads_only_the_lines_of_skus_it_owns()
    {
        await world.Must(200, HttpMethod.Post, "/skus/sku-b/reservations", new { orderId = "o-mixed", quantity = 2 });
        await world.Must(200, HttpMethod.Post, "/skus/sku-b/orders/o-mixed/payment", null);
        // The platform names shop-b, but sku-a is shop-a's: that line is refused NotOwner.
        await world.Must(202, HttpMethod.Post, "/refunds", new
        {
            refundId = "r-mixed", orderId = "o-mixed", shopId = "shop-b",
            lines = new[] { new { skuId = "sku-a", quantity = 1 }, new { skuId = "sku-b", quantity = 1 } },
        });
        await world.Must(202, HttpMethod.Post, "/refunds", new
        {
            refundId = "r-foreign", orderId = "o-refund", shopId = "shop-b", lines = new[] { new { skuId = "sku-a", quantity = 1 } },
        });
        await world.RefundFinished("o-mixed", "r-mixed");
        await world.RefundFinished("o-refund", "r-foreign");

        var (status, body) = await world.Send(Caller.OtherShopKey, HttpMethod.Get, "/orders/o-mixed/refunds/r-mixed", null);
        Assert.True(status == 200, $"{status} {body}");
        var lines = JsonDocument.Parse(body).RootElement.GetProperty("lines").EnumerateArray().ToList();
        Assert.Equal(["sku-b"], lines.Select(l => l.GetProperty("skuId").GetString()));
        Assert.DoesNotContain("sku-a", body);

        // Every line refused NotOwner: the named shop finds nothing, and neither does the owner, whom it does not name.
        foreach (var caller in new[] { Caller.OtherShopKey, Caller.OwnShopKey })
        {
            (status, body) = await world.Send(caller, HttpMethod.Get, "/orders/o-refund/refunds/r-foreign", null);
            Assert.True(status == 404, $"{caller}: {status} {body}");
            Assert.DoesNotContain("sku-a", body);
        }
        Assert.Equal(200, (await world.Send(Caller.PlatformKey, HttpMethod.Get, "/orders/o-refund/refunds/r-foreign", null)).Status);
    }

    [Theory]
    [InlineData("HEAD", "/shops/shop-a/ledger")]
    [InlineData("HEAD", "/shops/shop-b/ledger")]
    [InlineData("POST", "/me")]
    [InlineData("DELETE", "/shops/shop-a/settings")]
    [InlineData("PUT", "/refunds")]
    public async Task A_method_a_route_does_not_take_is_405_for_any_valid_key_and_401_without_one(string method, string path)
    {
        var before = await world.State();
        foreach (var caller in new[] { Caller.OwnShopKey, Caller.OtherShopKey, Caller.PlatformKey, Caller.OperatorKey })
        {
            var (status, body) = await world.Send(caller, new HttpMethod(method), path, null);
            Assert.True(status == 405, $"{method} {path} as {caller}: expected 405, got {status} {body}");
        }
        foreach (var caller in new[] { Caller.NoKey, Caller.UnknownKey, Caller.RevokedKey })
        {
            var (status, body) = await world.Send(caller, new HttpMethod(method), path, null);
            Assert.True(status == 401, $"{method} {path} as {caller}: expected 401, got {status} {body}");
        }
        Assert.Equal(before, await world.State());
    }

    [Theory]
    [InlineData("/")]
    [InlineData("/openapi/v1.json")]
    [InlineData("/docs")]
    [InlineData("/healthz")]
    [InlineData("/readyz")]
    [InlineData("/metrics")]
    public async Task The_page_the_api_description_and_the_probes_answer_without_a_key(string path)
    {
        var (status, body) = await world.Send(Caller.NoKey, HttpMethod.Get, path, null);
        Assert.True(status == 200, $"{path}: {status} {body}");
    }

    [Fact]
    public async Task A_revoked_key_stops_with_the_next_request()
    {
        var issued = await world.Issue(new { kind = "shop", shopId = "shop-a", label = "short-lived" });
        Assert.Equal(200, (await world.SendWith(issued.Key, HttpMethod.Get, "/me", null)).Status);
        Assert.Equal(204, (await world.Send(Caller.OperatorKey, HttpMethod.Delete, $"/keys/{issued.KeyId}", null)).Status);
        Assert.Equal(401, (await world.SendWith(issued.Key, HttpMethod.Get, "/me", null)).Status);
        var listed = (await world.Get("/keys")).GetProperty("keys").EnumerateArray().Single(k => k.GetProperty("keyId").GetString() == issued.KeyId);
        Assert.NotEqual(JsonValueKind.Null, listed.GetProperty("revokedAt").ValueKind);
        Assert.False(listed.TryGetProperty("key", out _), "a listed key shows its secret");
    }
}

/// <summary>The service with shop-a's and shop-b's SKUs, orders and refunds in place, and a key of every kind.</summary>
public sealed class MatrixWorld : IAsyncLifetime
{
    private readonly Dictionary<Caller, string?> _keys = new();
    private readonly HttpClient _http;
    private MediaTypeHeaderValue? _lastContentType;

    public MatrixWorld()
    {
        _http = Factory.CreateClient();
        _http.DefaultRequestHeaders.Authorization = null;
    }

    public ServiceFactory Factory { get; } = new();

    public string DoomedKeyId { get; private set; } = "";

    public async Task InitializeAsync()
    {
        _keys[Caller.NoKey] = null;
        _keys[Caller.UnknownKey] = "restock_" + new string('x', 43);
        _keys[Caller.OperatorKey] = Factory.OperatorKey;
        _keys[Caller.OwnShopKey] = (await Issue(new { kind = "shop", shopId = "shop-a", label = "own" })).Key;
        _keys[Caller.OtherShopKey] = (await Issue(new { kind = "shop", shopId = "shop-b", label = "other" })).Key;
        _keys[Caller.PlatformKey] = (await Issue(new { kind = "platform", label = "platform" })).Key;
        var revoked = await Issue(new { kind = "shop", shopId = "shop-a", label = "revoked" });
        _keys[Caller.RevokedKey] = revoked.Key;
        await Must(204, HttpMethod.Delete, $"/keys/{revoked.KeyId}", null);
        DoomedKeyId = (await Issue(new { kind = "platform", label = "doomed" })).KeyId;

        await Must(200, HttpMethod.Put, "/shops/shop-a/skus/sku-a/stock", new { adjustmentId = "a0", quantity = 100 });
        await Must(200, HttpMethod.Put, "/shops/shop-b/skus/sku-b/stock", new { adjustmentId = "b0", quantity = 100 });
        foreach (var (order, quantity, paid) in new[]
                 {
                     ("o-cancel", 1, false), ("o-pay", 1, false), ("o-ship", 1, true), ("o-refund", 3, true), ("o-manual", 1, true), ("o-erp", 2, true),
                 })
        {
            await Must(200, HttpMethod.Post, "/skus/sku-a/reservations", new { orderId = order, quantity });
            if (paid) await Must(200, HttpMethod.Post, $"/skus/sku-a/orders/{order}/payment", null);
        }
        foreach (var (refund, order) in new[] { ("r-get", "o-refund"), ("r-manual", "o-manual") })
        {
            await Must(202, HttpMethod.Post, "/refunds", new { refundId = refund, orderId = order, shopId = "shop-a", lines = new[] { new { skuId = "sku-a", quantity = 1 } } });
            await RefundFinished(order, refund);
        }
    }

    public record IssuedKey(string KeyId, string Key);

    public async Task<IssuedKey> Issue(object body)
    {
        var created = await Must(201, HttpMethod.Post, "/keys", body);
        return new IssuedKey(created.GetProperty("keyId").GetString()!, created.GetProperty("key").GetString()!);
    }

    public Task<(int Status, string Body)> Send(Caller caller, HttpMethod method, string path, object? body) =>
        SendWith(_keys[caller], method, path, body);

    public async Task<(int Status, string Body)> SendWith(string? key, HttpMethod method, string path, object? body)
    {
        using var request = new HttpRequestMessage(method, path) { Content = body is null ? null : JsonContent.Create(body) };
        if (key is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        using var response = await _http.SendAsync(request);
        _lastContentType = response.Content.Headers.ContentType;
        return ((int)response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    public Task<MediaTypeHeaderValue?> LastContentType() => Task.FromResult(_lastContentType);

    public async Task<JsonElement> Get(string path) => await Must(200, HttpMethod.Get, path, null);

    /// <summary>Everything a refused request could have touched, read back as the operator.</summary>
    public async Task<string> State()
    {
        var parts = new List<string>();
        foreach (var path in new[]
                 {
                     "/skus/sku-a", "/skus/sku-b", "/shops/shop-a/settings", "/shops/shop-b/settings", "/shops/shop-w/settings", "/keys",
                     "/orders/o-refund/refunds/r-get", "/orders/o-refund/refunds/r-matrix",
                 })
        {
            var (status, body) = await Send(Caller.OperatorKey, HttpMethod.Get, path, null);
            parts.Add($"{path} {status} {(status == 404 ? "" : body)}");
        }
        return string.Join('\n', parts);
    }

    public async Task RefundFinished(string order, string refund) =>
        await Api.Eventually(() => Get($"/orders/{order}/refunds/{refund}"), s => s.GetProperty("finished").GetBoolean());

    public async Task<JsonElement> Must(int status, HttpMethod method, string path, object? body)
    {
        var (actual, text) = await Send(Caller.OperatorKey, method, path, body);
        Assert.True(actual == status, $"set-up {method} {path}: expected {status}, got {actual} {text}");
        return text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone();
    }

    public async Task DisposeAsync()
    {
        _http.Dispose();
        await Factory.DisposeAsync();
    }
}
