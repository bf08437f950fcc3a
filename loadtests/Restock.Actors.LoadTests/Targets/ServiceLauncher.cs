using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Reflection;

namespace Restock.Actors.LoadTests.Targets;

/// <summary>
/// Starts the built service as a child process, as a deployment would (<c>dotnet Restock.Actors.Service.dll</c>):
/// the one way the runner's targets and the tests launch it, a single SQLite node or the nodes of a cluster.
/// </summary>
public static class ServiceLauncher
{
    /// <summary>The folder holding Restock.Actors.sln above this build's output.</summary>
    public static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Restock.Actors.sln"))) return dir.FullName;
        throw new DirectoryNotFoundException($"no Restock.Actors.sln above {AppContext.BaseDirectory}");
    }

    /// <summary>
    /// The service's build output in this repository: the one built in this build's configuration (what the solution
    /// build just made), else the newest there is.
    /// </summary>
    public static string FindServiceDll()
    {
        var bin = Path.Combine(RepositoryRoot(), "src", "Restock.Actors.Service", "bin");
        var configuration = typeof(ServiceLauncher).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Debug";
        var own = Path.Combine(bin, configuration, new DirectoryInfo(AppContext.BaseDirectory).Name, "Restock.Actors.Service.dll");
        if (File.Exists(own)) return own;
        var built = Directory.Exists(bin) ? Directory.GetFiles(bin, "Restock.Actors.Service.dll", SearchOption.AllDirectories) : [];
        return built.OrderByDescending(File.GetLastWriteTimeUtc).FirstOrDefault()
               ?? throw new FileNotFoundException("build src/Restock.Actors.Service first (dotnet build)");
    }

    /// <summary>A TCP port free on 127.0.0.1 right now.</summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>
    /// Starts the service from <paramref name="workingDirectory"/> with these environment variables on top of this
    /// process's (a null value removes one); every line it writes goes to <paramref name="output"/>.
    /// </summary>
    public static Process Start(string serviceDll, string workingDirectory, IReadOnlyDictionary<string, string?> environment, Action<string> output)
    {
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(serviceDll);
        foreach (var (name, value) in environment)
        {
            if (value is null) start.Environment.Remove(name);
            else start.Environment[name] = value;
        }
        var process = Process.Start(start) ?? throw new InvalidOperationException("could not start the service");
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) output(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) output(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }
}
