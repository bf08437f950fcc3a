using System.Text.Json;
using System.Text.Json.Serialization;
using Restock.Actors.Engine.Hosting;
using Restock.Actors.Service.Access;
using Restock.Actors.Service.Hosting;
using Restock.Actors.Service.Inventory;
using Restock.Actors.Service.Ledger;
using Restock.Actors.Service.Refunds;
using Restock.Actors.Service.Shops;

// Deployments start the service as `dotnet /path/to/Restock.Actors.Service.dll` from any folder: its settings
// (appsettings.json) and the merchant page (wwwroot/) are found beside the dll, not in the current folder.
var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
var config = RestockConfig.Load(key => builder.Configuration[key]);
var urls = config.GetString("restock.http.urls");

var operatorKey = config.GetString("restock.access.operator-key", "");

if (args.Length > 0 && args[0] == WhitelistImportCli.Verb)
    return await WhitelistImportCli.RunAsync(args[1..], urls.Split(';')[0], operatorKey);
if (args.Length > 0 && args[0] is KeyCli.IssueVerb or KeyCli.RevokeVerb)
    return await KeyCli.RunAsync(args[0], args[1..], config);
if (args.Length > 0 && args[0] == ClusterCli.Verb)
    return await ClusterCli.RunAsync(args[1..], urls.Split(';')[0], operatorKey);

builder.WebHost.UseUrls(urls);
// Kestrel runs a request's code on the thread that read it and sends the response on the thread that wrote it, instead
// of handing each step to another worker (two fewer thread-pool hand-offs per request: loadtests/PERFORMANCE-LOG.md, "Over HTTP, third
// round"). Safe here because socket completions themselves stay on the thread pool (no inline completions): a route
// that blocked would hold one worker, as without it. restock.http.inline-scheduling = off restores Kestrel's default.
var inlineScheduling = config.GetBoolean("restock.http.inline-scheduling", false);
builder.WebHost.UseSockets(o => o.UnsafePreferInlineScheduling = inlineScheduling);
builder.Services.AddProblemDetails();
builder.Services.ConfigureHttpJsonOptions(o =>
    o.SerializerOptions.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.CamelCase)));
builder.Services.AddEngine(config);
builder.Services.AddAccess(config, operatorKey, urls.Split(';')[0]);
builder.Services.AddApiDescription();
builder.Services.AddRestockMetrics();

var app = builder.Build();
app.UseExceptionHandler();
app.UseRouting();
app.UseMiddleware<AccessMiddleware>();
// Only requests that no route handles pass through these (a 404 or 405 gets its problem details body from the
// status-code pages; the merchant page, wwwroot/, is public: it holds no data and asks for a shop key itself). The
// routes write their own bodies, and skip two middlewares per request (one awaiting each request: "Over HTTP, session 8").
app.UseWhen(context => context.GetEndpoint() is not RouteEndpoint, unrouted =>
{
    unrouted.UseStatusCodePages();
    unrouted.UseDefaultFiles();
    unrouted.UseStaticFiles();
});
app.MapApiDescription();
app.MapAccess();
app.MapInventory();
app.MapShops();
app.MapRefunds();
app.MapLedger();
app.MapOperations();
app.Run();
return 0;

/// <summary>The service's entry point; public so tests can host it in memory.</summary>
public partial class Program;
