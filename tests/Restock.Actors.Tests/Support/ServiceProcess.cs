using System.Diagnostics;
using System.Net;
using System.Text;
using Restock.Actors.LoadTests.Targets;

namespace Restock.Actors.Tests.Support;

/// <summary>
/// The service as a user runs it: its own process on real Kestrel, 127.0.0.1 and a free port, a SQLite file of its
/// own and the operator key given in <c>RESTOCK_OPERATOR_KEY</c>. Started from the project folder, as
/// <c>dotnet run --project</c> does (the service finds its settings and the merchant page beside its dll).
/// </summary>
public sealed class ServiceProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly TestDatabase _db;
    private readonly StringBuilder _log;

    private ServiceProcess(Process process, TestDatabase db, string url, string operatorKey, StringBuilder log)
    {
        _process = process;
        _log = log;
        _db = db;
        Url = url;
        OperatorKey = operatorKey;
    }

    public string Url { get; }

    public string OperatorKey { get; }

    public string Log
    {
        get { lock (_log) return _log.ToString(); }
    }

    /// <param name="environment">Extra settings for the service's environment, e.g. <c>RESTOCK_REFUND_RETRY_FOR</c>.</param>
    public static async Task<ServiceProcess> StartAsync(IReadOnlyDictionary<string, string>? environment = null)
    {
        var dll = ServiceLauncher.FindServiceDll();
        var url = $"http://127.0.0.1:{ServiceLauncher.FreePort()}";
        var operatorKey = $"test-operator-{Guid.NewGuid():N}";
        var db = new TestDatabase();
        var settings = new Dictionary<string, string?>
        {
            ["RESTOCK_HTTP_URLS"] = url,
            ["RESTOCK_CONNECTION_STRING"] = db.ConnectionString,
            ["RESTOCK_OPERATOR_KEY"] = operatorKey,
            ["ASPNETCORE_URLS"] = null,
            ["RESTOCK_SEED_NODES"] = null,
        };
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
            settings[name] = value;

        var log = new StringBuilder();
        var project = Path.Combine(ServiceLauncher.RepositoryRoot(), "src", "Restock.Actors.Service");
        var process = ServiceLauncher.Start(dll, project, settings, line =>
        {
            lock (log) log.AppendLine(line);
        });
        var service = new ServiceProcess(process, db, url, operatorKey, log);
        await service.WaitUntilServing();
        return service;
    }

    // The engine starts before Kestrel listens, so the page answering means the API is ready too.
    private async Task WaitUntilServing()
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        var deadline = DateTime.UtcNow.AddSeconds(120);
        while (DateTime.UtcNow < deadline)
        {
            if (_process.HasExited)
                throw new InvalidOperationException($"the service exited with {_process.ExitCode}:\n{Log}");
            try
            {
                using var response = await http.GetAsync(Url + "/");
                if (response.StatusCode == HttpStatusCode.OK) return;
            }
            catch (HttpRequestException)
            {
                // not listening yet
            }
            catch (TaskCanceledException)
            {
                // busy starting
            }
            await Task.Delay(250);
        }
        await DisposeAsync();
        throw new TimeoutException($"the service did not answer on {Url}:\n{Log}");
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
        _db.Dispose();
    }
}
