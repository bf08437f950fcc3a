using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text;
using Restock.Actors.Tests.Support;

namespace Restock.Actors.Tests.Hosting;

/// <summary>
/// The service on real sockets, as load balancers and <c>wrk</c> reach it: Kestrel runs each request's code on the thread
/// that read it (restock.http.inline-scheduling), which must not change what a client sees on one connection.
/// </summary>
public sealed class KestrelSocketTests
{
    [Fact]
    public async Task Requests_sent_back_to_back_on_one_connection_are_each_answered_in_order_with_a_content_length()
    {
        await using var service = await ServiceProcess.StartAsync();
        using var http = new HttpClient { BaseAddress = new Uri(service.Url) };
        http.DefaultRequestHeaders.Authorization = new("Bearer", service.OperatorKey);
        var stocked = await http.PutAsJsonAsync("/shops/shop-k/skus/sku-k/stock", new { adjustmentId = "a1", quantity = 10 });
        Assert.Equal(HttpStatusCode.OK, stocked.StatusCode);

        // Three reservations written in one go (HTTP/1.1 pipelining), the second a repeat of the first.
        var uri = new Uri(service.Url);
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(uri.Host, uri.Port);
        var requests = new StringBuilder();
        foreach (var order in new[] { "o1", "o1", "o2" })
        {
            var body = $$"""{"orderId":"{{order}}","quantity":2}""";
            requests.Append($"POST /skus/sku-k/reservations HTTP/1.1\r\nHost: {uri.Authority}\r\nAuthorization: Bearer {service.OperatorKey}\r\n" +
                            $"Content-Type: application/json\r\nContent-Length: {Encoding.UTF8.GetByteCount(body)}\r\n\r\n{body}");
        }
        await socket.SendAsync(Encoding.UTF8.GetBytes(requests.ToString()), SocketFlags.None);

        var answers = await ReadResponses(socket, 3);

        Assert.All(answers, a =>
        {
            Assert.StartsWith("HTTP/1.1 200", a.Head);
            Assert.Contains("Content-Length:", a.Head, StringComparison.OrdinalIgnoreCase);
            Assert.DoesNotContain("Transfer-Encoding", a.Head, StringComparison.OrdinalIgnoreCase);
        });
        Assert.Contains("\"outcome\":\"done\"", answers[0].Body);
        Assert.Contains("\"reserved\":2", answers[0].Body);
        Assert.Contains("\"outcome\":\"alreadyDone\"", answers[1].Body);
        Assert.Contains("\"reserved\":4", answers[2].Body);
        Assert.Contains("\"available\":6", answers[2].Body);
    }

    /// <summary>Reads <paramref name="count"/> responses, each framed by its Content-Length.</summary>
    private static async Task<List<(string Head, string Body)>> ReadResponses(Socket socket, int count)
    {
        var received = new List<byte>();
        var buffer = new byte[4096];
        var answers = new List<(string, string)>();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (answers.Count < count)
        {
            var text = Encoding.UTF8.GetString(received.ToArray());
            var headEnd = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
            if (headEnd >= 0)
            {
                var head = text[..headEnd];
                var length = head.Split("\r\n").Select(l => l.Split(':', 2))
                    .Where(p => p.Length == 2 && p[0].Trim().Equals("Content-Length", StringComparison.OrdinalIgnoreCase))
                    .Select(p => int.Parse(p[1].Trim(), System.Globalization.CultureInfo.InvariantCulture)).FirstOrDefault(-1);
                Assert.True(length >= 0, $"a response without Content-Length: {head}");
                var bodyStart = Encoding.UTF8.GetByteCount(text[..(headEnd + 4)]);
                if (received.Count >= bodyStart + length)
                {
                    answers.Add((head, Encoding.UTF8.GetString(received.GetRange(bodyStart, length).ToArray())));
                    received.RemoveRange(0, bodyStart + length);
                    continue;
                }
            }
            var n = await socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token);
            Assert.True(n > 0, "the service closed the connection before answering every request");
            received.AddRange(buffer.AsSpan(0, n).ToArray());
        }
        return answers;
    }
}
