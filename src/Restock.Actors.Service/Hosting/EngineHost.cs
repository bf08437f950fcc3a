using Akka.Configuration;
using Restock.Actors.Engine.Hosting;
using Restock.Actors.Engine.Inventory;
using Restock.Actors.Engine.Ledger;
using Restock.Actors.Engine.Refunds;
using Restock.Actors.Engine.Shops;

namespace Restock.Actors.Service.Hosting;

/// <summary>Starts the engine with the web host and shuts it down cleanly (cluster leave, journal flush) with it.</summary>
internal sealed class EngineHost(Config config, IHostApplicationLifetime lifetime, ILogger<EngineHost> log) : IHostedService
{
    private RestockEngine? _engine;

    public RestockEngine Engine => _engine ?? throw new InvalidOperationException("the engine has not started yet");

    /// <summary>The engine once it has started (joined the cluster, started its entity types); null before.</summary>
    public RestockEngine? Started => _engine;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        _engine = await RestockEngine.StartAsync(config, cancellationToken);
        // A node the cluster downed (or that left) has stopped its ActorSystem: the process ends, so that a supervisor
        // starts it again as a new member instead of it answering every request with 503.
        _ = _engine.System.WhenTerminated.ContinueWith(_ =>
        {
            log.LogWarning("The engine's actor system has stopped (left or downed by the cluster); stopping the service");
            lifetime.StopApplication();
        }, TaskScheduler.Default);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_engine is not null) await _engine.DisposeAsync();
    }
}

internal static class EngineHostExtensions
{
    public static IServiceCollection AddEngine(this IServiceCollection services, Config config)
    {
        // A service, so a host in a test can run the engine on settings of its own (the last registration wins).
        services.AddSingleton(config);
        services.AddSingleton(sp => new EngineHost(sp.GetRequiredService<Config>(), sp.GetRequiredService<IHostApplicationLifetime>(),
            sp.GetRequiredService<ILogger<EngineHost>>()));
        services.AddHostedService(sp => sp.GetRequiredService<EngineHost>());
        services.AddSingleton<IInventory>(sp => sp.GetRequiredService<EngineHost>().Engine.Inventory);
        services.AddSingleton<IShops>(sp => sp.GetRequiredService<EngineHost>().Engine.Shops);
        services.AddSingleton<IRefunds>(sp => sp.GetRequiredService<EngineHost>().Engine.Refunds);
        services.AddSingleton<LedgerStore>(sp => sp.GetRequiredService<EngineHost>().Engine.Ledger);
        return services;
    }
}
