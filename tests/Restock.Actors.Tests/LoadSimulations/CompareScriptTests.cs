using System.Diagnostics;
using Restock.Actors.LoadTests.Targets;

namespace Restock.Actors.Tests.LoadSimulations;

/// <summary>
/// <c>loadtests/http/compare.sh</c> run against stub yardsticks and a stub engine script: what each run printed goes on to
/// standard error, its figures and ratios to standard output, and a caller appending both to its files keeps what they held.
/// </summary>
public sealed class CompareScriptTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("restock-compare-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    /// <summary>A stub script at <paramref name="name"/> in the folder that prints <paramref name="output"/> (made executable by the test's shell).</summary>
    private void Stub(string name, string output) =>
        File.WriteAllText(Path.Combine(_folder, name), $"#!/bin/bash\nprintf '%s\\n' '{output}'\n");

    [Fact]
    public async Task A_caller_appending_the_scripts_output_to_its_files_keeps_what_they_held()
    {
        // The script beside a stub engine script (it runs the one in its own folder); stub yardsticks as its peers.
        File.Copy(Path.Combine(ServiceLauncher.RepositoryRoot(), "loadtests", "http", "compare.sh"), Path.Combine(_folder, "compare.sh"));
        Stub("engine-http-hot-sku.sh", "engine_http_hot_sku_rps 20000.0 p50 1.2 ms");
        Stub("redis-hot-key.sh", "redis_hot_key_ops 40000.0");
        var (log, figures) = (Path.Combine(_folder, "log"), Path.Combine(_folder, "figures"));
        await File.WriteAllTextAsync(log, "an earlier run's log\n");
        await File.WriteAllTextAsync(figures, "an earlier run's figures\n");

        var start = new ProcessStartInfo("/bin/bash") { Environment = { ["PEERS"] = _folder } };
        foreach (var argument in (string[])["-c", "chmod +x \"$0\"/*.sh && bash \"$0/compare.sh\" \"$0\" 1 1 >> \"$1\" 2>> \"$2\"", _folder, figures, log])
            start.ArgumentList.Add(argument);
        using var script = Process.Start(start)!;
        // The stubs answer at once; a script that blocks fails the test instead of hanging the run.
        using (var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(60)))
        {
            try { await script.WaitForExitAsync(deadline.Token); }
            catch (OperationCanceledException)
            {
                script.Kill(entireProcessTree: true);
                Assert.Fail("compare.sh did not finish within 60 s");
            }
        }

        Assert.Equal(0, script.ExitCode);
        Assert.Equal(["an earlier run's log", "redis_hot_key_ops 40000.0", "redis_hot_key_ops 40000.0", "engine_http_hot_sku_rps 20000.0 p50 1.2 ms"],
            await File.ReadAllLinesAsync(log));
        var printed = await File.ReadAllLinesAsync(figures);
        Assert.Equal("an earlier run's figures", printed[0]);
        Assert.StartsWith("redis_always 40000.0  redis_everysec 40000.0  engine_http 20000.0", printed[1]);
        Assert.Equal("engine_http / redis_always 0.50  engine_http / redis_everysec 0.50", printed[2]);
    }
}
