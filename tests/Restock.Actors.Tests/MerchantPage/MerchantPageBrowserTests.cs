using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Microsoft.Playwright;
using Restock.Actors.Tests.Support;
using static Microsoft.Playwright.Assertions;

namespace Restock.Actors.Tests.MerchantPage;

/// <summary>
/// A merchant uses the page in a real browser (Debian's chromium, headless; never a downloaded one) against the
/// service in its own process, while the trading system drives orders through the API with a platform key.
/// </summary>
public sealed class MerchantPageBrowserTests
{
    private static readonly string[] ChromiumPaths = ["/usr/lib/chromium/chromium", "/usr/bin/chromium"];

    private static readonly string Screenshots = Path.Combine(AppContext.BaseDirectory, "TestResults", "screenshots");

    private static string? Chromium => ChromiumPaths.FirstOrDefault(File.Exists);

    [SkippableFact]
    public async Task A_merchant_signs_in_turns_the_switch_on_through_the_erp_warning_finds_restocks_restocks_by_hand_sees_refunds_needing_attention_and_switches_language()
    {
        Skip.If(Chromium is null, $"no chromium binary at {string.Join(" or ", ChromiumPaths)} (apt-get install chromium)");
        Directory.CreateDirectory(Screenshots);
        // Refund lines refused for a reason that could change are parked after 3 s instead of an hour.
        await using var service = await ServiceProcess.StartAsync(new Dictionary<string, string> { ["RESTOCK_REFUND_RETRY_FOR"] = "3s" });
        try
        {
            await Run(service);
        }
        finally
        {
            await File.WriteAllTextAsync(Path.Combine(Screenshots, "service.log"), service.Log);
        }
    }

    private static async Task Run(ServiceProcess service)
    {
        var id = Guid.NewGuid().ToString("N")[..8];
        var (shop, sku) = ($"shop-{id}", $"mug-{id}");
        var operatorApi = Client(service, service.OperatorKey);
        var issued = await Api.Expect(HttpStatusCode.Created, operatorApi.PostAsync("/keys",
            Json(new { kind = "shop", shopId = shop, label = "merchant page test" })));
        var shopKey = issued.GetProperty("key").GetString()!;
        var platformKey = (await Api.Expect(HttpStatusCode.Created, operatorApi.PostAsync("/keys",
            Json(new { kind = "platform", label = "trading system in the merchant page test" })))).GetProperty("key").GetString()!;
        var shopApi = Client(service, shopKey);
        var platform = Client(service, platformKey);
        await Api.Expect(HttpStatusCode.OK, shopApi.PutAsync($"/shops/{shop}/skus/{sku}/stock",
            Json(new { adjustmentId = "delivery-1", quantity = 30 })));

        SetDefaultExpectTimeout(20_000);
        using var playwright = await Playwright.CreateAsync();
        await using var browser = await playwright.Chromium.LaunchAsync(new()
        {
            ExecutablePath = Chromium,
            Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
        });
        var context = await browser.NewContextAsync(new() { BaseURL = service.Url, Locale = "en-GB", TimezoneId = "UTC", AcceptDownloads = true });
        var page = await context.NewPageAsync();

        // A wrong key is refused with a sentence, never raw JSON.
        await page.GotoAsync("/");
        await page.GetByLabel("Shop key").FillAsync("not-a-key");
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
        await Expect(page.Locator("#sign-in-error")).ToContainTextAsync("Your key was not accepted");
        await Expect(page.Locator("#sign-in-error")).Not.ToContainTextAsync("{");
        await Shot(page, "01-wrong-key");

        await page.GetByLabel("Shop key").FillAsync(shopKey);
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
        await Expect(page.Locator("#whoami")).ToHaveTextAsync($"Shop {shop}");
        await Expect(page.Locator("#switch-state")).ToHaveTextAsync("Off");
        await Expect(page.Locator("#switch-origin")).ToHaveTextAsync("Default (off)");
        await Expect(page.GetByText("the stock comes back twice and the shop oversells")).ToBeVisibleAsync();
        await Shot(page, "02-signed-in");

        // The ERP restocks: turning the switch on needs the explicit confirmation.
        await page.GetByRole(AriaRole.Button, new() { Name = "Mark: our ERP restocks refunds" }).ClickAsync();
        await Expect(page.Locator("#erp-state")).ToHaveTextAsync("Yes");
        await page.GetByRole(AriaRole.Button, new() { Name = "Turn auto-restock on" }).ClickAsync();
        var dialog = page.GetByRole(AriaRole.Dialog);
        await Expect(dialog).ToBeVisibleAsync();
        await Expect(dialog.GetByRole(AriaRole.Button, new() { Name = "Turn on anyway" })).ToBeDisabledAsync();
        await Shot(page, "03-erp-warning");
        await dialog.GetByLabel("I understand: the ERP no longer restocks these refunds.").CheckAsync();
        await dialog.GetByRole(AriaRole.Button, new() { Name = "Turn on anyway" }).ClickAsync();
        await Expect(page.Locator("#switch-state")).ToHaveTextAsync("On");
        await Expect(page.Locator("#switch-origin")).ToHaveTextAsync("Merchant");
        await page.GetByText("Setting history").First.ClickAsync();
        await Expect(page.Locator("#history tbody tr").First).ToContainTextAsync("ERP warning overridden");
        await Shot(page, "04-switch-on");

        // The trading system: an order placed, paid and refunded before shipment comes back on sale by itself.
        var (order1, refund1) = ($"order-{id}-1", $"refund-{id}-1");
        await PaidOrder(platform, sku, order1, 2);
        await Api.Expect(HttpStatusCode.Accepted, platform.PostAsync("/refunds",
            Json(new { refundId = refund1, orderId = order1, shopId = shop, lines = new[] { new { skuId = sku, quantity = 2 } } })));
        await Api.Eventually(() => Api.Expect(HttpStatusCode.OK, shopApi.GetAsync($"/shops/{shop}/ledger?orderId={order1}")),
            l => l.GetProperty("entries").GetArrayLength() == 1);

        await page.Locator("#ledger-order").FillAsync(order1);
        await page.GetByRole(AriaRole.Button, new() { Name = "Search" }).ClickAsync();
        var ledgerRows = page.Locator("#ledger tbody tr");
        await Expect(ledgerRows).ToHaveCountAsync(1);
        await Expect(ledgerRows.First).ToContainTextAsync(refund1);
        await Expect(ledgerRows.First).ToContainTextAsync("Automatic");
        await Shot(page, "05-ledger-by-order");

        await page.Locator("#ledger-order").FillAsync("");
        await page.Locator("#ledger-sku").FillAsync(sku);
        await page.GetByRole(AriaRole.Button, new() { Name = "Search" }).ClickAsync();
        await Expect(ledgerRows).ToHaveCountAsync(1);
        await Expect(ledgerRows.First).ToContainTextAsync(order1);
        await Shot(page, "06-ledger-by-sku");

        // The time range: nothing was restocked before an hour ago.
        await page.Locator("#ledger-to").FillAsync(DateTime.UtcNow.AddHours(-1).ToString("yyyy-MM-dd'T'HH:mm"));
        await page.GetByRole(AriaRole.Button, new() { Name = "Search" }).ClickAsync();
        await Expect(page.Locator("#ledger-status")).ToHaveTextAsync("No restock matches.");
        await Expect(ledgerRows).ToHaveCountAsync(0);
        await page.Locator("#ledger-to").FillAsync("");
        await page.Locator("#ledger-from").FillAsync(DateTime.UtcNow.AddHours(-1).ToString("yyyy-MM-dd'T'HH:mm"));
        await page.GetByRole(AriaRole.Button, new() { Name = "Search" }).ClickAsync();
        await Expect(ledgerRows).ToHaveCountAsync(1);

        // Twenty more restocks: the page shows 20 per page, the oldest (order 1) on the second; the CSV has them all.
        var order3 = $"order-{id}-3";
        await PaidOrder(platform, sku, order3, 20);
        for (var i = 1; i <= 20; i++)
        {
            await Api.Expect(HttpStatusCode.Accepted, platform.PostAsync("/refunds", Json(new
            {
                refundId = $"refund-{id}-3-{i}", orderId = order3, shopId = shop, lines = new[] { new { skuId = sku, quantity = 1 } },
            })));
        }
        await Api.Eventually(() => Api.Expect(HttpStatusCode.OK, shopApi.GetAsync($"/shops/{shop}/ledger?skuId={sku}&limit=100")),
            l => l.GetProperty("entries").GetArrayLength() == 21);
        await page.GetByRole(AriaRole.Button, new() { Name = "Search" }).ClickAsync();
        await Expect(page.Locator("#ledger-status")).ToHaveTextAsync("Page 1: 20 restocks.");
        await Expect(ledgerRows).ToHaveCountAsync(20);
        await Expect(page.GetByRole(AriaRole.Button, new() { Name = "First page" })).ToBeDisabledAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Next page" }).ClickAsync();
        await Expect(page.Locator("#ledger-status")).ToHaveTextAsync("Page 2: 1 restock.");
        await Expect(ledgerRows).ToHaveCountAsync(1);
        await Expect(ledgerRows.First).ToContainTextAsync(order1);
        await Expect(page.GetByRole(AriaRole.Button, new() { Name = "Next page" })).ToBeDisabledAsync();
        await Shot(page, "07-ledger-second-page");
        await page.GetByRole(AriaRole.Button, new() { Name = "First page" }).ClickAsync();
        await Expect(ledgerRows).ToHaveCountAsync(20);
        await Expect(ledgerRows.First).ToContainTextAsync(order3);

        var download = await page.RunAndWaitForDownloadAsync(() => page.GetByRole(AriaRole.Button, new() { Name = "Export CSV" }).ClickAsync());
        var csvPath = Path.Combine(Screenshots, "ledger.csv");
        await download.SaveAsAsync(csvPath);
        var csv = (await File.ReadAllLinesAsync(csvPath)).Where(l => l.Length > 0).ToList();
        Assert.Equal("ledgerId,at,shopId,orderId,refundId,skuId,quantity,stockBefore,stockAfter,trigger,settingVersion", csv[0].TrimStart('\uFEFF'));
        Assert.Equal(22, csv.Count);
        Assert.Contains($",{shop},{order1},{refund1},{sku},2,28,30,auto,", csv[^1]);
        Assert.Equal(20, csv.Count(l => l.Contains($",{order3},")));

        // The ERP flag set again while the switch is on: the guard turns the switch off and the page says so.
        await page.GetByRole(AriaRole.Button, new() { Name = "Mark: our ERP does not restock" }).ClickAsync();
        await Expect(page.Locator("#erp-state")).ToHaveTextAsync("No");
        await Expect(page.Locator("#switch-state")).ToHaveTextAsync("On");
        await page.GetByRole(AriaRole.Button, new() { Name = "Mark: our ERP restocks refunds" }).ClickAsync();
        await Expect(page.Locator("#switch-state")).ToHaveTextAsync("Off");
        await Expect(page.Locator("#switch-origin")).ToHaveTextAsync("ERP guard (turned off because the ERP restocks)");
        await Expect(page.Locator("#settings-status")).ToHaveTextAsync("Saved; auto-restock was turned off: the ERP restocks.");

        // With the switch off, the next refund waits in "not restocked" until the merchant restocks it, once.
        var (order2, refund2) = ($"order-{id}-2", $"refund-{id}-2");
        await PaidOrder(platform, sku, order2, 1);
        await Api.Expect(HttpStatusCode.Accepted, platform.PostAsync("/refunds",
            Json(new { refundId = refund2, orderId = order2, shopId = shop, lines = new[] { new { skuId = sku, quantity = 1 } } })));
        await Api.Eventually(() => Api.Expect(HttpStatusCode.OK, shopApi.GetAsync($"/shops/{shop}/not-restocked?orderId={order2}")),
            l => l.GetProperty("entries").GetArrayLength() == 1);

        await page.Locator("#open-form").GetByRole(AriaRole.Button, new() { Name = "Refresh" }).ClickAsync();
        var line = page.Locator("#open tbody tr", new() { HasText = refund2 });
        await Expect(line).ToHaveCountAsync(1);
        await Shot(page, "08-not-restocked");
        await line.GetByRole(AriaRole.Button).ClickAsync();
        await Expect(line.GetByRole(AriaRole.Button)).ToHaveTextAsync("Restocked");
        await Expect(line.GetByRole(AriaRole.Button)).ToBeDisabledAsync();
        await Expect(page.Locator("#open-status")).ToContainTextAsync("back on sale");
        await Shot(page, "09-restocked-by-hand");
        var stock = await Api.Expect(HttpStatusCode.OK, shopApi.GetAsync($"/shops/{shop}/skus/{sku}"));
        Assert.Equal(30, stock.GetProperty("available").GetInt64());

        // A refund that overtakes its payment is retried, then parked: the merchant sees it with the reason.
        var (order4, refund4) = ($"order-{id}-4", $"refund-{id}-4");
        await Api.Expect(HttpStatusCode.OK, platform.PostAsync($"/skus/{sku}/reservations", Json(new { orderId = order4, quantity = 1 })));
        await Api.Expect(HttpStatusCode.Accepted, platform.PostAsync("/refunds",
            Json(new { refundId = refund4, orderId = order4, shopId = shop, lines = new[] { new { skuId = sku, quantity = 1 } } })));
        await Api.Eventually(() => Api.Expect(HttpStatusCode.OK, shopApi.GetAsync($"/shops/{shop}/refunds/needs-attention")),
            l => l.GetProperty("entries").GetArrayLength() == 1);
        await page.Locator("#attention-title").Locator("..").GetByRole(AriaRole.Button, new() { Name = "Refresh" }).ClickAsync();
        var parked = page.Locator("#attention tbody tr");
        await Expect(parked).ToHaveCountAsync(1);
        await Expect(parked.First).ToContainTextAsync(refund4);
        await Expect(parked.First).ToContainTextAsync("The order line was not paid when the refund came.");
        await Expect(page.Locator("#attention-status")).ToHaveTextAsync("1 line needs attention.");
        await Shot(page, "10-needs-attention");

        // Chinese, remembered across a reload (the key stays in the tab's session).
        await page.GetByRole(AriaRole.Button, new() { Name = "中文" }).ClickAsync();
        await Expect(page.Locator("h1")).ToHaveTextAsync("补库存商家后台");
        await Expect(page.Locator("html")).ToHaveAttributeAsync("lang", "zh-CN");
        await Expect(page.Locator("#switch-state")).ToHaveTextAsync("关");
        await page.ReloadAsync();
        await Expect(page.Locator("#ledger-title")).ToHaveTextAsync("补库存流水");
        await Expect(page.Locator("#whoami")).ToHaveTextAsync($"店铺 {shop}");
        await Expect(page.Locator("#attention tbody tr").First).ToContainTextAsync("退款到达时该订单行尚未付款。");
        await Expect(page.GetByRole(AriaRole.Button, new() { Name = "English" })).ToBeVisibleAsync();
        await Shot(page, "11-chinese");
        // On a phone the page fits the screen's width: wide tables scroll inside their cards.
        await page.SetViewportSizeAsync(390, 844);
        Assert.True(await page.EvaluateAsync<int>("document.documentElement.scrollWidth") <= 390);
        await Shot(page, "12-chinese-on-a-phone");

        // A revoked key ends the session at the next request, with the reason.
        await Api.Expect(HttpStatusCode.NoContent, operatorApi.DeleteAsync($"/keys/{issued.GetProperty("keyId").GetString()}"));
        await page.Locator("#open-form").GetByRole(AriaRole.Button, new() { Name = "刷新" }).ClickAsync();
        await Expect(page.GetByLabel("店铺密钥")).ToBeVisibleAsync();
        await Expect(page.Locator("#sign-in-error")).ToContainTextAsync("密钥未被接受");
        await Shot(page, "13-key-revoked");
    }

    private static async Task PaidOrder(HttpClient platform, string sku, string order, int quantity)
    {
        await Api.Expect(HttpStatusCode.OK, platform.PostAsync($"/skus/{sku}/reservations", Json(new { orderId = order, quantity })));
        await Api.Expect(HttpStatusCode.OK, platform.PostAsync($"/skus/{sku}/orders/{order}/payment", null));
    }

    private static Task Shot(IPage page, string name) =>
        page.ScreenshotAsync(new() { Path = Path.Combine(Screenshots, $"{name}.png"), FullPage = true });

    private static HttpClient Client(ServiceProcess service, string key)
    {
        var http = new HttpClient { BaseAddress = new Uri(service.Url) };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return http;
    }

    private static StringContent Json(object body) => new(JsonSerializer.Serialize(body), System.Text.Encoding.UTF8, "application/json");
}
