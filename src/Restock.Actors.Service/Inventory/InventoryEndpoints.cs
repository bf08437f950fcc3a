using Restock.Actors.Domain.Inventory;
using Restock.Actors.Engine.Access;
using Restock.Actors.Engine.Inventory;
using Restock.Actors.Service.Access;
using Restock.Actors.Service.Hosting;

namespace Restock.Actors.Service.Inventory;

public sealed record SetStockBody(string? AdjustmentId, long? Quantity, string? Reason);

public sealed record AdjustStockBody(string? AdjustmentId, long? Delta, string? Reason);

/// <summary>Settable properties, not a constructor: the serializer then reads it without per-request argument state.</summary>
public sealed record ReserveBody
{
    public string? OrderId { get; init; }

    public long? Quantity { get; init; }

    public int? PaymentWindowSeconds { get; init; }
}

/// <summary>
/// A SKU's stock as merchants see it, after the request. <c>outcome</c> is done, or alreadyDone for a repeat. The API
/// description and clients read this shape; the service writes it with <see cref="StockAnswer"/>.
/// </summary>
public sealed record StockResponse(
    string SkuId, SkuOutcome Outcome, long Available, long Reserved, long Committed, long Shipped, long Refunded, long Restocked);

internal static class InventoryEndpoints
{
    private const int DefaultPaymentWindowSeconds = 15 * 60;
    private const int LongestPaymentWindowSeconds = 7 * 24 * 3600;

    public static void MapInventory(this IEndpointRouteBuilder app)
    {
        var skus = app.MapGroup("/skus/{skuId}");

        skus.MapGet("", (string skuId, IInventory inventory, CancellationToken ct) =>
        {
            var check = new Requests();
            var id = check.Id("skuId", skuId);
            return check.Problem is { } invalid ? Task.FromResult(invalid) : EngineCall.Run(inventory.GetStock(id, ct), Answer);
        })
            .Answers<StockResponse>("A SKU's stock", StatusCodes.Status200OK, StatusCodes.Status400BadRequest, StatusCodes.Status404NotFound, StatusCodes.Status503ServiceUnavailable);

        // The merchant's side: a SKU is stocked by its shop, and the first stock command makes the shop its owner.
        var owned = app.MapGroup("/shops/{shopId}/skus/{skuId}");

        owned.MapGet("", async (string shopId, string skuId, IInventory inventory, CancellationToken ct) =>
        {
            var check = new Requests();
            var shop = check.Id("shopId", shopId);
            var id = check.Id("skuId", skuId);
            if (check.Problem is { } invalid) return invalid;
            return await EngineCall.Run(() => inventory.GetStock(id, ct), reply =>
                reply.Owner != shop ? NotTheShops(shop, id)
                : reply.Succeeded ? new StockAnswer(reply)
                : Rejection(reply));
        })
            .Answers<StockResponse>("The stock of a SKU the shop owns", StatusCodes.Status200OK, StatusCodes.Status400BadRequest, StatusCodes.Status404NotFound, StatusCodes.Status503ServiceUnavailable);

        owned.MapPut("/stock", async (string shopId, string skuId, HttpContext context, IInventory inventory, CancellationToken ct) =>
        {
            var (body, problem) = await Requests.ReadJson<SetStockBody>(context.Request);
            if (problem is not null) return problem;
            var check = new Requests();
            var command = new SetStock(
                check.Id("adjustmentId", body!.AdjustmentId),
                check.Quantity("quantity", body.Quantity, min: 0),
                check.Text("reason", body.Reason, "stock set"),
                check.Id("shopId", shopId),
                ByOperator(context));
            return await Execute(skuId, check, command, inventory, ct);
        })
            .Takes<SetStockBody>().Answers<StockResponse>("Sets the sellable stock; the first stock command makes the shop the owner", StatusCodes.Status200OK, StatusCodes.Status400BadRequest, StatusCodes.Status404NotFound, StatusCodes.Status409Conflict, StatusCodes.Status503ServiceUnavailable);

        owned.MapPost("/adjustments", async (string shopId, string skuId, HttpContext context, IInventory inventory, CancellationToken ct) =>
        {
            var (body, problem) = await Requests.ReadJson<AdjustStockBody>(context.Request);
            if (problem is not null) return problem;
            var check = new Requests();
            var command = new AdjustStock(
                check.Id("adjustmentId", body!.AdjustmentId),
                check.Delta("delta", body.Delta),
                check.Text("reason", body.Reason, "stock adjusted"),
                check.Id("shopId", shopId),
                ByOperator(context));
            return await Execute(skuId, check, command, inventory, ct);
        })
            .Takes<AdjustStockBody>().Answers<StockResponse>("Moves the sellable stock by delta", StatusCodes.Status200OK, StatusCodes.Status400BadRequest, StatusCodes.Status404NotFound, StatusCodes.Status409Conflict, StatusCodes.Status503ServiceUnavailable);

        // No RequestAborted here: reading it makes a token source per request, and the reservation is decided whether or
        // not its caller is still there; a caller that went away only stops being waited for when the ask ends. The
        // engine comes from the root services (a singleton): asking the request's services for it would make a scope per
        // request. Not async while the body is already read (the usual case): no state machine of its own.
        var services = app.ServiceProvider;
        skus.MapPost("/reservations", (string skuId, HttpRequest request) =>
        {
            var read = Requests.ReadJson<ReserveBody>(request);
            return read.IsCompletedSuccessfully ? Reserve(skuId, read.Result, services) : ReserveOnceRead(skuId, read, services);
        })
            .Takes<ReserveBody>().Answers<StockResponse>("Reserves units for an order until it is paid or its deadline passes", StatusCodes.Status200OK, StatusCodes.Status400BadRequest, StatusCodes.Status404NotFound, StatusCodes.Status409Conflict, StatusCodes.Status503ServiceUnavailable);

        skus.MapPost("/orders/{orderId}/cancel", (string skuId, string orderId, IInventory inventory, CancellationToken ct) =>
            ForOrder(skuId, orderId, id => new Release(id), inventory, ct))
            .Answers<StockResponse>("Releases an unpaid reservation", StatusCodes.Status200OK, StatusCodes.Status400BadRequest, StatusCodes.Status404NotFound, StatusCodes.Status409Conflict, StatusCodes.Status503ServiceUnavailable);
        skus.MapPost("/orders/{orderId}/payment", (string skuId, string orderId, IInventory inventory, CancellationToken ct) =>
            ForOrder(skuId, orderId, id => new ConfirmPayment(id), inventory, ct))
            .Answers<StockResponse>("Reserved to committed", StatusCodes.Status200OK, StatusCodes.Status400BadRequest, StatusCodes.Status404NotFound, StatusCodes.Status409Conflict, StatusCodes.Status503ServiceUnavailable);
        skus.MapPost("/orders/{orderId}/shipment", (string skuId, string orderId, IInventory inventory, CancellationToken ct) =>
            ForOrder(skuId, orderId, id => new Ship(id), inventory, ct))
            .Answers<StockResponse>("Committed to shipped", StatusCodes.Status200OK, StatusCodes.Status400BadRequest, StatusCodes.Status404NotFound, StatusCodes.Status409Conflict, StatusCodes.Status503ServiceUnavailable);
    }

    private static async Task<IResult> ReserveOnceRead(string skuId, ValueTask<(ReserveBody? Body, IResult? Problem)> read, IServiceProvider services) =>
        await Reserve(skuId, await read, services);

    private static Task<IResult> Reserve(string skuId, (ReserveBody? Body, IResult? Problem) read, IServiceProvider services)
    {
        if (read.Problem is { } problem) return Task.FromResult(problem);
        var body = read.Body!;
        var check = new Requests();
        var window = body.PaymentWindowSeconds ?? DefaultPaymentWindowSeconds;
        if (window < 1 || window > LongestPaymentWindowSeconds)
            check.Add("paymentWindowSeconds", $"must be between 1 and {LongestPaymentWindowSeconds}");
        var command = new Reserve(
            check.Id("orderId", body.OrderId),
            check.Quantity("quantity", body.Quantity),
            DateTimeOffset.UtcNow.AddSeconds(window));
        return Execute(skuId, check, command, services.GetRequiredService<IInventory>(), CancellationToken.None);
    }

    private static bool ByOperator(HttpContext context) => AccessMiddleware.CallerOf(context).Kind == KeyKind.Operator;

    private static Task<IResult> ForOrder(string skuId, string orderId, Func<string, SkuCommand> command,
        IInventory inventory, CancellationToken ct)
    {
        var check = new Requests();
        var id = check.Id("orderId", orderId);
        return Execute(skuId, check, command(id), inventory, ct);
    }

    private static Task<IResult> Execute(string skuId, Requests check, SkuCommand command, IInventory inventory, CancellationToken ct)
    {
        var id = check.Id("skuId", skuId);
        return check.Problem is { } invalid ? Task.FromResult(invalid) : EngineCall.Run(inventory.Execute(id, command, ct), Answer);
    }

    private static IResult Answer(SkuReply reply) => reply.Succeeded ? new StockAnswer(reply) : Rejection(reply);

    /// <summary>Another shop's SKU answers exactly like a SKU that does not exist: its existence is not the caller's business.</summary>
    public static IResult NotTheShops(string shopId, string skuId) =>
        Results.Problem(
            title: "Not found.",
            detail: $"shop {shopId} has no SKU {skuId}",
            statusCode: StatusCodes.Status404NotFound,
            extensions: new Dictionary<string, object?> { ["code"] = nameof(RejectionCode.NotOwner) });

    public static IResult Rejection(SkuReply reply)
    {
        if (reply.Rejection == RejectionCode.NotOwner)
            return Results.Problem(title: "Not found.", detail: reply.Message, statusCode: StatusCodes.Status404NotFound,
                extensions: new Dictionary<string, object?> { ["code"] = nameof(RejectionCode.NotOwner) });
        var status = reply.Rejection switch
        {
            RejectionCode.UnknownSku or RejectionCode.UnknownOrderLine => StatusCodes.Status404NotFound,
            RejectionCode.InvalidId or RejectionCode.InvalidQuantity => StatusCodes.Status400BadRequest,
            _ => StatusCodes.Status409Conflict,
        };
        return Results.Problem(
            title: "The request was refused; nothing was changed.",
            detail: reply.Message,
            statusCode: status,
            extensions: new Dictionary<string, object?>
            {
                ["code"] = reply.Rejection.ToString(),
                ["skuId"] = reply.SkuId,
                ["available"] = reply.Levels.Available,
            });
    }
}
