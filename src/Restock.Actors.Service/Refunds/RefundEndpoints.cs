using Restock.Actors.Domain.Inventory;
using Restock.Actors.Domain.Refunds;
using Restock.Actors.Engine.Access;
using Restock.Actors.Engine.Inventory;
using Restock.Actors.Engine.Ledger;
using Restock.Actors.Engine.Refunds;
using Restock.Actors.Service.Access;
using Restock.Actors.Service.Hosting;
using Restock.Actors.Service.Inventory;
using Restock.Actors.Service.Ledger;

namespace Restock.Actors.Service.Refunds;

public sealed record RefundLineBody(string? SkuId, long? Quantity);

public sealed record RefundBody(string? RefundId, string? OrderId, string? ShopId, RefundLineBody[]? Lines, DateTimeOffset? CompletedAt);

public sealed record ErpRestockBody(string? RefundId, string? OrderId, string? SkuId, long? Quantity, string? Actor);

public sealed record ManualRestockBody(string? Actor);

/// <summary>The answer to a restock on request: <c>alreadyDone</c> says the line had been restocked before (and by whom).</summary>
public sealed record RestockResponse(string SkuId, string RefundId, SkuOutcome Outcome, string? Message, long Available);

internal static class RefundEndpoints
{
    public static void MapRefunds(this IEndpointRouteBuilder app)
    {
        app.MapPost("/refunds", async (HttpRequest request, IRefunds refunds, CancellationToken ct) =>
        {
            var (body, problem) = await Requests.ReadJson<RefundBody>(request);
            if (problem is not null) return problem;
            var check = new Requests();
            var refundId = check.Id("refundId", body!.RefundId);
            var orderId = check.Id("orderId", body.OrderId);
            var shopId = check.Id("shopId", body.ShopId);
            if (body.Lines is not { Length: > 0 and <= RefundRules.MaxLines })
                check.Add("lines", $"give 1 to {RefundRules.MaxLines} refunded lines");
            var lines = (body.Lines ?? []).Select((l, i) => new RefundedLine(
                check.Id($"lines[{i}].skuId", l?.SkuId), check.Quantity($"lines[{i}].quantity", l?.Quantity))).ToList();
            if (lines.Select(l => l.SkuId).Distinct().Count() != lines.Count)
                check.Add("lines", "one line per SKU: a SKU appears twice");
            if (body.CompletedAt is { } at && at > DateTimeOffset.UtcNow.AddMinutes(5))
                check.Add("completedAt", "is in the future");
            if (check.Problem is { } bad) return bad;

            var refund = new RefundRequest(refundId, orderId, shopId, lines, body.CompletedAt ?? DateTimeOffset.UtcNow);
            return await EngineCall.Run(() => refunds.Submit(refund, ct), reply => reply.Outcome switch
            {
                RefundOutcome.Accepted => Results.Accepted(StatusPath(orderId, refundId), reply.Status),
                RefundOutcome.AlreadyReceived => Results.Ok(reply.Status),
                _ => Results.Problem(title: "The refund was refused; nothing was changed.", detail: reply.Message,
                    statusCode: reply.Code == nameof(RefundRejectionCode.ConflictingRepeat) ? StatusCodes.Status409Conflict : StatusCodes.Status400BadRequest,
                    extensions: new Dictionary<string, object?> { ["code"] = reply.Code }),
            });
        })
            .Takes<RefundBody>().Answers<RefundStatus>("A refund succeeded before shipment (202; a repeat is 200)", StatusCodes.Status202Accepted, StatusCodes.Status400BadRequest, StatusCodes.Status409Conflict, StatusCodes.Status503ServiceUnavailable).Produces<RefundStatus>(StatusCodes.Status200OK);

        app.MapGet("/orders/{orderId}/refunds/{refundId}", (string orderId, string refundId, HttpContext context, IRefunds refunds, CancellationToken ct) =>
        {
            var check = new Requests();
            var order = check.Id("orderId", orderId);
            var refund = check.Id("refundId", refundId);
            var caller = AccessMiddleware.CallerOf(context);
            // A shop key sees a refund that names it, and only the lines of SKUs it owns; anything else answers as if
            // it did not exist (the platform names the shop, which proves nothing about who owns the SKUs).
            return check.Problem is { } bad ? Task.FromResult(bad) : EngineCall.Run(() => refunds.Get(order, refund, ct), reply =>
                (caller.Kind != KeyKind.Shop ? reply.Status
                    : reply.Status is { } named && named.ShopId == caller.ShopId ? named.AsSeenByNamedShop() : null) is { } status
                    ? Results.Ok(status)
                    : Results.Problem(title: "Not found.", detail: $"no refund {refund} for order {order}", statusCode: StatusCodes.Status404NotFound));
        })
            .Answers<RefundStatus>("The refund's progress: policy, setting version, each line's outcome", StatusCodes.Status200OK, StatusCodes.Status400BadRequest, StatusCodes.Status404NotFound, StatusCodes.Status503ServiceUnavailable);

        app.MapGet("/shops/{shopId}/refunds/needs-attention",
            async (string shopId, [AsParameters] LedgerSearchParameters search, LedgerStore ledger, CancellationToken ct) =>
            {
                var (query, problem) = LedgerEndpoints.Read(search, shopId, shopFromPath: true);
                return problem ?? Results.Ok(await ledger.NeedsAttentionAsync(query!, ct));
            })
            .Answers<LedgerPage<NeedsAttentionEntry>>("The shop's refund lines parked as needing attention", StatusCodes.Status200OK, StatusCodes.Status400BadRequest);

        app.MapPost("/shops/{shopId}/erp/restocks", async (string shopId, HttpRequest request, IInventory inventory, CancellationToken ct) =>
        {
            var (body, problem) = await Requests.ReadJson<ErpRestockBody>(request);
            if (problem is not null) return problem;
            var check = new Requests();
            var command = new RestockRefund(
                check.Id("refundId", body!.RefundId),
                check.Id("orderId", body.OrderId),
                check.Quantity("quantity", body.Quantity),
                RestockTrigger.Erp,
                check.Id("shopId", shopId),
                check.Actor("actor", body.Actor ?? "erp"),
                DateTimeOffset.UtcNow);
            var skuId = check.Id("skuId", body.SkuId);
            return check.Problem ?? await Restock(skuId, command, inventory, ct);
        })
            .Takes<ErpRestockBody>().Answers<RestockResponse>("The shop's ERP restocked a refunded line", StatusCodes.Status200OK, StatusCodes.Status400BadRequest, StatusCodes.Status404NotFound, StatusCodes.Status409Conflict, StatusCodes.Status503ServiceUnavailable);

        app.MapPost("/shops/{shopId}/refunds/{refundId}/skus/{skuId}/restock",
            async (string shopId, string refundId, string skuId, HttpRequest request, IInventory inventory, LedgerStore ledger, CancellationToken ct) =>
            {
                var (body, problem) = await Requests.ReadJson<ManualRestockBody>(request);
                if (problem is not null) return problem;
                var check = new Requests();
                var command = new RestockRefund(check.Id("refundId", refundId), null, null, RestockTrigger.Manual,
                    check.Id("shopId", shopId), check.Actor("actor", body!.Actor), DateTimeOffset.UtcNow);
                var sku = check.Id("skuId", skuId);
                return check.Problem ?? await ManualRestock(sku, command, inventory, ledger, ct);
            })
            .Takes<ManualRestockBody>().Answers<RestockResponse>("The merchant restocks a not-restocked line by hand, once", StatusCodes.Status200OK, StatusCodes.Status400BadRequest, StatusCodes.Status404NotFound, StatusCodes.Status409Conflict, StatusCodes.Status503ServiceUnavailable);
    }

    private static string StatusPath(string orderId, string refundId) =>
        $"/orders/{Uri.EscapeDataString(orderId)}/refunds/{Uri.EscapeDataString(refundId)}";

    /// <summary>
    /// A refund the SKU no longer knows but the ledger lists as not restocked was compacted when its manual-restock
    /// window closed: answered as such (the SKU keeps nothing of it, so it cannot tell this from an unknown refund).
    /// </summary>
    private static async Task<IResult> ManualRestock(string skuId, RestockRefund command, IInventory inventory, LedgerStore ledger, CancellationToken ct)
    {
        SkuReply? unknown = null;
        var result = await EngineCall.Run(() => inventory.Execute(skuId, command, ct), reply =>
        {
            if (reply.Rejection == RejectionCode.UnknownRefund) unknown = reply;
            return reply.Succeeded
                ? Results.Ok(new RestockResponse(skuId, command.RefundId, reply.Outcome, reply.Message, reply.Levels.Available))
                : InventoryEndpoints.Rejection(reply);
        });
        return unknown is not null && await ledger.ListedAsNotRestockedAsync(command.RefundId, skuId, ct)
            ? InventoryEndpoints.Rejection(unknown with
            {
                Rejection = RejectionCode.RestockWindowClosed,
                Message = $"refund {command.RefundId} can no longer be restocked on request: its manual-restock window has closed; " +
                    "put the units back with a stock adjustment",
            })
            : result;
    }

    private static Task<IResult> Restock(string skuId, RestockRefund command, IInventory inventory, CancellationToken ct) =>
        EngineCall.Run(() => inventory.Execute(skuId, command, ct), reply => reply.Succeeded
            ? Results.Ok(new RestockResponse(skuId, command.RefundId, reply.Outcome, reply.Message, reply.Levels.Available))
            : InventoryEndpoints.Rejection(reply));
}
