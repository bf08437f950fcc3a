using System.Net;
using System.Text;
using System.Text.Json;
using Restock.Actors.Tests.Support;

namespace Restock.Actors.Tests.Http;

public sealed class RestockApiTests(ServiceFactory factory) : IClassFixture<ServiceFactory>
{
    private readonly Api _api = new(factory.CreateClient());

    [Fact]
    public async Task A_shop_turns_the_switch_on_and_a_refund_before_shipment_comes_back_on_sale_and_into_the_ledger()
    {
        var (shop, sku, order) = (New("shop"), New("sku"), New("order"));
        var on = await Api.Expect(HttpStatusCode.OK, _api.Put($"/shops/{shop}/settings/auto-restock", new { on = true, actor = "merchant:ann" }));
        Assert.True(on.GetProperty("autoRestock").GetBoolean());
        await PaidOrder(shop, sku, order, stock: 5, quantity: 2);

        var accepted = await Api.Expect(HttpStatusCode.Accepted, _api.Post("/refunds",
            new { refundId = "rf-1", orderId = order, shopId = shop, lines = new[] { new { skuId = sku, quantity = 2 } } }));
        Assert.Equal("rf-1", accepted.GetProperty("refundId").GetString());
        await Api.Expect(HttpStatusCode.OK, _api.Post("/refunds",
            new { refundId = "rf-1", orderId = order, shopId = shop, lines = new[] { new { skuId = sku, quantity = 2 } } }));

        var status = await Api.Eventually(() => _api.Get($"/orders/{order}/refunds/rf-1"), s => s.GetProperty("finished").GetBoolean());
        Assert.True(status.GetProperty("restock").GetBoolean());
        Assert.Equal(5, (await _api.Get($"/skus/{sku}")).GetProperty("available").GetInt64());

        var byOrder = await Api.Eventually(() => _api.Get($"/ledger?orderId={order}"), l => l.GetProperty("entries").GetArrayLength() == 1);
        var entry = byOrder.GetProperty("entries")[0];
        Assert.Equal((sku, 2L, 3L, 5L, "auto"), (entry.GetProperty("skuId").GetString(), entry.GetProperty("quantity").GetInt64(),
            entry.GetProperty("stockBefore").GetInt64(), entry.GetProperty("stockAfter").GetInt64(), entry.GetProperty("trigger").GetString()));
        var bySku = await _api.Get($"/ledger?skuId={sku}");
        Assert.Equal(entry.GetProperty("ledgerId").GetInt64(), bySku.GetProperty("entries")[0].GetProperty("ledgerId").GetInt64());

        var erp = await Api.Expect(HttpStatusCode.OK, _api.Post($"/shops/{shop}/erp/restocks",
            new { refundId = "rf-1", orderId = order, skuId = sku, quantity = 2 }));
        Assert.Equal("alreadyDone", erp.GetProperty("outcome").GetString());
        Assert.Equal(5, (await _api.Get($"/skus/{sku}")).GetProperty("available").GetInt64());
    }

    [Fact]
    public async Task With_the_switch_off_a_refund_is_listed_as_not_restocked_and_a_manual_restock_brings_it_back_once()
    {
        var (shop, sku, order) = (New("shop"), New("sku"), New("order"));
        await PaidOrder(shop, sku, order, stock: 3, quantity: 1);
        await Api.Expect(HttpStatusCode.Accepted, _api.Post("/refunds",
            new { refundId = "rf-9", orderId = order, shopId = shop, lines = new[] { new { skuId = sku, quantity = 1 } } }));

        var open = await Api.Eventually(() => _api.Get($"/shops/{shop}/not-restocked?orderId={order}"), l => l.GetProperty("entries").GetArrayLength() == 1);
        Assert.Equal("rf-9", open.GetProperty("entries")[0].GetProperty("refundId").GetString());
        Assert.Equal(2, (await _api.Get($"/skus/{sku}")).GetProperty("available").GetInt64());

        var restock = await Api.Expect(HttpStatusCode.OK, _api.Post($"/shops/{shop}/refunds/rf-9/skus/{sku}/restock", new { actor = "merchant:ann" }));
        Assert.Equal("done", restock.GetProperty("outcome").GetString());
        var second = await Api.Expect(HttpStatusCode.OK, _api.Post($"/shops/{shop}/refunds/rf-9/skus/{sku}/restock", new { actor = "merchant:ann" }));
        Assert.Equal("alreadyDone", second.GetProperty("outcome").GetString());
        Assert.Contains("already restocked", second.GetProperty("message").GetString());
        Assert.Equal(3, (await _api.Get($"/skus/{sku}")).GetProperty("available").GetInt64());
        await Api.Eventually(() => _api.Get($"/shops/{shop}/not-restocked?orderId={order}"), l => l.GetProperty("entries").GetArrayLength() == 0);
        await Api.Eventually(() => _api.Get($"/ledger?orderId={order}"), l => l.GetProperty("entries")[0].GetProperty("trigger").GetString() == "manual");
    }

    [Fact]
    public async Task A_refund_older_than_the_manual_restock_window_is_not_offered_and_its_restock_answers_RestockWindowClosed()
    {
        var (shop, sku, order) = (New("shop"), New("sku"), New("order"));
        await PaidOrder(shop, sku, order, stock: 3, quantity: 2);
        await Api.Expect(HttpStatusCode.Accepted, _api.Post("/refunds", new
        {
            refundId = "rf-old", orderId = order, shopId = shop, lines = new[] { new { skuId = sku, quantity = 1 } },
            completedAt = DateTimeOffset.UtcNow.AddDays(-31),
        }));
        await Api.Eventually(() => _api.Get($"/orders/{order}/refunds/rf-old"), s => s.GetProperty("finished").GetBoolean());
        await Api.Expect(HttpStatusCode.Accepted, _api.Post("/refunds",
            new { refundId = "rf-new", orderId = order, shopId = shop, lines = new[] { new { skuId = sku, quantity = 1 } } }));

        // The ledger lists in journal order: once the newer refund is offered, the older one has been passed over.
        var offered = await Api.Eventually(() => _api.Get($"/shops/{shop}/not-restocked?orderId={order}"), l => l.GetProperty("entries").GetArrayLength() > 0);
        Assert.Equal(["rf-new"], offered.GetProperty("entries").EnumerateArray().Select(e => e.GetProperty("refundId").GetString()));

        var refused = await Api.Expect(HttpStatusCode.Conflict, _api.Post($"/shops/{shop}/refunds/rf-old/skus/{sku}/restock", new { actor = "merchant:ann" }));
        Assert.Equal("RestockWindowClosed", refused.GetProperty("code").GetString());
        Assert.Contains("stock adjustment", refused.GetProperty("detail").GetString());
        await Api.Expect(HttpStatusCode.OK, _api.Post($"/shops/{shop}/refunds/rf-new/skus/{sku}/restock", new { actor = "merchant:ann" }));
        Assert.Equal(2, (await _api.Get($"/skus/{sku}")).GetProperty("available").GetInt64());
    }

    [Fact]
    public async Task The_erp_flag_blocks_the_switch_without_an_override_and_the_history_says_who_did_what()
    {
        var shop = New("shop");
        await Api.Expect(HttpStatusCode.OK, _api.Put($"/shops/{shop}/settings/erp-restocks", new { on = true, actor = "merchant:ann" }));
        var refused = await Api.Expect(HttpStatusCode.Conflict, _api.Put($"/shops/{shop}/settings/auto-restock", new { on = true, actor = "merchant:ann" }));
        Assert.Equal("ErpRestocks", refused.GetProperty("code").GetString());
        await Api.Expect(HttpStatusCode.OK, _api.Put($"/shops/{shop}/settings/auto-restock",
            new { on = true, actor = "operator:bob", reason = "ERP turned off next week", overrideErp = true }));

        var settings = await _api.Get($"/shops/{shop}/settings");
        var history = settings.GetProperty("history");
        Assert.Equal(2, history.GetArrayLength());
        Assert.Equal(("operator:bob", true), (history[1].GetProperty("actor").GetString(), history[1].GetProperty("erpOverride").GetBoolean()));
    }

    [Fact]
    public async Task The_whitelist_import_turns_shops_on_and_is_harmless_to_repeat()
    {
        var (a, b) = (New("shop"), New("shop"));
        await Api.Expect(HttpStatusCode.OK, _api.Put($"/shops/{b}/settings/auto-restock", new { on = false, actor = "merchant:cy" }));
        await Api.Expect(HttpStatusCode.OK, _api.Put($"/shops/{b}/settings/auto-restock", new { on = true, actor = "merchant:cy" }));
        await Api.Expect(HttpStatusCode.OK, _api.Put($"/shops/{b}/settings/auto-restock", new { on = false, actor = "merchant:cy" }));

        var first = await Api.Expect(HttpStatusCode.OK, _api.Post("/operators/whitelist-import", new { shopIds = new[] { a, b } }));
        Assert.Equal((1, 1), (first.GetProperty("turnedOn").GetInt32(), first.GetProperty("unchanged").GetInt32()));
        var again = await Api.Expect(HttpStatusCode.OK, _api.Post("/operators/whitelist-import", new { shopIds = new[] { a, b } }));
        Assert.Equal(0, again.GetProperty("turnedOn").GetInt32());
        Assert.Equal("whitelist", (await _api.Get($"/shops/{a}/settings")).GetProperty("origin").GetString());
        Assert.False((await _api.Get($"/shops/{b}/settings")).GetProperty("autoRestock").GetBoolean());
    }

    public static TheoryData<string, string, string, string> BadRequests => new()
    {
        { "PUT", "/shops/s1/settings/auto-restock", """{"actor":"m"}""", "on" },
        { "PUT", "/shops/s1/settings/auto-restock", """{"on":true}""", "actor" },
        { "PUT", "/shops/s1/settings/auto-restock", """{"on":"yes","actor":"m"}""", "on" },
        { "PUT", "/shops/s%20/settings/erp-restocks", """{"on":true,"actor":"m"}""", "shopId" },
        { "POST", "/refunds", """{"orderId":"o","shopId":"s","lines":[{"skuId":"k","quantity":1}]}""", "refundId" },
        { "POST", "/refunds", """{"refundId":"r","orderId":"o","shopId":"s","lines":[]}""", "lines" },
        { "POST", "/refunds", """{"refundId":"r","orderId":"o","shopId":"s","lines":[{"skuId":"k","quantity":0}]}""", "lines[0].quantity" },
        { "POST", "/refunds", """{"refundId":"r","orderId":"o","shopId":"s","lines":[{"quantity":1}]}""", "lines[0].skuId" },
        { "POST", "/refunds", """{"refundId":"r","orderId":"o","shopId":"s","lines":[{"skuId":"k","quantity":1},{"skuId":"k","quantity":2}]}""", "lines" },
        { "POST", "/refunds", """{"refundId":"r","orderId":"o","shopId":"s","lines":[{"skuId":"k","quantity":1}],"completedAt":"2999-01-01T00:00:00Z"}""", "completedAt" },
        { "POST", "/shops/s1/erp/restocks", """{"refundId":"r","orderId":"o","skuId":"k"}""", "quantity" },
        { "POST", "/shops/s1/erp/restocks", """{"refundId":"r","orderId":"o","quantity":1}""", "skuId" },
        { "POST", "/shops/s1/refunds/r1/skus/k1/restock", """{}""", "actor" },
        { "POST", "/operators/whitelist-import", """{"shopIds":[]}""", "shopIds" },
        { "POST", "/operators/whitelist-import", """{"shopIds":["ok","not ok"]}""", "shopIds[1]" },
        { "GET", "/ledger", "", "orderId" },
        { "GET", "/ledger?orderId=o&limit=0", "", "limit" },
        { "GET", "/ledger?orderId=o&cursor=x", "", "cursor" },
        { "GET", "/ledger?skuId=k&from=yesterday", "", "from" },
        { "GET", "/shops/s1/not-restocked?limit=100000", "", "limit" },
    };

    [Theory]
    [MemberData(nameof(BadRequests))]
    public async Task Bad_input_is_a_400_naming_the_field_and_changes_nothing(string method, string path, string body, string field)
    {
        var before = await _api.Get("/shops/s1/settings");
        var request = new HttpRequestMessage(new HttpMethod(method), path);
        if (method != "GET") request.Content = new StringContent(body, Encoding.UTF8, "application/json");

        var problem = await Api.Expect(HttpStatusCode.BadRequest, _api.Http.SendAsync(request));

        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), $"problem does not name '{field}': {problem}");
        Assert.Equal(before.GetProperty("version").GetInt64(), (await _api.Get("/shops/s1/settings")).GetProperty("version").GetInt64());
        await Api.Expect(HttpStatusCode.NotFound, _api.Http.GetAsync("/orders/o/refunds/r"));
    }

    [Fact]
    public async Task A_manual_restock_of_a_refund_the_sku_never_saw_is_refused()
    {
        var sku = New("sku");
        await Api.Expect(HttpStatusCode.OK, _api.Put($"/shops/s1/skus/{sku}/stock", new { adjustmentId = "a1", quantity = 1 }));
        var refused = await Api.Expect(HttpStatusCode.Conflict, _api.Post($"/shops/s1/refunds/nope/skus/{sku}/restock", new { actor = "merchant:ann" }));
        Assert.Equal("UnknownRefund", refused.GetProperty("code").GetString());
    }

    [Fact]
    public async Task A_refund_that_overtakes_the_payment_shows_the_refusal_being_retried_then_finishes_once_paid()
    {
        var (shop, sku, order) = (New("shop"), New("sku"), New("order"));
        await Api.Expect(HttpStatusCode.OK, _api.Put($"/shops/{shop}/skus/{sku}/stock", new { adjustmentId = "a1", quantity = 4 }));
        await Api.Expect(HttpStatusCode.OK, _api.Post($"/skus/{sku}/reservations", new { orderId = order, quantity = 2 }));
        await Api.Expect(HttpStatusCode.Accepted, _api.Post("/refunds",
            new { refundId = "rf-early", orderId = order, shopId = shop, lines = new[] { new { skuId = sku, quantity = 2 } } }));

        var waiting = await Api.Eventually(() => _api.Get($"/orders/{order}/refunds/rf-early"),
            s => s.GetProperty("lines")[0].TryGetProperty("code", out var code) && code.GetString() == "NotPaid");
        var line = waiting.GetProperty("lines")[0];
        Assert.False(line.TryGetProperty("outcome", out var outcome) && outcome.ValueKind != JsonValueKind.Null);
        Assert.NotEqual(JsonValueKind.Null, line.GetProperty("retryingSince").ValueKind);
        Assert.False(waiting.GetProperty("needsAttention").GetBoolean());

        await Api.Expect(HttpStatusCode.OK, _api.Post($"/skus/{sku}/orders/{order}/payment"));
        var done = await Api.Eventually(() => _api.Get($"/orders/{order}/refunds/rf-early"), s => s.GetProperty("finished").GetBoolean());
        Assert.Equal("applied", done.GetProperty("lines")[0].GetProperty("outcome").GetString());
        var listed = await _api.Get($"/shops/{shop}/refunds/needs-attention");
        Assert.Equal(0, listed.GetProperty("entries").GetArrayLength());
    }

    /// <summary>The defect of issue 7: shop B restocked shop A's refund by hand, and the ledger row landed under shop B.</summary>
    [Fact]
    public async Task Another_shop_can_neither_restock_nor_stock_nor_see_a_shops_sku_and_its_refund_lines_are_refused()
    {
        var (owner, other, sku, order) = (New("shop"), New("shop"), New("sku"), New("order"));
        await PaidOrder(owner, sku, order, stock: 4, quantity: 2);
        await Api.Expect(HttpStatusCode.Accepted, _api.Post("/refunds",
            new { refundId = "rf-own", orderId = order, shopId = owner, lines = new[] { new { skuId = sku, quantity = 1 } } }));
        await Api.Eventually(() => _api.Get($"/orders/{order}/refunds/rf-own"), s => s.GetProperty("finished").GetBoolean());

        var restock = await Api.Expect(HttpStatusCode.NotFound,
            _api.Post($"/shops/{other}/refunds/rf-own/skus/{sku}/restock", new { actor = "merchant:mallory" }));
        Assert.Equal("NotOwner", restock.GetProperty("code").GetString());
        await Api.Expect(HttpStatusCode.NotFound, _api.Post($"/shops/{other}/erp/restocks",
            new { refundId = "rf-own", orderId = order, skuId = sku, quantity = 1 }));
        await Api.Expect(HttpStatusCode.NotFound, _api.Put($"/shops/{other}/skus/{sku}/stock", new { adjustmentId = "b1", quantity = 99 }));
        await Api.Expect(HttpStatusCode.NotFound, _api.Post($"/shops/{other}/skus/{sku}/adjustments", new { adjustmentId = "a1", delta = 1 }));
        await Api.Expect(HttpStatusCode.NotFound, _api.Http.GetAsync($"/shops/{other}/skus/{sku}"));

        await Api.Expect(HttpStatusCode.Accepted, _api.Post("/refunds",
            new { refundId = "rf-claim", orderId = order, shopId = other, lines = new[] { new { skuId = sku, quantity = 1 } } }));
        var claimed = await Api.Eventually(() => _api.Get($"/orders/{order}/refunds/rf-claim"), s => s.GetProperty("finished").GetBoolean());
        Assert.Equal(("rejected", "NotOwner"), (claimed.GetProperty("lines")[0].GetProperty("outcome").GetString(),
            claimed.GetProperty("lines")[0].GetProperty("code").GetString()));

        var mine = await _api.Get($"/shops/{owner}/skus/{sku}");
        Assert.Equal((2L, 1L, 1L, 0L), (mine.GetProperty("available").GetInt64(), mine.GetProperty("committed").GetInt64(),
            mine.GetProperty("refunded").GetInt64(), mine.GetProperty("restocked").GetInt64()));
        var own = await Api.Expect(HttpStatusCode.OK, _api.Post($"/shops/{owner}/refunds/rf-own/skus/{sku}/restock", new { actor = "merchant:ann" }));
        Assert.Equal("done", own.GetProperty("outcome").GetString());
        var row = await Api.Eventually(() => _api.Get($"/ledger?orderId={order}"), l => l.GetProperty("entries").GetArrayLength() == 1);
        Assert.Equal(owner, row.GetProperty("entries")[0].GetProperty("shopId").GetString());
        Assert.Equal(0, (await _api.Get($"/shops/{other}/not-restocked")).GetProperty("entries").GetArrayLength());
    }

    private async Task PaidOrder(string shop, string sku, string order, long stock, long quantity)
    {
        await Api.Expect(HttpStatusCode.OK, _api.Put($"/shops/{shop}/skus/{sku}/stock", new { adjustmentId = "a1", quantity = stock }));
        await Api.Expect(HttpStatusCode.OK, _api.Post($"/skus/{sku}/reservations", new { orderId = order, quantity }));
        await Api.Expect(HttpStatusCode.OK, _api.Post($"/skus/{sku}/orders/{order}/payment"));
    }

    private static string New(string kind) => $"{kind}-{Guid.NewGuid().ToString("N")[..8]}";
}
