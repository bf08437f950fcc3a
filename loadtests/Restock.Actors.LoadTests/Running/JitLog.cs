using System.Collections.Concurrent;
using System.Diagnostics.Tracing;

namespace Restock.Actors.LoadTests.Running;

/// <summary>
/// Every method the JIT compiles while it listens, with its tier, from the runtime's own events (keyword JIT, verbose):
/// what a recovery makes the JIT compile beside it (tier-0 code of methods first met, OSR versions of hot loops, tier-1
/// versions of methods called 30 times). The runtime hands events over on a thread of its own a little later, so a window
/// is read once that is past (<see cref="Between"/> waits for it).
/// </summary>
public sealed class JitLog : EventListener
{
    private const EventKeywords Jit = (EventKeywords)0x10;
    private const int MethodLoadVerbose = 143;
    private const int MethodJittingStarted = 145;

    /// <param name="Ms">From the JIT's start on the method to its code loaded, on the thread that compiled it.</param>
    public sealed record Compiled(DateTime At, string Tier, string Method, double Ms);

    private readonly ConcurrentQueue<Compiled> _compiled = new();
    private readonly ConcurrentDictionary<(long Thread, ulong Method), DateTime> _jitting = new();

    protected override void OnEventSourceCreated(EventSource source)
    {
        if (source.Name == "Microsoft-Windows-DotNETRuntime") EnableEvents(source, EventLevel.Verbose, Jit);
    }

    protected override void OnEventWritten(EventWrittenEventArgs e)
    {
        if (e.EventId is not (MethodLoadVerbose or MethodJittingStarted) || e.Payload is not { } payload || e.PayloadNames is not { } names) return;
        object? Field(string name) => names.IndexOf(name) is var i and >= 0 ? payload[i] : null;
        var method = (e.OSThreadId, Convert.ToUInt64(Field("MethodID") ?? 0ul));
        if (e.EventId == MethodJittingStarted)
        {
            _jitting[method] = e.TimeStamp;
            return;
        }
        var flags = Convert.ToUInt32(Field("MethodFlags") ?? 0u);
        var ms = _jitting.TryRemove(method, out var started) ? (e.TimeStamp - started).TotalMilliseconds : 0;
        _compiled.Enqueue(new Compiled(e.TimeStamp.ToUniversalTime(), Tier((flags >> 7) & 0x7),
            $"{Field("MethodNamespace")}::{Field("MethodName")}", ms));
    }

    /// <summary>
    /// Whose code a compiled method is, from its type's name: Akka (its persistence plugin apart), linq2db, SQLite's
    /// ADO.NET provider, Protobuf, the engine, the framework's generics over the engine's or the libraries' types
    /// (which no precompiled image can hold), or the framework itself.
    /// </summary>
    public static string Group(string method)
    {
        var type = method[..Math.Max(0, method.IndexOf("::", StringComparison.Ordinal))];
        var outer = type.Split('[', '`', '<')[0];
        string? Library(string name) => name switch
        {
            _ when name.StartsWith("Akka.Persistence.Sql", StringComparison.Ordinal) => "Akka.Persistence.Sql",
            _ when name.StartsWith("Akka", StringComparison.Ordinal) => "Akka",
            _ when name.StartsWith("LinqToDB", StringComparison.Ordinal) => "linq2db",
            _ when name.StartsWith("Microsoft.Data.Sqlite", StringComparison.Ordinal) || name.StartsWith("SQLitePCL", StringComparison.Ordinal) => "SQLite",
            _ when name.StartsWith("Google.Protobuf", StringComparison.Ordinal) => "Protobuf",
            _ when name.StartsWith("Restock", StringComparison.Ordinal) => "engine",
            _ => null,
        };
        if (Library(outer) is { } library) return library;
        if (!outer.StartsWith("System", StringComparison.Ordinal) && !outer.StartsWith("Microsoft", StringComparison.Ordinal) && outer.Length > 0)
            return outer.Split('.')[0];
        var over = type.Length > outer.Length
            ? type[outer.Length..].Split('[', ']', ',', '<', '>', ' ').Select(Library).FirstOrDefault(l => l is not null)
            : null;
        return over is null ? "framework" : $"framework generics over {over}";
    }

    // The runtime's OptimizationTier as its method events carry it (three bits from bit 7 of MethodFlags).
    private static string Tier(uint tier) => tier switch
    {
        1 => "min-opts",
        2 => "optimised",
        3 => "tier-0",
        4 => "tier-1",
        5 => "OSR",
        6 => "tier-0 instrumented",
        7 => "tier-1 instrumented",
        _ => "unknown",
    };

    /// <summary>The methods compiled between two UTC times, once the runtime has handed over its events up to the second.</summary>
    public async Task<IReadOnlyList<Compiled>> Between(DateTime from, DateTime to)
    {
        for (var waited = 0; waited < 50 && !_compiled.Any(c => c.At > to); waited++)
            await Task.Delay(100);
        return _compiled.Where(c => c.At >= from && c.At <= to).OrderBy(c => c.At).ToList();
    }
}
