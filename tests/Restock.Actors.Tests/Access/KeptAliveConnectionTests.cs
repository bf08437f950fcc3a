using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json;
using Restock.Actors.Tests.Support;

namespace Restock.Actors.Tests.Access;

/// <summary>
/// A keep-alive connection remembers the caller its authorization header resolved to (no hash, no lookup per request):
/// what it remembers must never outlive a revocation, nor answer for another header sent on the same connection.
/// Real Kestrel and one client connection, counted, as <c>wrk</c> and load balancers keep them.
/// </summary>
public sealed class KeptAliveConnectionTests
{
    [Fact]
    public async Task A_key_revoked_while_its_connection_is_kept_alive_is_refused_on_that_connection_with_the_next_request()
    {
        await using var service = await ServiceProcess.StartAsync();
        using var operatorHttp = OperatorClient(service);
        var (keyId, secret) = await Issue(operatorHttp, "kept alive");
        using var connection = new OneConnection(service.Url);

        Assert.Equal(HttpStatusCode.OK, (await connection.Me(secret)).Status);
        Assert.Equal(HttpStatusCode.OK, (await connection.Me(secret)).Status);
        using var revoked = await operatorHttp.DeleteAsync($"/keys/{keyId}");
        Assert.Equal(HttpStatusCode.NoContent, revoked.StatusCode);

        Assert.Equal(HttpStatusCode.Unauthorized, (await connection.Me(secret)).Status);
        Assert.Equal(1, connection.Opened);
    }

    [Fact]
    public async Task Another_authorization_header_on_the_same_connection_is_resolved_anew()
    {
        await using var service = await ServiceProcess.StartAsync();
        using var operatorHttp = OperatorClient(service);
        var (firstId, first) = await Issue(operatorHttp, "first");
        var (secondId, second) = await Issue(operatorHttp, "second");
        using var connection = new OneConnection(service.Url);

        Assert.Equal(firstId, (await connection.Me(first)).KeyId);
        Assert.Equal(secondId, (await connection.Me(second)).KeyId);
        Assert.Equal(HttpStatusCode.Unauthorized, (await connection.Me(second + "x")).Status);
        Assert.Equal(HttpStatusCode.Unauthorized, (await connection.Me(null)).Status);
        Assert.Equal("operator-env", (await connection.Me(service.OperatorKey)).KeyId);
        Assert.Equal(firstId, (await connection.Me(first)).KeyId);
        Assert.Equal(1, connection.Opened);
    }

    private static HttpClient OperatorClient(ServiceProcess service)
    {
        var http = new HttpClient { BaseAddress = new Uri(service.Url) };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", service.OperatorKey);
        return http;
    }

    private static async Task<(string KeyId, string Secret)> Issue(HttpClient operatorHttp, string label)
    {
        using var issued = await operatorHttp.PostAsJsonAsync("/keys", new { kind = "platform", label });
        Assert.Equal(HttpStatusCode.Created, issued.StatusCode);
        var key = await issued.Content.ReadFromJsonAsync<JsonElement>();
        return (key.GetProperty("keyId").GetString()!, key.GetProperty("key").GetString()!);
    }

    /// <summary>An HTTP/1.1 client held to one connection, counting the connections it opens.</summary>
    private sealed class OneConnection : IDisposable
    {
        private readonly HttpClient _http;
        private int _opened;

        public OneConnection(string url)
        {
            var handler = new SocketsHttpHandler
            {
                MaxConnectionsPerServer = 1,
                PooledConnectionIdleTimeout = TimeSpan.FromMinutes(5),
                ConnectCallback = async (context, ct) =>
                {
                    Interlocked.Increment(ref _opened);
                    var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                    await socket.ConnectAsync(context.DnsEndPoint, ct);
                    return new NetworkStream(socket, ownsSocket: true);
                },
            };
            _http = new HttpClient(handler) { BaseAddress = new Uri(url) };
        }

        public int Opened => Volatile.Read(ref _opened);

        public async Task<(HttpStatusCode Status, string? KeyId)> Me(string? secret)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/me");
            if (secret is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", secret);
            using var response = await _http.SendAsync(request);
            if (response.StatusCode != HttpStatusCode.OK) return (response.StatusCode, null);
            return (response.StatusCode, (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("keyId").GetString());
        }

        public void Dispose() => _http.Dispose();
    }
}
