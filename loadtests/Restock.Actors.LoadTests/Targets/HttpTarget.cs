using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace Restock.Actors.LoadTests.Targets;

/// <summary>A running Restock.Actors service, reached over its HTTP API with the operator key (it acts on every route).</summary>
public class HttpTarget : ITarget
{
    private readonly HttpClient _http;

    public HttpTarget(Uri baseAddress, string operatorKey) : this([baseAddress], operatorKey)
    {
    }

    /// <summary>A cluster: each request goes to the next node in turn (every node routes to the entity's shard).</summary>
    public HttpTarget(IReadOnlyList<Uri> nodes, string operatorKey) : this(() => nodes, operatorKey, null)
    {
        Describe = nodes.Count > 1 ? $"HTTP cluster of {nodes.Count} nodes ({string.Join(", ", nodes)})" : $"HTTP {nodes[0]}";
    }

    /// <summary>Nodes that may change during the run (a killed node leaves the list); <paramref name="observer"/> sees every exchange.</summary>
    protected HttpTarget(Func<IReadOnlyList<Uri>> nodes, string operatorKey, DelegatingHandler? observer)
    {
        HttpMessageHandler handler = new SocketsHttpHandler { MaxConnectionsPerServer = 512, PooledConnectionLifetime = TimeSpan.FromMinutes(5) };
        if (observer is not null)
        {
            observer.InnerHandler = handler;
            handler = observer;
        }
        var first = nodes()[0];
        _http = new HttpClient(new RoundRobin(nodes) { InnerHandler = handler })
        {
            BaseAddress = first,
            Timeout = TimeSpan.FromSeconds(30),
        };
        _http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", operatorKey);
        Describe = $"HTTP {first}";
    }

    /// <summary>Sends each request to the next node of the list.</summary>
    public sealed class RoundRobin(Func<IReadOnlyList<Uri>> nodes) : DelegatingHandler
    {
        private int _next = -1;

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var current = nodes();
            var node = current[(int)((uint)Interlocked.Increment(ref _next) % current.Count)];
            request.RequestUri = new UriBuilder(request.RequestUri!) { Scheme = node.Scheme, Host = node.Host, Port = node.Port }.Uri;
            return base.SendAsync(request, cancellationToken);
        }
    }

    public virtual string Describe { get; }

    public Task<OpResult> SetStock(string shop, string sku, string adjustmentId, long quantity) =>
        Send(HttpMethod.Put, $"/shops/{shop}/skus/{sku}/stock", new { adjustmentId, quantity, reason = "load test" });

    public Task<OpResult> Reserve(string sku, string order, long quantity, TimeSpan paymentWindow) =>
        Send(HttpMethod.Post, $"/skus/{sku}/reservations", new { orderId = order, quantity, paymentWindowSeconds = (int)paymentWindow.TotalSeconds });

    public Task<OpResult> Pay(string sku, string order) => Send(HttpMethod.Post, $"/skus/{sku}/orders/{order}/payment");

    public Task<OpResult> Cancel(string sku, string order) => Send(HttpMethod.Post, $"/skus/{sku}/orders/{order}/cancel");

    public Task<OpResult> Ship(string sku, string order) => Send(HttpMethod.Post, $"/skus/{sku}/orders/{order}/shipment");

    public Task<OpResult> SetAutoRestock(string shop, bool on) =>
        Send(HttpMethod.Put, $"/shops/{shop}/settings/auto-restock", new { on, actor = "operator:load-runner", overrideErp = true });

    public Task<OpResult> Refund(string refundId, string order, string shop, string sku, long quantity) =>
        Send(HttpMethod.Post, "/refunds", new { refundId, orderId = order, shopId = shop, lines = new[] { new { skuId = sku, quantity } } });

    public async Task<bool> RefundFinished(string order, string refundId)
    {
        using var response = await _http.GetAsync($"/orders/{order}/refunds/{refundId}");
        return response.IsSuccessStatusCode && (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("finished").GetBoolean();
    }

    public Task<OpResult> ErpRestock(string shop, string refundId, string order, string sku, long quantity) =>
        Send(HttpMethod.Post, $"/shops/{shop}/erp/restocks", new { refundId, orderId = order, skuId = sku, quantity });

    public Task<OpResult> ManualRestock(string shop, string refundId, string sku) =>
        Send(HttpMethod.Post, $"/shops/{shop}/refunds/{refundId}/skus/{sku}/restock", new { actor = "merchant:load-runner" });

    public Task<OpResult> LedgerQuery(string? orderId, string? skuId) =>
        Send(HttpMethod.Get, orderId is not null ? $"/ledger?orderId={orderId}" : $"/ledger?skuId={skuId}");

    public async Task<StockView?> Stock(string sku)
    {
        using var response = await _http.GetAsync($"/skus/{sku}");
        if (response.StatusCode == HttpStatusCode.NotFound) return null;
        response.EnsureSuccessStatusCode();
        return await response.Content.ReadFromJsonAsync<StockView>(JsonSerializerOptions.Web);
    }

    public async Task<IReadOnlyList<LedgerRow>> Ledger(string sku)
    {
        var rows = new List<LedgerRow>();
        for (string? cursor = null; ;)
        {
            var page = await _http.GetFromJsonAsync<JsonElement>($"/ledger?skuId={sku}&limit=500{(cursor is null ? "" : "&cursor=" + cursor)}");
            rows.AddRange(page.GetProperty("entries").EnumerateArray().Select(e =>
                new LedgerRow(e.GetProperty("refundId").GetString()!, e.GetProperty("skuId").GetString()!, e.GetProperty("quantity").GetInt64())));
            var next = page.GetProperty("nextCursor");
            if (next.ValueKind == JsonValueKind.Null) return rows;
            cursor = next.GetInt64().ToString();
        }
    }

    private async Task<OpResult> Send(HttpMethod method, string path, object? body = null)
    {
        try
        {
            using var request = new HttpRequestMessage(method, path) { Content = body is null ? null : JsonContent.Create(body) };
            using var response = await _http.SendAsync(request);
            if ((int)response.StatusCode >= 500) return OpResult.Failed($"http-{(int)response.StatusCode}");
            var json = await response.Content.ReadFromJsonAsync<JsonElement>();
            if (response.IsSuccessStatusCode)
                return json.ValueKind == JsonValueKind.Object && json.TryGetProperty("outcome", out var o) && o.GetString() == "alreadyDone"
                    ? OpResult.Repeat : OpResult.Done;
            return OpResult.Rejected(json.TryGetProperty("code", out var code) ? code.GetString()! : $"http-{(int)response.StatusCode}");
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or JsonException)
        {
            return OpResult.Failed(e is TaskCanceledException ? "timeout" : "connection");
        }
    }

    public virtual ValueTask DisposeAsync()
    {
        _http.Dispose();
        return ValueTask.CompletedTask;
    }
}
