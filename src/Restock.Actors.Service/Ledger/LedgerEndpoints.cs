using Microsoft.AspNetCore.Mvc;
using Restock.Actors.Engine.Ledger;
using Restock.Actors.Service.Hosting;

namespace Restock.Actors.Service.Ledger;

/// <summary>
/// The search keys and paging of a ledger query, from the query string. All are text here, so a malformed value is
/// reported by <see cref="LedgerEndpoints"/> as a 400 naming the field rather than failing the binding.
/// </summary>
public sealed record LedgerSearchParameters(
    [property: FromQuery] string? OrderId,
    [property: FromQuery] string? SkuId,
    [property: FromQuery] string? From,
    [property: FromQuery] string? To,
    [property: FromQuery] string? Cursor,
    [property: FromQuery] string? Limit);

internal static class LedgerEndpoints
{
    public static void MapLedger(this IEndpointRouteBuilder app)
    {
        app.MapGet("/ledger", async ([AsParameters] LedgerSearchParameters search, string? shopId, LedgerStore ledger, CancellationToken ct) =>
        {
            var (query, problem) = Read(search, shopId, shopFromPath: false);
            return problem ?? Results.Ok(await ledger.SearchAsync(query!, ct));
        })
            .Answers<LedgerPage<RestockEntry>>("Restocks of every shop, newest first, paged by nextCursor", StatusCodes.Status200OK, StatusCodes.Status400BadRequest);

        app.MapGet("/shops/{shopId}/ledger", async (string shopId, [AsParameters] LedgerSearchParameters search, LedgerStore ledger, CancellationToken ct) =>
        {
            var (query, problem) = Read(search, shopId, shopFromPath: true);
            return problem ?? Results.Ok(await ledger.SearchAsync(query!, ct));
        })
            .Answers<LedgerPage<RestockEntry>>("The shop's restocks, newest first, paged by nextCursor", StatusCodes.Status200OK, StatusCodes.Status400BadRequest);

        app.MapGet("/shops/{shopId}/not-restocked", async (string shopId, [AsParameters] LedgerSearchParameters search, LedgerStore ledger, CancellationToken ct) =>
        {
            var (query, problem) = Read(search, shopId, shopFromPath: true);
            return problem ?? Results.Ok(await ledger.NotRestockedAsync(query!, ct));
        })
            .Answers<LedgerPage<NotRestockedEntry>>("The shop's refunded lines not restocked", StatusCodes.Status200OK, StatusCodes.Status400BadRequest);
    }

    /// <summary>Checks the search keys (shop, orderId, skuId, from, to) and paging (cursor, limit).</summary>
    public static (LedgerQuery? Query, IResult? Problem) Read(LedgerSearchParameters q, string? shopId, bool shopFromPath)
    {
        var check = new Requests();
        string? Id(string name, string? value) => string.IsNullOrEmpty(value) ? null : check.Id(name, value);
        var shop = shopFromPath ? check.Id("shopId", shopId) : Id("shopId", shopId);
        var order = Id("orderId", q.OrderId);
        var sku = Id("skuId", q.SkuId);
        if (shop is null && order is null && sku is null)
            check.Add("orderId", "search by orderId, skuId or shopId (at least one)");
        var from = check.Time("from", q.From);
        var to = check.Time("to", q.To);
        var cursor = check.Number("cursor", q.Cursor, 1, long.MaxValue);
        var limit = check.Number("limit", q.Limit, 1, LedgerQuery.MaxLimit) ?? 50;
        return check.Problem is { } bad
            ? (null, bad)
            : (new LedgerQuery(shop, order, sku, from, to, cursor, (int)limit), null);
    }
}
