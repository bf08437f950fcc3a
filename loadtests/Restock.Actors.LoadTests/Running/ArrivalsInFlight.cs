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

    private static readonly Action<Task, object?> OnFinished = static (arrival, self) => ((ArrivalsInFlight)self!).Ended(arrival);

    /// <summary>Arrivals started and not yet finished.</summary>
    public int Count => Volatile.Read(ref _count) - Volatile.Read(ref _generating);

    /// <summary>Counts <paramref name="arrival"/>, already started by the caller, until it finishes.</summary>
    public void Track(Task arrival)
    {
        Interlocked.Increment(ref _count);
        if (arrival.IsCompleted) Ended(arrival);
        else arrival.ContinueWith(OnFinished, this, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    /// <summary>
    /// Counts an arrival that reports its own end (<see cref="Failed"/> if it fails, then <see cref="Finished"/>) instead of
    /// being tracked: no continuation per arrival, which was a twentieth of the bytes a reservation allocated.
    /// </summary>
    public void Starting() => Interlocked.Increment(ref _count);

    /// <summary>An arrival counted by <see cref="Starting"/> failed: the end fails with the first such failure.</summary>
    public void Failed(Exception failure) => Interlocked.CompareExchange(ref _failure, failure, null);

    /// <summary>An arrival counted by <see cref="Starting"/> has ended.</summary>
    public void Finished() => Finish();

    /// <summary>No more arrivals start: completes once every one started has finished.</summary>
    public Task AllFinishedAsync()
    {
        if (Interlocked.Exchange(ref _generating, 0) == 0) return _finished.Task;
        Finish();
        return _finished.Task;
    }

    private void Ended(Task arrival)
    {
        if (arrival.Exception is { } failure) Failed(failure.InnerException ?? failure);
        Finish();
    }

    private void Finish()
    {
        if (Interlocked.Decrement(ref _count) != 0) return;
        if (_failure is { } failure) _finished.TrySetException(failure);
        else _finished.TrySetResult();
    }
}
