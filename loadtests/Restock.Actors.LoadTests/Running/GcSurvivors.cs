using System.Diagnostics.Tracing;

namespace Restock.Actors.LoadTests.Running;

/// <summary>
/// Bytes this process's collections promoted while it listened: out of gen 0 (what survived a gen-0 collection, copied to
/// gen 1) and out of gen 1 (copied on to gen 2), from the runtime's own per-collection statistics (its GC events, read in
/// process). What a request leaves alive, not what it allocates, is what a collection's pause is made of; the counts the
/// GC API offers say nothing of it.
/// </summary>
public sealed class GcSurvivors : EventListener
{
    private const string RuntimeSource = "Microsoft-Windows-DotNETRuntime";
    private const EventKeywords GcKeyword = (EventKeywords)0x1;
    private long _fromGen0, _fromGen1;
    private int _collections;

    public long PromotedFromGen0 => Interlocked.Read(ref _fromGen0);

    public long PromotedFromGen1 => Interlocked.Read(ref _fromGen1);

    /// <summary>Collections whose statistics arrived (they come a moment after each collection, on the listener's thread).</summary>
    public int Collections => Volatile.Read(ref _collections);

    protected override void OnEventSourceCreated(EventSource source)
    {
        if (source.Name == RuntimeSource) EnableEvents(source, EventLevel.Informational, GcKeyword);
    }

    protected override void OnEventWritten(EventWrittenEventArgs e)
    {
        if (e.EventName is not { } name || !name.StartsWith("GCHeapStats", StringComparison.Ordinal) || e.PayloadNames is not { } names) return;
        Interlocked.Add(ref _fromGen0, Payload(e, names, "TotalPromotedSize0"));
        Interlocked.Add(ref _fromGen1, Payload(e, names, "TotalPromotedSize1"));
        Interlocked.Increment(ref _collections);
    }

    private static long Payload(EventWrittenEventArgs e, IReadOnlyList<string> names, string field)
    {
        for (var i = 0; i < names.Count; i++)
            if (names[i] == field) return Convert.ToInt64(e.Payload![i]);
        return 0;
    }
}
