using System.Diagnostics;

namespace Restock.Actors.LoadTests.Targets;

/// <summary>
/// The HTTP service run by the runner as a child process on a SQLite file of its own, so a scenario can kill it
/// (SIGKILL: no shutdown, no flush) and start it again on the same journal.
/// </summary>
public sealed class ServiceProcess : HttpTarget
{
    private readonly string _serviceDll;
    private readonly string _database;
    private readonly int _port;
    private Process? _process;

    private readonly string _operatorKey;

    private ServiceProcess(string serviceDll, string database, int port, string operatorKey)
        : base(new Uri($"http://127.0.0.1:{port}"), operatorKey)
    {
        _operatorKey = operatorKey;
        _serviceDll = serviceDll;
        _database = database;
        _port = port;
    }

    public override string Describe => $"child-process service on 127.0.0.1:{_port}, SQLite WAL";

    public int Kills { get; private set; }

    public static async Task<ServiceProcess> StartAsync(string folder)
    {
        Directory.CreateDirectory(folder);
        // The child gets an operator key of this run's own in its environment, as automation would give it.
        var operatorKey = "restock_load-" + Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(16));
        var service = new ServiceProcess(ServiceLauncher.FindServiceDll(), Path.Combine(folder, $"service-{Guid.NewGuid():N}.db"), ServiceLauncher.FreePort(), operatorKey);
        await service.StartProcessAsync();
        return service;
    }

    /// <summary>Kills the service without warning, as a crash or a pulled plug would, then starts it again.</summary>
    public async Task CrashAndRestartAsync()
    {
        _process!.Kill(entireProcessTree: true);
        await _process.WaitForExitAsync();
        Kills++;
        await StartProcessAsync();
    }

    private async Task StartProcessAsync()
    {
        _process = ServiceLauncher.Start(_serviceDll, Path.GetDirectoryName(_serviceDll)!, new Dictionary<string, string?>
        {
            ["RESTOCK_CONNECTION_STRING"] = $"Data Source={_database}",
            ["RESTOCK_HTTP_URLS"] = $"http://127.0.0.1:{_port}",
            ["RESTOCK_OPERATOR_KEY"] = _operatorKey,
        }, _ => { });

        using var probe = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{_port}"), Timeout = TimeSpan.FromSeconds(2) };
        probe.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", _operatorKey);
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (DateTime.UtcNow < deadline)
        {
            if (_process.HasExited) throw new InvalidOperationException($"the service exited with code {_process.ExitCode}");
            try
            {
                using var response = await probe.GetAsync("/shops/probe/settings");
                if (response.IsSuccessStatusCode) return;
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
            }
            await Task.Delay(200);
        }
        throw new TimeoutException("the service did not answer within 60 s");
    }

    public override async ValueTask DisposeAsync()
    {
        if (_process is { HasExited: false })
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        await base.DisposeAsync();
        EngineFiles.Delete(_database);
    }
}
