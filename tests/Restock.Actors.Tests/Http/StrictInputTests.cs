using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Restock.Actors.Domain;
using Restock.Actors.Domain.Inventory;
using Restock.Actors.Tests.Support;

namespace Restock.Actors.Tests.Http;

/// <summary>Input the service must refuse with a 4xx problem, changing nothing: never a 5xx, never a silent coercion.</summary>
public sealed class StrictInputTests(ServiceFactory factory) : IClassFixture<ServiceFactory>
{
    private const string Shop = "shop-strict";
    private readonly Api _api = new(factory.CreateClient());

    public static TheoryData<string, string, string?, int, string?> Cases => new()
    {
        // path under the shop's SKU ("" = the SKU's trading routes), body, Content-Type (null = none), status, field named
        { "/stock", """{"adjustmentId":"b1","quantity":7}""", "application/json; charset=foo", 415, null },
        { "/stock", """{"adjustmentId":"b1","quantity":7}""", "application/json; charset=", 415, null },
        { "/stock", """{"adjustmentId":"b1","quantity":7}""", "application/json; charset=\"utf-8\"", 415, null },
        { "/stock", """{"adjustmentId":"b1","quantity":7}""", "application/json; charset=utf-16", 415, null },
        { "/stock", """{"adjustmentId":"b1","quantity":7}""", null, 415, null },
        { "/stock", """{"adjustmentId":"b1","quantity":7}""", "text/plain", 415, null },
        { "/stock", """{"adjustmentId":"b1","quantity":"7"}""", "application/json", 400, "quantity" },
        { "/stock", """{"adjustmentId":"b1","quantity":7,"quantity":8}""", "application/json", 400, "quantity" },
        { "/stock", """{"adjustmentId":"has/slash","quantity":7}""", "application/json", 400, "adjustmentId" },
        { "/stock", "{\"adjustmentId\":\"" + new string('a', 129) + "\",\"quantity\":7}", "application/json", 400, "adjustmentId" },
        { "/adjustments", """{"adjustmentId":"b2","delta":-9223372036854775808}""", "application/json", 400, "delta" },
        { "/adjustments", """{"adjustmentId":"b2","delta":9223372036854775807}""", "application/json", 400, "delta" },
        { "/adjustments", """{"adjustmentId":"b2","delta":"-1"}""", "application/json", 400, "delta" },
        { "/adjustments", """{"adjustmentId":"b2","delta":1}""", "application/json; charset=latin1", 415, null },
        { "/reservations", """{"orderId":"o2","quantity":"1"}""", "application/json", 400, "quantity" },
        { "/reservations", """{"orderId":"o2","quantity":1,"paymentWindowSeconds":"60"}""", "application/json", 400, "paymentWindowSeconds" },
        { "/reservations", """{"orderId":"o2","quantity":1}""", null, 415, null },
        { "/reservations", """{"orderId":"o2","quantity":1}""", "application/json; charset=\"\"", 415, null },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Malformed_input_is_a_4xx_problem_and_changes_nothing(string path, string body, string? contentType, int status, string? field)
    {
        var sku = await StockedSku();
        var before = await Stock(sku);

        var under = path == "/reservations" ? $"/skus/{sku}" : $"/shops/{Shop}/skus/{sku}";
        var method = path == "/stock" ? HttpMethod.Put : HttpMethod.Post;
        var problem = await Api.Expect((HttpStatusCode)status, _api.Http.SendAsync(Request(method, under + path, Encoding.UTF8.GetBytes(body), contentType)));

        Assert.Equal(status, problem.GetProperty("status").GetInt32());
        Assert.False(string.IsNullOrEmpty(problem.GetProperty("title").GetString()));
        if (field is not null)
            Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), $"problem does not name '{field}': {problem}");
        Assert.Equal(before.ToString(), (await Stock(sku)).ToString());
    }

    [Fact]
    public async Task A_body_over_64_KB_is_a_413_whether_its_length_is_announced_or_not_and_changes_nothing()
    {
        var sku = await StockedSku();
        var before = await Stock(sku);
        var huge = Encoding.UTF8.GetBytes("{\"adjustmentId\":\"b3\",\"quantity\":7,\"reason\":\"" + new string('x', 70_000) + "\"}");

        await Api.Expect(HttpStatusCode.RequestEntityTooLarge,
            _api.Http.SendAsync(Request(HttpMethod.Put, $"/shops/{Shop}/skus/{sku}/stock", huge, "application/json")));
        var chunked = Request(HttpMethod.Put, $"/shops/{Shop}/skus/{sku}/stock", huge, "application/json");
        chunked.Content = new StreamContent(new MemoryStream(huge));
        chunked.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        chunked.Headers.TransferEncodingChunked = true;
        await Api.Expect(HttpStatusCode.RequestEntityTooLarge, _api.Http.SendAsync(chunked));

        Assert.Equal(before.ToString(), (await Stock(sku)).ToString());
    }

    [Fact]
    public async Task A_switch_change_with_a_bad_charset_or_a_string_for_a_boolean_leaves_the_settings_alone()
    {
        var path = $"/shops/{Shop}-settings/settings/auto-restock";
        await Api.Expect(HttpStatusCode.UnsupportedMediaType, _api.Http.SendAsync(Request(HttpMethod.Put, path,
            """{"on":true,"actor":"merchant:ann"}"""u8.ToArray(), "application/json; charset=ebcdic")));
        var problem = await Api.Expect(HttpStatusCode.BadRequest, _api.Http.SendAsync(Request(HttpMethod.Put, path,
            """{"on":"true","actor":"merchant:ann"}"""u8.ToArray(), "application/json")));
        Assert.True(problem.GetProperty("errors").TryGetProperty("on", out _), problem.ToString());

        var settings = await _api.Get($"/shops/{Shop}-settings/settings");
        Assert.Equal((false, 0L), (settings.GetProperty("autoRestock").GetBoolean(), settings.GetProperty("version").GetInt64()));
    }

    [Fact]
    public async Task A_refund_with_a_quantity_as_a_string_or_a_bad_sku_id_is_refused_and_never_recorded()
    {
        var sku = await StockedSku();
        var problem = await Api.Expect(HttpStatusCode.BadRequest, _api.Http.SendAsync(Request(HttpMethod.Post, "/refunds", Encoding.UTF8.GetBytes(
            $$"""{"refundId":"rf-s","orderId":"o1","shopId":"{{Shop}}","lines":[{"skuId":"{{sku}}","quantity":"1"}]}"""), "application/json")));
        Assert.True(problem.GetProperty("errors").TryGetProperty("lines[0].quantity", out _), problem.ToString());
        await Api.Expect(HttpStatusCode.BadRequest, _api.Post("/refunds",
            new { refundId = "rf-s", orderId = "o1", shopId = Shop, lines = new[] { new { skuId = "bad sku", quantity = 1 } } }));

        await Api.Expect(HttpStatusCode.NotFound, _api.Http.GetAsync("/orders/o1/refunds/rf-s"));
    }

    [Theory]
    [InlineData("a b")]
    [InlineData("a/b")]
    [InlineData("müller")]
    [InlineData("a@b")]
    [InlineData("")]
    public void The_domain_refuses_the_ids_the_http_layer_refuses(string id)
    {
        Assert.False(Ids.IsValid(id));
        var decision = SkuStock.Decide(SkuState.Empty(), new SetStock(id, 1, "test", "shop"));
        Assert.Equal(RejectionCode.InvalidId, Assert.IsType<Rejected>(decision).Code);
    }

    private static HttpRequestMessage Request(HttpMethod method, string path, byte[] body, string? contentType)
    {
        var content = new ByteArrayContent(body);
        if (contentType is not null) content.Headers.TryAddWithoutValidation("Content-Type", contentType);
        return new HttpRequestMessage(method, path) { Content = content };
    }

    private async Task<string> StockedSku()
    {
        var sku = "sku-" + Guid.NewGuid().ToString("N")[..10];
        await Api.Expect(HttpStatusCode.OK, _api.Put($"/shops/{Shop}/skus/{sku}/stock", new { adjustmentId = "a1", quantity = 5 }));
        await Api.Expect(HttpStatusCode.OK, _api.Post($"/skus/{sku}/reservations", new { orderId = "o1", quantity = 1 }));
        return sku;
    }

    private Task<JsonElement> Stock(string sku) => _api.Get($"/skus/{sku}");
}
