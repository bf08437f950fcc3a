namespace Restock.Actors.LoadTests.Running;

/// <summary>
/// The open model's arrivals under way, counted rather than listed: tracking one costs the same however many are in
/// flight. The first failure of any is rethrown once all have finished, as awaiting them all would.
/// </summary>
public sealed class ArrivalsInFlight
{
    // The generator counts as one until it asks for the end, so that the count reaching zero means the end.
    private int _count = 1, _generating = 1;
    private Exception? _failure;
    private readonly TaskCompletionSource _finished = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private static readonly Action<Task, object?> OnFinished = static (arrival, self) => ((ArrivalsInFlight)self!).Finished(arrival);

    /// <summary>Arrivals started and not yet finished.</summary>
    public int Count => Volatile.Read(ref _count) - Volatile.Read(ref _generating);

    /// <summary>Counts <paramref name="arrival"/>, already started by the caller, until it finishes.</summary>
    public void Track(Task arrival)
    {
        Interlocked.Increment(ref _count);
        if (arrival.IsCompleted) Finished(arrival);
        else arrival.ContinueWith(OnFinished, this, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    /// <summary>No more arrivals start: completes once every one started has finished.</summary>
    public Task AllFinishedAsync()
    {
        if (Interlocked.Exchange(ref _generating, 0) == 0) return _finished.Task;
        Finish();
        return _finished.Task;
    }

    private void Finished(Task arrival)
    {
        if (arrival.Exception is { } failure) Interlocked.CompareExchange(ref _failure, failure.InnerException ?? failure, null);
        Finish();
    }

    private void Finish()
    {
        if (Interlocked.Decrement(ref _count) != 0) return;
        if (_failure is { } failure) _finished.TrySetException(failure);
        else _finished.TrySetResult();
    }
}
