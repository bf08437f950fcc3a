using System.Net;
using Restock.Actors.Tests.Support;

namespace Restock.Actors.Tests.Http;

/// <summary>The manual-restock window through the API, with seconds standing in for days.</summary>
public sealed class ManualRestockWindowApiTests(ManualRestockWindowApiTests.ShortWindowService service)
    : IClassFixture<ManualRestockWindowApiTests.ShortWindowService>
{
    /// <summary>
    /// The service with a window of 5 s (30 days shipped) over a horizon of 1 s (24 h shipped). The list shows a line only
    /// within the window, counted from the refund: the window leaves the ledger's projection seconds to record it even on a
    /// loaded machine (with 2 s, a full suite at load 34-46 once saw the line expire before it was projected).
    /// </summary>
    public sealed class ShortWindowService : ServiceFactory
    {
        protected override string[] EngineOverrides =>
            ["restock.inventory.remember-ids-for = 1s", "restock.inventory.manual-restock-window = 5s", "restock.ledger.batch-window = 100ms"];
    }

    private readonly Api _api = new(service.CreateClient());

    [Fact]
    public async Task Once_the_window_has_closed_the_list_no_longer_offers_a_refund_and_its_restock_answers_RestockWindowClosed_after_the_sku_forgot_it()
    {
        var shop = $"shop-{Guid.NewGuid():N}";
        var sku = $"sku-{Guid.NewGuid():N}";
        await Api.Expect(HttpStatusCode.OK, _api.Put($"/shops/{shop}/skus/{sku}/stock", new { adjustmentId = "a1", quantity = 3 }));
        await Api.Expect(HttpStatusCode.OK, _api.Post($"/skus/{sku}/reservations", new { orderId = "o1", quantity = 1 }));
        await Api.Expect(HttpStatusCode.OK, _api.Post($"/skus/{sku}/orders/o1/payment"));
        await Api.Expect(HttpStatusCode.Accepted, _api.Post("/refunds",
            new { refundId = "r1", orderId = "o1", shopId = shop, lines = new[] { new { skuId = sku, quantity = 1 } } }));
        await Api.Eventually(() => _api.Get($"/shops/{shop}/not-restocked"), page => page.GetProperty("entries").GetArrayLength() == 1);

        // Past the window the list drops it; the SKU's next change compacts its record (the refund closed its line).
        await Api.Eventually(() => _api.Get($"/shops/{shop}/not-restocked"), page => page.GetProperty("entries").GetArrayLength() == 0);
        await Task.Delay(TimeSpan.FromSeconds(0.5));
        await Api.Expect(HttpStatusCode.OK, _api.Post($"/shops/{shop}/skus/{sku}/adjustments", new { adjustmentId = "a2", delta = 1 }));

        var refused = await Api.Expect(HttpStatusCode.Conflict, _api.Post($"/shops/{shop}/refunds/r1/skus/{sku}/restock", new { actor = "merchant:ann" }));
        Assert.Equal("RestockWindowClosed", refused.GetProperty("code").GetString());
        Assert.Contains("stock adjustment", refused.GetProperty("detail").GetString());
        var unknown = await Api.Expect(HttpStatusCode.Conflict, _api.Post($"/shops/{shop}/refunds/never/skus/{sku}/restock", new { actor = "merchant:ann" }));
        Assert.Equal("UnknownRefund", unknown.GetProperty("code").GetString());
        Assert.Equal(3, (await _api.Get($"/skus/{sku}")).GetProperty("available").GetInt64());
    }
}
