using Restock.Actors.Engine.Ledger;
using Restock.Actors.Service.Hosting;

namespace Restock.Actors.Service.Ledger;

internal static class LedgerEndpoints
{
    public static void MapLedger(this IEndpointRouteBuilder app)
    {
        app.MapGet("/ledger", async (HttpRequest request, LedgerStore ledger, CancellationToken ct) =>
        {
            var (query, problem) = Read(request, shopId: null);
            return problem ?? Results.Ok(await ledger.SearchAsync(query!, ct));
        });

        app.MapGet("/shops/{shopId}/ledger", async (string shopId, HttpRequest request, LedgerStore ledger, CancellationToken ct) =>
        {
            var (query, problem) = Read(request, shopId);
            return problem ?? Results.Ok(await ledger.SearchAsync(query!, ct));
        });

        app.MapGet("/shops/{shopId}/not-restocked", async (string shopId, HttpRequest request, LedgerStore ledger, CancellationToken ct) =>
        {
            var (query, problem) = Read(request, shopId);
            return problem ?? Results.Ok(await ledger.NotRestockedAsync(query!, ct));
        });
    }

    /// <summary>Reads the search keys (shopId, orderId, skuId, from, to) and paging (cursor, limit) from the query string.</summary>
    private static (LedgerQuery? Query, IResult? Problem) Read(HttpRequest request, string? shopId)
    {
        var q = request.Query;
        var check = new Requests();
        string? Id(string name, string? value) => string.IsNullOrEmpty(value) ? null : check.Id(name, value);
        var shop = shopId is null ? Id("shopId", q["shopId"]) : check.Id("shopId", shopId);
        var order = Id("orderId", q["orderId"]);
        var sku = Id("skuId", q["skuId"]);
        if (shop is null && order is null && sku is null)
            check.Add("orderId", "search by orderId, skuId or shopId (at least one)");
        var from = check.Time("from", q["from"]);
        var to = check.Time("to", q["to"]);
        var cursor = check.Number("cursor", q["cursor"], 1, long.MaxValue);
        var limit = check.Number("limit", q["limit"], 1, LedgerQuery.MaxLimit) ?? 50;
        return check.Problem is { } bad
            ? (null, bad)
            : (new LedgerQuery(shop, order, sku, from, to, cursor, (int)limit), null);
    }
}
