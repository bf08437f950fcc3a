using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using Restock.Actors.Tests.Support;

namespace Restock.Actors.Tests.Http;

/// <summary>What an operator's Prometheus scrapes from <c>/metrics</c> after a sale with refunds, one of them parked.</summary>
public sealed class MetricsTests(MetricsTests.ParkingService service) : IClassFixture<MetricsTests.ParkingService>
{
    /// <summary>The service with a refund line parked after a second of retries instead of an hour.</summary>
    public sealed class ParkingService : ServiceFactory
    {
        protected override string[] EngineOverrides =>
            ["restock.refunds.retry-for = 1s", "restock.refunds.longest-retry-delay = 200ms", "restock.ledger.batch-window = 100ms"];
    }

    private readonly Api _api = new(service.CreateClient());

    [Fact]
    public async Task After_a_parked_refund_the_scrape_has_every_metric_operators_watch_including_parked_lines_and_the_needs_attention_list()
    {
        var shop = $"shop-{Guid.NewGuid():N}";
        var sku = $"sku-{Guid.NewGuid():N}";
        await Api.Expect(HttpStatusCode.OK, _api.Put($"/shops/{shop}/settings/auto-restock", new { on = true, actor = "merchant:test" }));
        await Api.Expect(HttpStatusCode.OK, _api.Put($"/shops/{shop}/skus/{sku}/stock", new { adjustmentId = "a1", quantity = 5 }));
        await Api.Expect(HttpStatusCode.OK, _api.Post($"/skus/{sku}/reservations", new { orderId = "paid", quantity = 2 }));
        await Api.Expect(HttpStatusCode.OK, _api.Post($"/skus/{sku}/orders/paid/payment"));
        await Api.Expect(HttpStatusCode.OK, _api.Post($"/skus/{sku}/reservations", new { orderId = "unpaid", quantity = 1 }));
        await Api.Expect(HttpStatusCode.Conflict, _api.Post($"/skus/{sku}/reservations", new { orderId = "too-many", quantity = 10 }));

        // A refund of a paid line restocks it; a refund of a line never paid is refused (NotPaid) until it is parked.
        await Api.Expect(HttpStatusCode.Accepted, _api.Post("/refunds",
            new { refundId = "r-paid", orderId = "paid", shopId = shop, lines = new[] { new { skuId = sku, quantity = 1 } } }));
        await Api.Expect(HttpStatusCode.Accepted, _api.Post("/refunds",
            new { refundId = "r-unpaid", orderId = "unpaid", shopId = shop, lines = new[] { new { skuId = sku, quantity = 1 } } }));
        await Api.Eventually(() => _api.Get($"/shops/{shop}/refunds/needs-attention"), page => page.GetProperty("entries").GetArrayLength() == 1);

        var scrape = (await Api.Eventually(async () => JsonSerializer.SerializeToElement(await Scrape()),
            text => NeedingAttention(text.GetString()!) >= 1 && text.GetString()!.Contains("restock_restocks_total{"))).GetString()!;

        // Issue 8's list: reservations by outcome and reason, restocks by trigger, refunds parked or not restocked,
        // journal batch size and write latency, active SKU actors and shards per node, ledger projection lag.
        Assert.Matches("restock_reservations_total\\{[^}]*outcome=\"accepted\"", scrape);
        Assert.Matches("restock_reservations_total\\{[^}]*reason=\"OutOfStock\"", scrape);
        Assert.Matches("restock_restocks_total\\{[^}]*trigger=\"auto\"", scrape);
        Assert.Matches("restock_refunds_parked_lines_total\\{[^}]*reason=\"NotPaid\"[^}]*\\} [1-9]", scrape);
        Assert.Contains("restock_refunded_lines_total{", scrape);
        Assert.Contains("restock_journal_batch_size_bucket{", scrape);
        Assert.Contains("restock_journal_write_latency_milliseconds_bucket{", scrape);
        Assert.Matches("restock_entities_active\\{[^}]*type=\"sku\"", scrape);
        Assert.Matches("restock_shards\\{[^}]*type=\"sku\"", scrape);
        Assert.Contains("restock_ledger_projection_lag_milliseconds_bucket{", scrape);
    }

    private async Task<string> Scrape()
    {
        using var response = await _api.Http.GetAsync("/metrics");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await response.Content.ReadAsStringAsync();
    }

    private static long NeedingAttention(string scrape) =>
        Regex.Match(scrape, @"^restock_refunds_needing_attention(\{[^}]*\})? (\d+)", RegexOptions.Multiline) is { Success: true } m
            ? long.Parse(m.Groups[2].Value)
            : 0;
}
