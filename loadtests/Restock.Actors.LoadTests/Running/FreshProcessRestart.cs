using System.Diagnostics;
using System.Reflection;
using System.Text.Json;
using Restock.Actors.LoadTests.Targets;

namespace Restock.Actors.LoadTests.Running;

/// <summary>
/// A restart as a crashed node makes it: a new process of this runner on the same journal, whose code (Akka's, the
/// persistence plugins', linq2db's, the engine's) is compiled for the first time while its first answer is awaited.
/// The runner starts itself with the hidden command <see cref="Command"/>; the child starts the engine, sends the first
/// command at once, writes what it measured as one JSON line on its standard output, stops the engine gracefully and
/// exits. Its human log goes to its standard error, which the parent passes on.
/// </summary>
public static class FreshProcessRestart
{
    /// <summary>The hidden command the child runs: not a scenario, not in the help.</summary>
    public const string Command = "recovery-restart-child";

    private static readonly JsonSerializerOptions Json = new(JsonSerializerOptions.Web);

    /// <summary>What the child is asked: the journal, the report's label and folder, the JIT log, the engine's overrides.</summary>
    public sealed record Request(string File, string Label, string Folder, bool JitLog, IReadOnlyList<string> Overrides)
    {
        public IReadOnlyList<string> Arguments() =>
            [Command, File, Label, Folder, JitLog ? "jit-log" : "no-jit-log", .. Overrides];

        public static Request Parse(string[] args) =>
            args is [Command, var file, var label, var folder, var jit and ("jit-log" or "no-jit-log"), .. var overrides]
                ? new Request(file, label, folder, jit == "jit-log", [.. overrides])
                : throw new ArgumentException($"{Command} FILE LABEL FOLDER jit-log|no-jit-log [HOCON...]");
    }

    /// <summary>The child's answer: the first answer as the in-process bench measures it, and the child's own start to it.</summary>
    public sealed record Answer(RecoveryBench.FirstAnswer First, double FromProcessStartMs);

    /// <summary>
    /// What the parent got: the child's answer, the time from the spawn to it, and the child's exit code (not 0 when its
    /// shutdown after the answer failed: the answer measured stands, the code is reported beside it).
    /// </summary>
    public sealed record Finished(Answer Answer, double FromSpawnMs, int ExitCode);

    public static string Write(Answer answer) => JsonSerializer.Serialize(answer, Json);

    /// <summary>The child's answer among its output lines (Akka may write warnings there too): the last JSON line.</summary>
    public static Answer Read(IEnumerable<string> stdout)
    {
        var json = stdout.LastOrDefault(line => line.StartsWith('{')) ?? throw new InvalidDataException("the child wrote no answer");
        Answer? answer;
        try
        {
            answer = JsonSerializer.Deserialize<Answer>(json, Json);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"the child's answer does not read: {e.Message}", e);
        }
        return answer is { First: not null } ? answer : throw new InvalidDataException("the child's answer holds no first answer");
    }

    /// <summary>The child's side: measures one restart and answers; exits when its parent's end of standard input closes.</summary>
    public static async Task<int> RunChildAsync(string[] args)
    {
        var request = Request.Parse(args);
        // A parent that dies (or kills the bench) closes the pipe: the child must not outlive it with an engine running.
        _ = Task.Run(() =>
        {
            Console.OpenStandardInput().CopyTo(Stream.Null);
            Environment.Exit(3);
        });
        using var jit = request.JitLog ? new JitLog() : null;
        var measured = new RecoveryBench.Measuring(0, [], Console.Error, jit, request.Folder);
        var first = await RecoveryBench.FirstAnswerAsync(request.File, [.. request.Overrides], request.Label, measured);
        // The kernel's start time of the process, in clock ticks (10 ms here): the parent's spawn time is the finer one.
        using var process = Process.GetCurrentProcess();
        Console.Out.WriteLine(Write(new Answer(first, (first.AnsweredAt - process.StartTime.ToUniversalTime()).TotalMilliseconds)));
        await Console.Out.FlushAsync();
        return 0;
    }

    /// <summary>
    /// The runner's dll: this one when it is the program; hosted by another (the tests), the runner's own build output in
    /// the repository, as the copy in the host's folder would load the host's versions of the runner's dependencies.
    /// </summary>
    private static string RunnerDll(Assembly runner)
    {
        if (Assembly.GetEntryAssembly() == runner) return runner.Location;
        var configuration = runner.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Debug";
        var built = Path.Combine(ServiceLauncher.RepositoryRoot(), "loadtests", "Restock.Actors.LoadTests", "bin", configuration,
            new DirectoryInfo(AppContext.BaseDirectory).Name, Path.GetFileName(runner.Location));
        return File.Exists(built) ? built : throw new FileNotFoundException($"build loadtests/Restock.Actors.LoadTests first: no {built}");
    }

    /// <summary>
    /// The parent's side: starts the child on the journal and waits for its answer and its exit (<see cref="AwaitAnswerAsync"/>).
    /// </summary>
    public static async Task<Finished> RunAsync(Request request, TextWriter log, TimeSpan timeout)
    {
        var runner = typeof(FreshProcessRestart).Assembly;
        var host = Environment.ProcessPath ?? "dotnet";
        // The apphost `restock-load` starts itself; else `dotnet restock-load.dll`, with the dotnet that runs this process.
        var apphost = Assembly.GetEntryAssembly() == runner && Path.GetFileNameWithoutExtension(host) != "dotnet";
        var dotnet = Path.GetFileNameWithoutExtension(host) == "dotnet" ? host : Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet";
        IReadOnlyList<string> arguments = apphost ? request.Arguments() : [RunnerDll(runner), .. request.Arguments()];
        return await AwaitAnswerAsync(apphost ? host : dotnet, arguments, log, timeout);
    }

    /// <summary>
    /// Starts the child (<paramref name="program"/> with <paramref name="arguments"/>) and waits for its answer and its
    /// exit, at most <paramref name="timeout"/>: then, or if the wait fails, the child is killed; a timeout is a
    /// <see cref="TimeoutException"/> that says what was awaited and how long.
    /// </summary>
    internal static async Task<Finished> AwaitAnswerAsync(string program, IReadOnlyList<string> arguments, TextWriter log,
        TimeSpan timeout)
    {
        var start = new ProcessStartInfo(program)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        var stdout = new List<string>();
        var spawned = DateTime.UtcNow;
        using var child = Process.Start(start) ?? throw new InvalidOperationException("could not start the child runner");
        child.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            lock (stdout) stdout.Add(e.Data);
            if (!e.Data.StartsWith('{')) log.WriteLine(e.Data);
        };
        child.ErrorDataReceived += (_, e) => { if (e.Data is not null) log.WriteLine(e.Data); };
        child.BeginOutputReadLine();
        child.BeginErrorReadLine();
        using var deadline = new CancellationTokenSource(timeout);
        try
        {
            await child.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested)
        {
            bool answered;
            lock (stdout) answered = stdout.Any(line => line.StartsWith('{'));
            throw new TimeoutException($"the child runner (process {child.Id}) {(answered ? "answered but did not exit" : "neither answered nor exited")} " +
                                       $"within {timeout.TotalSeconds:N0} s of its spawn: killed");
        }
        finally
        {
            if (!child.HasExited)
            {
                child.Kill(entireProcessTree: true);
                await child.WaitForExitAsync();
            }
        }
        List<string> lines;
        lock (stdout) lines = [.. stdout];
        if (child.ExitCode != 0 && !lines.Any(line => line.StartsWith('{')))
            throw new InvalidDataException($"the child runner exited with code {child.ExitCode} without an answer");
        Answer answer;
        try
        {
            answer = Read(lines);
        }
        catch (InvalidDataException e) when (child.ExitCode != 0)
        {
            // A child that failed after a garbled answer: its exit code says more than the answer's text.
            throw new InvalidDataException($"the child runner exited with code {child.ExitCode}; {e.Message}", e);
        }
        return new Finished(answer, (answer.First.AnsweredAt - spawned).TotalMilliseconds, child.ExitCode);
    }
}
