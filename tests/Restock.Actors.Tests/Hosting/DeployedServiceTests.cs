using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Restock.Actors.Tests.Hosting;

/// <summary>The service started the way a deployment starts it: <c>dotnet /path/to/Restock.Actors.Service.dll</c> from another folder.</summary>
public sealed class DeployedServiceTests
{
    [Fact]
    public async Task Started_from_another_folder_it_serves_the_merchant_page_keeps_its_journal_there_and_logs_no_requests()
    {
        var folder = Directory.CreateTempSubdirectory("restock-deployed-").FullName;
        var port = FreePort();
        var output = new StringBuilder();
        var start = new ProcessStartInfo("dotnet", [ServiceDll()])
        {
            WorkingDirectory = folder,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.Environment["RESTOCK_HTTP_URLS"] = $"http://127.0.0.1:{port}";
        using var service = Process.Start(start)!;
        service.OutputDataReceived += (_, e) => { lock (output) output.AppendLine(e.Data); };
        service.ErrorDataReceived += (_, e) => { lock (output) output.AppendLine(e.Data); };
        service.BeginOutputReadLine();
        service.BeginErrorReadLine();
        try
        {
            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(10) };
            await WaitUntilAnswering(http, service);

            using var page = await http.GetAsync("/");
            Assert.Equal(HttpStatusCode.OK, page.StatusCode);
            Assert.Equal("text/html", page.Content.Headers.ContentType?.MediaType);
            Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/app.js")).StatusCode);
            for (var i = 0; i < 5; i++)
                Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/healthz")).StatusCode);

            Assert.True(File.Exists(Path.Combine(folder, "restock.db")), "the default journal is restock.db in the working directory");
            Assert.True(File.Exists(Path.Combine(folder, "restock.snapshots.db")), "the default snapshots' file is restock.snapshots.db beside it");
            string log;
            lock (output) log = output.ToString();
            Assert.DoesNotContain("Request starting", log);
            Assert.DoesNotContain("Request finished", log);
        }
        finally
        {
            if (!service.HasExited) service.Kill(entireProcessTree: true);
            await service.WaitForExitAsync();
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(folder, recursive: true);
        }
    }

    private static async Task WaitUntilAnswering(HttpClient http, Process service)
    {
        var deadline = DateTime.UtcNow.AddSeconds(90);
        while (DateTime.UtcNow < deadline)
        {
            if (service.HasExited) throw new InvalidOperationException($"the service exited with code {service.ExitCode}");
            try
            {
                using var response = await http.GetAsync("/healthz");
                if (response.IsSuccessStatusCode) return;
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
            }
            await Task.Delay(200);
        }
        throw new TimeoutException("the service did not answer within 90 s");
    }

    /// <summary>The service's own build output (not this test's folder), in this test's configuration.</summary>
    private static string ServiceDll()
    {
        var output = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        var framework = output.Name;
        var configuration = output.Parent!.Name;
        var repository = output;
        while (repository is not null && !File.Exists(Path.Combine(repository.FullName, "Restock.Actors.sln"))) repository = repository.Parent;
        Assert.NotNull(repository);
        var dll = Path.Combine(repository.FullName, "src", "Restock.Actors.Service", "bin", configuration, framework, "Restock.Actors.Service.dll");
        Assert.True(File.Exists(dll), $"{dll} is built with the solution");
        return dll;
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
