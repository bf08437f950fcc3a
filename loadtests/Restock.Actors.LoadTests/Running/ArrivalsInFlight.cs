namespace Restock.Actors.LoadTests.Running;

/// <summary>
/// The open model's arrivals under way, counted rather than listed: starting one costs the same however many are in
/// flight. Each runs on the thread pool, not on the generator's thread. The first failure of any is rethrown once all
/// have finished, as awaiting them all would.
/// </summary>
public sealed class ArrivalsInFlight
{
    // The generator counts as one until it asks for the end, so that the count reaching zero means the end.
    private int _count = 1, _generating = 1;
    private Exception? _failure;
    private readonly TaskCompletionSource _finished = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Arrivals started and not yet finished.</summary>
    public int Count => Volatile.Read(ref _count) - Volatile.Read(ref _generating);

    public void Start(Func<Task> arrival)
    {
        Interlocked.Increment(ref _count);
        ThreadPool.UnsafeQueueUserWorkItem(static state => _ = state.Self.RunAsync(state.Arrival), (Self: this, Arrival: arrival), preferLocal: false);
    }

    private async Task RunAsync(Func<Task> arrival)
    {
        try
        {
            await arrival();
        }
        catch (Exception e)
        {
            Interlocked.CompareExchange(ref _failure, e, null);
        }
        finally
        {
            Finished();
        }
    }

    /// <summary>No more arrivals start: completes once every one started has finished.</summary>
    public Task AllFinishedAsync()
    {
        if (Interlocked.Exchange(ref _generating, 0) == 0) return _finished.Task;
        Finished();
        return _finished.Task;
    }

    private void Finished()
    {
        if (Interlocked.Decrement(ref _count) != 0) return;
        if (_failure is { } failure) _finished.TrySetException(failure);
        else _finished.TrySetResult();
    }
}
