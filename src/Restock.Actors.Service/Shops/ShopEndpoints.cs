using Restock.Actors.Domain.Shops;
using Restock.Actors.Engine.Shops;
using Restock.Actors.Service.Hosting;

namespace Restock.Actors.Service.Shops;

public sealed record SwitchBody(bool? On, string? Actor, string? Reason, bool? OverrideErp);

public sealed record WhitelistBody(string[]? ShopIds, string? Actor);

public sealed record ShopSettingsResponse(
    string ShopId, string Outcome, string? Message, bool AutoRestock, bool ErpRestocks, SettingOrigin Origin, long Version,
    IReadOnlyList<SettingChange> History)
{
    public static ShopSettingsResponse From(ShopReply r) => new(r.ShopId,
        r.Outcome == ShopOutcome.AlreadyDone ? "alreadyDone" : "done", r.Message, r.Settings.AutoRestock, r.Settings.ErpRestocks,
        r.Settings.Origin, r.Settings.Version, r.Settings.History);
}

public sealed record WhitelistShopResult(string ShopId, string Outcome, string? Note);

public sealed record WhitelistImportResponse(int TurnedOn, int Unchanged, IReadOnlyList<WhitelistShopResult> Shops);

internal static class ShopEndpoints
{
    public const int MaxWhitelistShops = 100_000;

    /// <summary>The whitelist import is the one body larger than the default limit: up to 100,000 shop ids.</summary>
    public const int MaxWhitelistBodyBytes = 16 * 1024 * 1024;

    public static void MapShops(this IEndpointRouteBuilder app)
    {
        app.MapGet("/shops/{shopId}/settings", (string shopId, IShops shops, CancellationToken ct) =>
        {
            var check = new Requests();
            var id = check.Id("shopId", shopId);
            return check.Problem is { } bad ? Task.FromResult(bad) : EngineCall.Run(() => shops.Get(id, ct), ToResult);
        })
            .Answers<ShopSettingsResponse>("The switch, the ERP flag, where the value came from, the history", StatusCodes.Status200OK, StatusCodes.Status400BadRequest, StatusCodes.Status503ServiceUnavailable);

        app.MapPut("/shops/{shopId}/settings/auto-restock", (string shopId, HttpRequest request, IShops shops, CancellationToken ct) =>
            ChangeSetting(shopId, request, shops, ct, "turned", (b, actor, reason) =>
                new SetAutoRestock(b.On!.Value, SettingOrigin.Merchant, actor, reason, b.OverrideErp ?? false, DateTimeOffset.UtcNow)))
            .Takes<SwitchBody>().Answers<ShopSettingsResponse>("Turns the auto-restock switch on or off (ERP guard: overrideErp)", StatusCodes.Status200OK, StatusCodes.Status400BadRequest, StatusCodes.Status409Conflict, StatusCodes.Status503ServiceUnavailable);

        app.MapPut("/shops/{shopId}/settings/erp-restocks", (string shopId, HttpRequest request, IShops shops, CancellationToken ct) =>
            ChangeSetting(shopId, request, shops, ct, "ERP restocking turned", (b, actor, reason) =>
                new SetErpRestocks(b.On!.Value, actor, reason, DateTimeOffset.UtcNow)))
            .Takes<SwitchBody>().Answers<ShopSettingsResponse>("Declares whether the shop's ERP restocks (on turns the switch off)", StatusCodes.Status200OK, StatusCodes.Status400BadRequest, StatusCodes.Status409Conflict, StatusCodes.Status503ServiceUnavailable);

        app.MapPost("/operators/whitelist-import", async (HttpRequest request, IShops shops, CancellationToken ct) =>
        {
            var (body, problem) = await Requests.ReadJson<WhitelistBody>(request, MaxWhitelistBodyBytes);
            if (problem is not null) return problem;
            var check = new Requests();
            var actor = check.Actor("actor", body!.Actor ?? "operator:whitelist-import");
            if (body.ShopIds is not { Length: > 0 and <= MaxWhitelistShops })
                check.Add("shopIds", $"give 1 to {MaxWhitelistShops} shop ids");
            var ids = (body.ShopIds ?? []).Select((id, i) => check.Id($"shopIds[{i}]", id)).Distinct().ToList();
            if (check.Problem is { } bad) return bad;

            var now = DateTimeOffset.UtcNow;
            return await EngineCall.Run(
                () => Task.WhenAll(ids.Select(id => shops.Execute(id, new ImportFromWhitelist(actor, now), ct))),
                replies => Results.Ok(new WhitelistImportResponse(
                    replies.Count(r => r.Outcome == ShopOutcome.Done),
                    replies.Count(r => r.Outcome != ShopOutcome.Done),
                    replies.Select(r => new WhitelistShopResult(r.ShopId, r.Outcome == ShopOutcome.Done ? "turnedOn" : "unchanged",
                        r.Message)).ToList())));
        })
            .Takes<WhitelistBody>().Answers<WhitelistImportResponse>("Turns the listed shops on, once (origin whitelist)", StatusCodes.Status200OK, StatusCodes.Status400BadRequest, StatusCodes.Status503ServiceUnavailable);
    }

    /// <summary>Reads and checks a switch change (on, actor, reason) and sends the command it makes.</summary>
    private static async Task<IResult> ChangeSetting(string shopId, HttpRequest request, IShops shops, CancellationToken ct,
        string defaultReason, Func<SwitchBody, string, string, ShopCommand> command)
    {
        var (body, problem) = await Requests.ReadJson<SwitchBody>(request);
        if (problem is not null) return problem;
        var check = new Requests();
        var id = check.Id("shopId", shopId);
        var on = check.Required("on", body!.On);
        var actor = check.Actor("actor", body.Actor);
        var reason = check.Text("reason", body.Reason, $"{defaultReason} {(on ? "on" : "off")}", 500);
        return check.Problem ?? await EngineCall.Run(() => shops.Execute(id, command(body, actor, reason), ct), ToResult);
    }

    private static IResult ToResult(ShopReply reply) => reply.Outcome == ShopOutcome.Rejected
        ? Results.Problem(
            title: "The change was refused; nothing was changed.",
            detail: reply.Message,
            statusCode: reply.Rejection == ShopRejectionCode.InvalidInput ? StatusCodes.Status400BadRequest : StatusCodes.Status409Conflict,
            extensions: new Dictionary<string, object?> { ["code"] = reply.Rejection.ToString(), ["shopId"] = reply.ShopId })
        : Results.Ok(ShopSettingsResponse.From(reply));
}
