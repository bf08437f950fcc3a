using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;

namespace Restock.Actors.Tests.Support;

/// <summary>The HTTP service hosted in memory on a journal file of its own.</summary>
public sealed class ServiceFactory : WebApplicationFactory<Program>
{
    private readonly TestDatabase _db = new();

    protected override void ConfigureWebHost(IWebHostBuilder builder) =>
        builder.UseSetting("RESTOCK_CONNECTION_STRING", _db.ConnectionString);

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        _db.Dispose();
    }
}
