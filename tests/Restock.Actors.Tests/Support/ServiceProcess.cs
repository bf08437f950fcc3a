using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Reflection;
using System.Text;

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
    private readonly StringBuilder _log = new();

    private ServiceProcess(Process process, TestDatabase db, string url, string operatorKey)
    {
        _process = process;
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
        var root = RepositoryRoot();
        var configuration = typeof(ServiceProcess).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Debug";
        var framework = new DirectoryInfo(AppContext.BaseDirectory).Name;
        var project = Path.Combine(root, "src", "Restock.Actors.Service");
        var dll = Path.Combine(project, "bin", configuration, framework, "Restock.Actors.Service.dll");
        if (!File.Exists(dll)) throw new FileNotFoundException("the service is not built", dll);

        var url = $"http://127.0.0.1:{FreePort()}";
        var operatorKey = $"test-operator-{Guid.NewGuid():N}";
        var db = new TestDatabase();
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            WorkingDirectory = project,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(dll);
        start.Environment["RESTOCK_HTTP_URLS"] = url;
        start.Environment["RESTOCK_CONNECTION_STRING"] = db.ConnectionString;
        start.Environment["RESTOCK_OPERATOR_KEY"] = operatorKey;
        start.Environment.Remove("ASPNETCORE_URLS");
        start.Environment.Remove("RESTOCK_SEED_NODES");
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
            start.Environment[name] = value;

        var process = Process.Start(start) ?? throw new InvalidOperationException("could not start the service");
        var service = new ServiceProcess(process, db, url, operatorKey);
        process.OutputDataReceived += (_, e) => service.Append(e.Data);
        process.ErrorDataReceived += (_, e) => service.Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        await service.WaitUntilServing();
        return service;
    }

    private void Append(string? line)
    {
        if (line is null) return;
        lock (_log) _log.AppendLine(line);
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

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Restock.Actors.sln"))) return dir.FullName;
        }
        throw new DirectoryNotFoundException($"no Restock.Actors.sln above {AppContext.BaseDirectory}");
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
