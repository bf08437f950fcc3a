using System.Diagnostics;
using System.Diagnostics.Metrics;
using Restock.Actors.Engine.Hosting;

namespace Restock.Actors.LoadTests.Running;

/// <summary>
/// What the load cost this process, per request: CPU time, the engine's journal write transactions and SKU group
/// commits, and the journal's waits for SQLite's write lock and for the engine's turn to write the file (another writer
/// holding either: a snapshot, the ledger, a WAL restart), read from the engine's meters;
/// the methods the JIT compiled meanwhile (a process still warming up spends a share of its CPU there); and the times a
/// thread found a <c>lock</c> held and had to wait for it (the runtime's count, every lock in the process: the entity
/// mailbox's, Akka's, the runner's).
/// Figures that do not depend on how busy the machine is (except the waits), to judge a change when latencies cannot
/// be trusted. In-process target only: over HTTP the engine's meters are in another process.
/// </summary>
public sealed record EngineCosts(long Requests, double CpuMicrosPerRequest, double JournalTransactionsPerRequest, double SkuWritesPerRequest,
    long LockWaits, double LockWaitTotalMs, double LockWaitMaxMs, long JitCompiledMethods, double MonitorContentionsPerRequest,
    long TurnWaits = 0, double TurnWaitTotalMs = 0, double TurnWaitMaxMs = 0)
{
    /// <summary>Starts counting; <see cref="Counting.Stop"/> ends it.</summary>
    public static Counting Start() => new();

    public sealed class Counting : IDisposable
    {
        private readonly MeterListener _listener = new();
        private readonly TimeSpan _cpuAtStart = Process.GetCurrentProcess().TotalProcessorTime;
        private readonly long _jitAtStart = System.Runtime.JitInfo.GetCompiledMethodCount();
        private readonly long _contentionsAtStart = Monitor.LockContentionCount;
        private long _transactions;
        private long _skuWrites;
        private long _lockWaits;
        private double _lockWaitTotal;
        private double _lockWaitMax;
        private long _turnWaits;
        private double _turnWaitTotal;
        private double _turnWaitMax;

        internal Counting()
        {
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Name == RestockMetrics.MeterName &&
                    instrument.Name is "restock.journal.transactions" or "restock.journal.batch_size" or "restock.journal.lock_wait" or "restock.journal.turn_wait")
                    listener.EnableMeasurementEvents(instrument);
            };
            _listener.SetMeasurementEventCallback<long>((instrument, value, _, _) =>
            {
                if (instrument.Name == "restock.journal.transactions") Interlocked.Add(ref _transactions, value);
                else Interlocked.Increment(ref _skuWrites);
            });
            _listener.SetMeasurementEventCallback<double>((instrument, value, _, _) =>
            {
                lock (_listener)
                {
                    if (instrument.Name == "restock.journal.turn_wait")
                    {
                        _turnWaits++;
                        _turnWaitTotal += value;
                        _turnWaitMax = Math.Max(_turnWaitMax, value);
                        return;
                    }
                    _lockWaits++;
                    _lockWaitTotal += value;
                    _lockWaitMax = Math.Max(_lockWaitMax, value);
                }
            });
            _listener.Start();
        }

        public EngineCosts Stop(long requests)
        {
            var cpu = Process.GetCurrentProcess().TotalProcessorTime - _cpuAtStart;
            _listener.Dispose();
            var n = Math.Max(1, requests);
            lock (_listener)
                return new EngineCosts(requests, Math.Round(cpu.TotalMicroseconds / n, 1), Math.Round((double)Interlocked.Read(ref _transactions) / n, 3),
                    Math.Round((double)Interlocked.Read(ref _skuWrites) / n, 3), _lockWaits, Math.Round(_lockWaitTotal, 1), Math.Round(_lockWaitMax, 2),
                    System.Runtime.JitInfo.GetCompiledMethodCount() - _jitAtStart, Math.Round((double)(Monitor.LockContentionCount - _contentionsAtStart) / n, 4),
                    _turnWaits, Math.Round(_turnWaitTotal, 1), Math.Round(_turnWaitMax, 2));
        }

        public void Dispose() => _listener.Dispose();
    }
}
