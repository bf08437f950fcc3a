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

    public sealed record Compiled(DateTime At, string Tier, string Method);

    private readonly ConcurrentQueue<Compiled> _compiled = new();

    protected override void OnEventSourceCreated(EventSource source)
    {
        if (source.Name == "Microsoft-Windows-DotNETRuntime") EnableEvents(source, EventLevel.Verbose, Jit);
    }

    protected override void OnEventWritten(EventWrittenEventArgs e)
    {
        if (e.EventId != MethodLoadVerbose || e.Payload is not { } payload || e.PayloadNames is not { } names) return;
        object? Field(string name) => names.IndexOf(name) is var i and >= 0 ? payload[i] : null;
        var flags = Convert.ToUInt32(Field("MethodFlags") ?? 0u);
        _compiled.Enqueue(new Compiled(e.TimeStamp.ToUniversalTime(), Tier((flags >> 7) & 0x7),
            $"{Field("MethodNamespace")}::{Field("MethodName")}"));
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
