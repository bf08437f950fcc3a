using System.Collections.Concurrent;
using System.Text;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Restock.Actors.Tests.Support;
using Xunit.Abstractions;

namespace Restock.Actors.Tests.Http;

/// <summary>
/// Throws malformed variants at every route the service maps (found from its endpoint table, so a new route is
/// swept too): broken JSON, wrong types, numbers as strings, overflowing numbers, bad charsets, odd ids and query
/// strings. Whatever comes in, the answer is never a 5xx.
/// </summary>
public sealed class MalformedInputSweepTests(ServiceFactory factory, ITestOutputHelper output) : IClassFixture<ServiceFactory>
{
    private const string Id = "sweep-1";

    private static readonly string ValidBody = $$"""
        {"adjustmentId":"a1","quantity":1,"delta":1,"reason":"r","orderId":"o1","paymentWindowSeconds":60,"on":false,
         "actor":"merchant:sweep","overrideErp":false,"shopIds":["{{Id}}"],"refundId":"r1","shopId":"{{Id}}",
         "lines":[{"skuId":"{{Id}}","quantity":1}],"completedAt":"2026-01-01T00:00:00Z","skuId":"{{Id}}"}
        """;

    private static readonly string[] Fields =
    [
        "adjustmentId", "quantity", "delta", "reason", "orderId", "paymentWindowSeconds", "on", "actor", "overrideErp", "shopIds",
        "refundId", "shopId", "lines", "completedAt", "skuId",
    ];

    private static readonly string[] BadValues =
    [
        "\"7\"", "-9223372036854775808", "9223372036854775808", "-9223372036854775809", "1e400", "1.5", "-0", "true", "null", "{}", "[]",
        "\"\"", "\" \"", "\"" + new string('x', 300) + "\"", "\"\\u0000\"", "\"a/b\"", "[null]", "[1]", "[{}]",
        "[{\"skuId\":null,\"quantity\":\"1\"}]", "[{\"skuId\":\"x\",\"quantity\":-9223372036854775808}]",
        "\"9999-12-31T23:59:59-14:00\"", "\"0001-01-01T00:00:00+14:00\"", "\"not a time\"", "2147483648", "-2147483649",
    ];

    private static readonly byte[][] BrokenBodies =
    [
        [], "{"u8.ToArray(), "}"u8.ToArray(), "[]"u8.ToArray(), "null"u8.ToArray(), "1"u8.ToArray(), "\"s\""u8.ToArray(),
        "{\"a\":"u8.ToArray(), Encoding.UTF8.GetBytes(new string('[', 5000)), "{\"quantity\":1,\"quantity\":2}"u8.ToArray(),
        [0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d], [0xef, 0xbb, 0xbf, 0x7b, 0x7d], [0xff, 0xfe, 0x7b, 0x00, 0x7d, 0x00],
        "{\"orderId\":\"o1\"} trailing"u8.ToArray(), "{'orderId':'o1'}"u8.ToArray(),
    ];

    private static readonly string?[] ContentTypes =
    [
        "application/json", null, "text/plain", "application/json; charset=foo", "application/json; charset=\"utf-8\"",
        "application/json; charset=", "application/json; boundary=x", "application/x-www-form-urlencoded", "application/json;;;",
    ];

    private static readonly string[] BadPathValues = ["%20", "a%2Fb", new('x', 200), "a%20b", "..", "%C3%BC"];

    private static readonly string[] BadQueries =
    [
        "?limit=abc", "?limit=0", "?limit=99999999999999999999", "?cursor=-1", "?cursor=abc", "?from=garbage",
        "?from=0001-01-01T00:00:00%2B14:00", "?to=9999-12-31T23:59:59-14:00", "?orderId=a%20b", "?skuId=" + new string('x', 200),
        "?shopId=%00", "?orderId=o1&orderId=o2",
    ];

    [Fact]
    public async Task No_malformed_request_to_any_route_gets_a_5xx()
    {
        var client = factory.CreateClient();
        var routes = factory.Services.GetServices<EndpointDataSource>().SelectMany(s => s.Endpoints).OfType<RouteEndpoint>()
            .SelectMany(e => (e.Metadata.GetMetadata<HttpMethodMetadata>()?.HttpMethods ?? []).Select(m => (Method: m, Pattern: e.RoutePattern.RawText!)))
            .Where(r => !r.Pattern.Contains("openapi", StringComparison.OrdinalIgnoreCase))
            .Distinct().ToList();
        Assert.Contains(routes, r => r is { Method: "POST", Pattern: "/refunds" });

        var requests = new List<Func<HttpRequestMessage>>();
        foreach (var (method, pattern) in routes)
        {
            var path = Fill(pattern, Id);
            foreach (var bad in BadPathValues.Where(_ => pattern.Contains('{')))
                requests.Add(() => Request(method, Fill(pattern, bad), Encoding.UTF8.GetBytes(ValidBody), "application/json"));
            if (method == "GET")
            {
                foreach (var query in BadQueries) requests.Add(() => Request(method, path + query, null, null));
                continue;
            }
            foreach (var contentType in ContentTypes)
                requests.Add(() => Request(method, path, Encoding.UTF8.GetBytes(ValidBody), contentType));
            foreach (var body in BrokenBodies)
                requests.Add(() => Request(method, path, body, "application/json"));
            foreach (var field in Fields)
            foreach (var value in BadValues)
                requests.Add(() => Request(method, path, Encoding.UTF8.GetBytes(WithField(field, value)), "application/json"));
        }

        var failures = new ConcurrentBag<string>();
        await Parallel.ForEachAsync(requests, new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (make, ct) =>
        {
            using var request = make();
            var described = $"{request.Method} {request.RequestUri} ({request.Content?.Headers.ContentType}) " +
                            (request.Content is null ? "" : Truncate(Encoding.UTF8.GetString(await request.Content.ReadAsByteArrayAsync(ct))));
            using var response = await client.SendAsync(request, ct);
            if ((int)response.StatusCode >= 500)
                failures.Add($"{(int)response.StatusCode} for {described}: {Truncate(await response.Content.ReadAsStringAsync(ct))}");
        });

        output.WriteLine($"{requests.Count} malformed requests over {routes.Count} routes, {failures.Count} answered 5xx");
        Assert.True(failures.IsEmpty, string.Join('\n', failures.Take(20)));
    }

    private static string Fill(string pattern, string value) => Regex.Replace(pattern, @"\{[^}]+\}", value);

    private static string WithField(string field, string value) =>
        Regex.Replace(ValidBody, $"\"{field}\":(\"[^\"]*\"|\\[[^\\]]*\\]|[^,}}]+)", $"\"{field}\":{value}".Replace("$", "$$"));

    private static HttpRequestMessage Request(string method, string path, byte[]? body, string? contentType)
    {
        var request = new HttpRequestMessage(new HttpMethod(method), path);
        if (body is null) return request;
        request.Content = new ByteArrayContent(body);
        if (contentType is not null) request.Content.Headers.TryAddWithoutValidation("Content-Type", contentType);
        return request;
    }

    private static string Truncate(string text) => text.Length > 200 ? text[..200] + "…" : text;
}
