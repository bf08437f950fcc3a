using System.Text.Json;
using System.Text.Json.Serialization;
using Restock.Actors.Engine.Hosting;
using Restock.Actors.Service.Hosting;
using Restock.Actors.Service.Inventory;

var builder = WebApplication.CreateBuilder(args);
var config = RestockConfig.Load(key => builder.Configuration[key]);

builder.WebHost.UseUrls(config.GetString("restock.http.urls"));
builder.Services.AddProblemDetails();
builder.Services.ConfigureHttpJsonOptions(o =>
    o.SerializerOptions.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.CamelCase)));
builder.Services.AddEngine(config);

var app = builder.Build();
app.UseExceptionHandler();
app.UseStatusCodePages();
app.MapInventory();
app.Run();

/// <summary>The service's entry point; public so tests can host it in memory.</summary>
public partial class Program;
