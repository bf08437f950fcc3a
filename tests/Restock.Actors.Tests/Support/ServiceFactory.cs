using System.Net.Http.Headers;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Restock.Actors.Engine.Hosting;

namespace Restock.Actors.Tests.Support;

/// <summary>
/// The HTTP service hosted in memory on a journal file of its own, with an operator key in its configuration as
/// automation would give it. Clients it creates carry that key unless a test sets another. A subclass may run the
/// engine with configuration entries of its own on top (<see cref="EngineOverrides"/>).
/// </summary>
public class ServiceFactory : WebApplicationFactory<Program>
{
    private readonly TestDatabase _db = new();

    public string OperatorKey { get; } = "restock_test-operator-" + Guid.NewGuid().ToString("N");

    public TestDatabase Database => _db;

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseSetting("RESTOCK_CONNECTION_STRING", _db.ConnectionString);
        builder.UseSetting("RESTOCK_OPERATOR_KEY", OperatorKey);
        if (EngineOverrides.Length > 0)
            builder.ConfigureTestServices(services => services.AddSingleton(RestockConfig.Load(
                name => name == "RESTOCK_CONNECTION_STRING" ? _db.ConnectionString : null, EngineOverrides)));
    }

    /// <summary>HOCON entries the engine runs with on top of the shipped configuration, e.g. shorter retry times.</summary>
    protected virtual string[] EngineOverrides => [];

    protected override void ConfigureClient(HttpClient client)
    {
        base.ConfigureClient(client);
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", OperatorKey);
    }

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        _db.Dispose();
    }
}
