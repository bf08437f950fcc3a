using System.Diagnostics;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;

namespace Restock.Actors.LoadTests.Targets;

/// <summary>
/// Several service processes on 127.0.0.1 forming one cluster on a PostgreSQL journal: each on free HTTP and
/// remoting ports, the first two as seed nodes. A node can be killed (SIGKILL: no leave, no flush) or asked to
/// leave (SIGTERM: the service's graceful shutdown, which hands its shards off). Each node's output goes to a log
/// file in <see cref="Folder"/>.
/// </summary>
public sealed class ServiceCluster : IAsyncDisposable
{
    private readonly string _serviceDll;
    private readonly string _connectionString;

    private ServiceCluster(string serviceDll, string connectionString, string folder, string operatorKey, IReadOnlyList<ClusterNode> nodes)
    {
        _serviceDll = serviceDll;
        _connectionString = connectionString;
        Folder = folder;
        OperatorKey = operatorKey;
        Nodes = nodes;
    }

    public string Folder { get; }

    /// <summary>The operator key the nodes are started with (RESTOCK_OPERATOR_KEY); clients send it as a bearer token.</summary>
    public string OperatorKey { get; }

    public IReadOnlyList<ClusterNode> Nodes { get; }

    public IEnumerable<ClusterNode> Running => Nodes.Where(n => n.IsRunning);

    public static async Task<ServiceCluster> StartAsync(int count, string connectionString, string folder, string? operatorKey = null,
        TimeSpan? readyWithin = null)
    {
        Directory.CreateDirectory(folder);
        var nodes = Enumerable.Range(1, count)
            .Select(i => new ClusterNode(i, ServiceLauncher.FreePort(), ServiceLauncher.FreePort(), Path.Combine(folder, $"node-{i}.log")))
            .ToList();
        var cluster = new ServiceCluster(ServiceLauncher.FindServiceDll(), connectionString, folder,
            operatorKey ?? Convert.ToHexString(Guid.NewGuid().ToByteArray()).ToLowerInvariant(), nodes);
        try
        {
            foreach (var node in nodes) cluster.Launch(node);
            await cluster.WaitUntilReadyAsync(readyWithin ?? TimeSpan.FromSeconds(90));
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    private string SeedNodes => string.Join(",", Nodes.Take(2).Select(n => $"akka.tcp://restock@127.0.0.1:{n.RemotePort}"));

    private void Launch(ClusterNode node) => node.Start(output => ServiceLauncher.Start(_serviceDll, Path.GetDirectoryName(_serviceDll)!,
        new Dictionary<string, string?>
        {
            ["RESTOCK_JOURNAL"] = "postgresql",
            ["RESTOCK_CONNECTION_STRING"] = _connectionString,
            ["RESTOCK_HOSTNAME"] = "127.0.0.1",
            ["RESTOCK_REMOTE_PORT"] = node.RemotePort.ToString(),
            ["RESTOCK_HTTP_URLS"] = node.Url.ToString().TrimEnd('/'),
            ["RESTOCK_SEED_NODES"] = SeedNodes,
            ["RESTOCK_OPERATOR_KEY"] = OperatorKey,
            // Every request logged at Information would cost more than the requests themselves.
            ["Logging__LogLevel__Default"] = "Warning",
            ["Logging__LogLevel__Microsoft.Hosting.Lifetime"] = "Information",
        }, output));

    /// <summary>Waits until every running node says it is ready and sees all running nodes as Up members.</summary>
    public async Task WaitUntilReadyAsync(TimeSpan within)
    {
        using var http = Client(TimeSpan.FromSeconds(3));
        var deadline = DateTime.UtcNow + within;
        while (true)
        {
            var running = Running.ToList();
            foreach (var node in running.Where(n => n.Process!.HasExited))
                throw new InvalidOperationException($"node {node.Index} exited with code {node.Process!.ExitCode}; see {node.LogPath}");
            if (await AllReady(http, running)) return;
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"the cluster was not ready within {within}; see the logs in {Folder}");
            await Task.Delay(250);
        }
    }

    private static async Task<bool> AllReady(HttpClient http, IReadOnlyList<ClusterNode> running)
    {
        try
        {
            foreach (var node in running)
            {
                using var ready = await http.GetAsync(new Uri(node.Url, "/readyz"));
                if (!ready.IsSuccessStatusCode) return false;
            }
            var view = await http.GetFromJsonAsync<JsonElement>(new Uri(running[0].Url, "/cluster"));
            var up = view.GetProperty("members").EnumerateArray().Count(m => m.GetProperty("status").GetString() == "Up");
            return up == running.Count;
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or JsonException)
        {
            return false;
        }
    }

    /// <summary>An HTTP client that sends the operator key.</summary>
    public HttpClient Client(TimeSpan timeout)
    {
        var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 256 }) { Timeout = timeout };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", OperatorKey);
        return http;
    }

    /// <summary>SIGKILL: the node vanishes mid-write, as a crash or a pulled plug would.</summary>
    public async Task KillAsync(ClusterNode node)
    {
        node.Process!.Kill(entireProcessTree: true);
        await node.Process.WaitForExitAsync();
        node.Stopped();
    }

    /// <summary>SIGTERM: the service shuts down gracefully (leaves the cluster, hands its shards off) and exits.</summary>
    public async Task LeaveAsync(ClusterNode node, TimeSpan within)
    {
        using (var kill = Process.Start("kill", ["-TERM", node.Process!.Id.ToString()])) await kill.WaitForExitAsync();
        using var timeout = new CancellationTokenSource(within);
        await node.Process.WaitForExitAsync(timeout.Token);
        node.Stopped();
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var node in Running.ToList())
        {
            try
            {
                await KillAsync(node);
            }
            catch (InvalidOperationException)
            {
                // Already gone.
            }
        }
    }
}

/// <summary>One service process of a <see cref="ServiceCluster"/>.</summary>
public sealed class ClusterNode(int index, int httpPort, int remotePort, string logPath)
{
    private readonly object _gate = new();
    private StreamWriter? _log;

    public int Index { get; } = index;

    public int RemotePort { get; } = remotePort;

    public Uri Url { get; } = new($"http://127.0.0.1:{httpPort}/");

    public string Address => $"akka.tcp://restock@127.0.0.1:{RemotePort}";

    public string LogPath { get; } = logPath;

    public Process? Process { get; private set; }

    public bool IsRunning { get; private set; }

    /// <summary>Opens the log, then launches the process with the log as its output.</summary>
    internal void Start(Func<Action<string>, Process> launch)
    {
        lock (_gate) _log = new StreamWriter(LogPath, append: true) { AutoFlush = true };
        IsRunning = true;
        Process = launch(Write);
    }

    private void Write(string line)
    {
        lock (_gate) _log?.WriteLine(line);
    }

    internal void Stopped()
    {
        IsRunning = false;
        lock (_gate)
        {
            _log?.Dispose();
            _log = null;
        }
    }
}
