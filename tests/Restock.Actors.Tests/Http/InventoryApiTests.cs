using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Restock.Actors.Domain.Inventory;
using Restock.Actors.Engine.Inventory;
using Restock.Actors.Tests.Support;

namespace Restock.Actors.Tests.Http;

public sealed class InventoryApiTests(ServiceFactory factory) : IClassFixture<ServiceFactory>
{
    private readonly Api _api = new(factory.CreateClient());

    [Fact]
    public async Task A_sku_is_stocked_reserved_paid_shipped_and_cancelled()
    {
        var sku = NewSku();
        await Api.Expect(HttpStatusCode.OK, _api.Put($"/shops/{Shop}/skus/{sku}/stock", new { adjustmentId = "a1", quantity = 10, reason = "delivery" }));
        await Api.Expect(HttpStatusCode.OK, _api.Post($"/shops/{Shop}/skus/{sku}/adjustments", new { adjustmentId = "a2", delta = -2, reason = "damaged" }));
        await Api.Expect(HttpStatusCode.OK, _api.Post($"/skus/{sku}/reservations", new { orderId = "o1", quantity = 3 }));
        await Api.Expect(HttpStatusCode.OK, _api.Post($"/skus/{sku}/reservations", new { orderId = "o2", quantity = 4, paymentWindowSeconds = 600 }));
        await Api.Expect(HttpStatusCode.OK, _api.Post($"/skus/{sku}/orders/o1/payment"));
        await Api.Expect(HttpStatusCode.OK, _api.Post($"/skus/{sku}/orders/o2/cancel"));
        await Api.Expect(HttpStatusCode.OK, _api.Post($"/skus/{sku}/reservations", new { orderId = "o3", quantity = 1 }));
        await Api.Expect(HttpStatusCode.OK, _api.Post($"/skus/{sku}/orders/o3/payment"));
        var shipped = await Api.Expect(HttpStatusCode.OK, _api.Post($"/skus/{sku}/orders/o3/shipment"));
        Assert.Equal("done", shipped.GetProperty("outcome").GetString());

        Assert.Equal((4, 0, 3, 1), Levels(await Stock(sku)));
    }

    [Fact]
    public async Task The_last_units_go_to_one_buyer_and_the_next_is_refused_with_a_reason()
    {
        var sku = NewSku();
        await Api.Expect(HttpStatusCode.OK, _api.Put($"/shops/{Shop}/skus/{sku}/stock", new { adjustmentId = "a1", quantity = 2 }));
        await Api.Expect(HttpStatusCode.OK, _api.Post($"/skus/{sku}/reservations", new { orderId = "o1", quantity = 2 }));
        var refused = await Api.Expect(HttpStatusCode.Conflict, _api.Post($"/skus/{sku}/reservations", new { orderId = "o2", quantity = 1 }));
        Assert.Equal("OutOfStock", refused.GetProperty("code").GetString());

        var repeat = await Api.Expect(HttpStatusCode.OK, _api.Post($"/skus/{sku}/reservations", new { orderId = "o1", quantity = 2 }));
        Assert.Equal("alreadyDone", repeat.GetProperty("outcome").GetString());
        Assert.Equal((0, 2, 0, 0), Levels(await Stock(sku)));
    }

    [Fact]
    public async Task Concurrent_reservations_of_one_sku_are_each_answered_for_their_own_order()
    {
        var sku = NewSku();
        await Api.Expect(HttpStatusCode.OK, _api.Put($"/shops/{Shop}/skus/{sku}/stock", new { adjustmentId = "a1", quantity = 40 }));

        // Concurrent callers of one SKU share its messages: each answer is still its own decision's, with the levels right
        // after it (so the accepted ones carry 40 distinct reserved counts), and the rest are refused for lack of stock.
        var answers = await Task.WhenAll(Enumerable.Range(0, 60).Select(i => Reserve(sku, $"o{i}")));
        Assert.Equal(Enumerable.Range(1, 40).Select(n => (long)n),
            answers.Where(a => a.Status == HttpStatusCode.OK).Select(a => a.Body.GetProperty("reserved").GetInt64()).Order());
        Assert.All(answers.Where(a => a.Status == HttpStatusCode.OK), a => Assert.Equal(sku, a.Body.GetProperty("skuId").GetString()));
        Assert.Equal(20, answers.Count(a => a.Status == HttpStatusCode.Conflict && a.Body.GetProperty("code").GetString() == "OutOfStock"));

        // Retried concurrently, each order gets the answer its first attempt got.
        var retries = await Task.WhenAll(Enumerable.Range(0, 60).Select(i => Reserve(sku, $"o{i}")));
        for (var i = 0; i < answers.Length; i++)
            Assert.Equal(answers[i].Status == HttpStatusCode.OK ? "alreadyDone" : "OutOfStock",
                retries[i].Body.GetProperty(answers[i].Status == HttpStatusCode.OK ? "outcome" : "code").GetString());
        Assert.Equal((0, 40, 0, 0), Levels(await Stock(sku)));
    }

    private async Task<(HttpStatusCode Status, JsonElement Body)> Reserve(string sku, string order)
    {
        using var response = await _api.Post($"/skus/{sku}/reservations", new { orderId = order, quantity = 1 });
        return (response.StatusCode, JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone());
    }

    [Fact]
    public async Task Business_rejections_are_conflicts_and_unknown_things_are_not_found()
    {
        var sku = NewSku();
        await Api.Expect(HttpStatusCode.NotFound, _api.Http.GetAsync($"/skus/{sku}"));
        await Api.Expect(HttpStatusCode.NotFound, _api.Post($"/skus/{sku}/reservations", new { orderId = "o1", quantity = 1 }));
        await Api.Expect(HttpStatusCode.OK, _api.Put($"/shops/{Shop}/skus/{sku}/stock", new { adjustmentId = "a1", quantity = 5 }));
        await Api.Expect(HttpStatusCode.NotFound, _api.Post($"/skus/{sku}/orders/nope/payment"));
        await Api.Expect(HttpStatusCode.OK, _api.Post($"/skus/{sku}/reservations", new { orderId = "o1", quantity = 1 }));
        var notPaid = await Api.Expect(HttpStatusCode.Conflict, _api.Post($"/skus/{sku}/orders/o1/shipment"));
        Assert.Equal("NotPaid", notPaid.GetProperty("code").GetString());
        var negative = await Api.Expect(HttpStatusCode.Conflict, _api.Post($"/shops/{Shop}/skus/{sku}/adjustments", new { adjustmentId = "a2", delta = -5 }));
        Assert.Equal("NegativeStock", negative.GetProperty("code").GetString());
        Assert.Equal((4, 1, 0, 0), Levels(await Stock(sku)));
    }

    [Fact]
    public async Task A_stock_answer_is_the_json_the_api_describes_with_its_length()
    {
        var sku = NewSku();
        await Api.Expect(HttpStatusCode.OK, _api.Put($"/shops/{Shop}/skus/{sku}/stock", new { adjustmentId = "a1", quantity = 10 }));
        await Api.Expect(HttpStatusCode.OK, _api.Post($"/skus/{sku}/reservations", new { orderId = "o1", quantity = 3 }));

        foreach (var (call, outcome) in new (Func<Task<HttpResponseMessage>>, SkuOutcome)[]
        {
            (() => _api.Post($"/skus/{sku}/reservations", new { orderId = "o2", quantity = 2 }), SkuOutcome.Done),
            (() => _api.Post($"/skus/{sku}/reservations", new { orderId = "o1", quantity = 3 }), SkuOutcome.AlreadyDone),
            (() => _api.Http.GetAsync($"/shops/{Shop}/skus/{sku}"), SkuOutcome.Done),
        })
        {
            using var response = await call();
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("application/json; charset=utf-8", response.Content.Headers.ContentType?.ToString());
            var body = await response.Content.ReadAsStringAsync();
            Assert.Equal(Encoding.UTF8.GetByteCount(body), response.Content.Headers.ContentLength);
            // Exactly what the serializer writes for the described shape (camelCase names, the outcome by its camelCase name).
            var expected = JsonSerializer.Serialize(new Restock.Actors.Service.Inventory.StockResponse(sku, outcome, 5, 5, 0, 0, 0, 0),
                new JsonSerializerOptions(JsonSerializerDefaults.Web) { Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter(JsonNamingPolicy.CamelCase) } });
            Assert.Equal(expected, body);
        }
    }

    public static TheoryData<string, string, string, string> BadRequests => new()
    {
        // method, path (under the SKU; stock changes under the shop's SKU), body, the field the problem must name
        { "PUT", "/stock", """{"quantity":5}""", "adjustmentId" },
        { "PUT", "/stock", """{"adjustmentId":"x","quantity":-1}""", "quantity" },
        { "PUT", "/stock", """{"adjustmentId":"x","quantity":1000000000000}""", "quantity" },
        { "PUT", "/stock", """{"adjustmentId":"x","quantity":"many"}""", "quantity" },
        { "PUT", "/stock", """{"adjustmentId":"x","quantity":5""", "quantity" }, // cut off after the last field
        { "PUT", "/stock", "", "body" },
        { "POST", "/adjustments", """{"adjustmentId":"x"}""", "delta" },
        { "POST", "/adjustments", """{"adjustmentId":"x","delta":0}""", "delta" },
        { "POST", "/adjustments", """{"adjustmentId":"has space","delta":1}""", "adjustmentId" },
        { "POST", "/reservations", """{"quantity":1}""", "orderId" },
        { "POST", "/reservations", """{"orderId":"o9","quantity":0}""", "quantity" },
        { "POST", "/reservations", """{"orderId":"o9","quantity":-3}""", "quantity" },
        { "POST", "/reservations", """{"orderId":"o9","quantity":5000000000}""", "quantity" },
        { "POST", "/reservations", """{"orderId":"o9"}""", "quantity" },
        { "POST", "/reservations", """{"orderId":"o9","quantity":1,"paymentWindowSeconds":0}""", "paymentWindowSeconds" },
        { "POST", "/reservations", """[1,2]""", "body" },
        { "POST", "/reservations", """{"orderId":"o9","quantity":1""", "quantity" },
        { "POST", "/reservations", """{"orderId":"o9",""", "body" },
        { "POST", "/orders/%20/payment", "", "orderId" },
        { "POST", "/orders/o%2F1/cancel", "", "orderId" },
    };

    [Theory]
    [MemberData(nameof(BadRequests))]
    public async Task Bad_input_is_a_400_naming_the_field_and_changes_nothing(string method, string path, string body, string field)
    {
        var sku = NewSku();
        await Api.Expect(HttpStatusCode.OK, _api.Put($"/shops/{Shop}/skus/{sku}/stock", new { adjustmentId = "a1", quantity = 5 }));
        await Api.Expect(HttpStatusCode.OK, _api.Post($"/skus/{sku}/reservations", new { orderId = "o1", quantity = 1 }));
        var before = await Stock(sku);

        var under = path is "/stock" or "/adjustments" ? $"/shops/{Shop}/skus/{sku}" : $"/skus/{sku}";
        var request = new HttpRequestMessage(new HttpMethod(method), under + path)
        {
            Content = new StringContent(body, Encoding.UTF8, "application/json"),
        };
        var problem = await Api.Expect(HttpStatusCode.BadRequest, _api.Http.SendAsync(request));

        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), $"problem does not name '{field}': {problem}");
        Assert.Equal(before.ToString(), (await Stock(sku)).ToString());
    }

    [Fact]
    public async Task A_malformed_sku_id_is_a_400()
    {
        var problem = await Api.Expect(HttpStatusCode.BadRequest, _api.Http.GetAsync("/skus/" + new string('x', 200)));
        Assert.True(problem.GetProperty("errors").TryGetProperty("skuId", out _));
    }

    [Fact]
    public async Task A_sku_stocked_before_owners_existed_is_given_to_a_shop_by_the_operator_never_taken_by_a_shop()
    {
        var sku = NewSku();
        // Stocked the way journals written before ownership were: no shop named.
        var inventory = factory.Services.GetRequiredService<IInventory>();
        Assert.True((await inventory.Execute(sku, new SetStock("old", 5, "delivery"), CancellationToken.None)).Succeeded);

        var shopKey = (await Api.Expect(HttpStatusCode.Created, _api.Post("/keys", new { kind = "shop", shopId = "shop-grab" })))
            .GetProperty("key").GetString();
        var shop = new Api(factory.CreateClient());
        shop.Http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", shopKey);
        var refused = await Api.Expect(HttpStatusCode.NotFound, shop.Put($"/shops/shop-grab/skus/{sku}/stock", new { adjustmentId = "grab", quantity = 0 }));
        Assert.Equal("NotOwner", refused.GetProperty("code").GetString());
        await Api.Expect(HttpStatusCode.NotFound, shop.Post($"/shops/shop-grab/skus/{sku}/adjustments", new { adjustmentId = "grab", delta = 1 }));
        Assert.Equal(5, (await Stock(sku)).GetProperty("available").GetInt64());

        await Api.Expect(HttpStatusCode.OK, _api.Post($"/shops/{Shop}/skus/{sku}/adjustments", new { adjustmentId = "assign", delta = 1, reason = "given to its shop" }));
        Assert.Equal(6, (await _api.Get($"/shops/{Shop}/skus/{sku}")).GetProperty("available").GetInt64());
        await Api.Expect(HttpStatusCode.NotFound, shop.Put($"/shops/shop-grab/skus/{sku}/stock", new { adjustmentId = "grab", quantity = 0 }));
    }

    private const string Shop = "shop-inventory";

    private static string NewSku() => "sku-" + Guid.NewGuid().ToString("N")[..10];

    private Task<JsonElement> Stock(string sku) => _api.Get($"/skus/{sku}");

    private static (long, long, long, long) Levels(JsonElement s) => (
        s.GetProperty("available").GetInt64(), s.GetProperty("reserved").GetInt64(),
        s.GetProperty("committed").GetInt64(), s.GetProperty("shipped").GetInt64());
}
