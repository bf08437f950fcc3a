namespace Restock.Actors.LoadTests.Scenarios;

public enum LoadKind
{
    /// <summary>A fixed number of buyers, each sending its next request when the last one answered.</summary>
    Closed,

    /// <summary>A target arrival rate (constant, or ramping to <see cref="LoadModel.RampToRate"/>) that does not slow down with the engine.</summary>
    Open,
}

public sealed record LoadModel(LoadKind Kind, int Concurrency, double Rate = 0, double? RampToRate = null)
{
    public override string ToString() => Kind == LoadKind.Closed
        ? $"closed, {Concurrency} concurrent buyers"
        : $"open, {Rate:N0}/s{(RampToRate is { } to ? $" ramping to {to:N0}/s" : "")}";
}

/// <summary>Relative weights of the operations a buyer, a merchant or the back office sends.</summary>
public sealed record OperationMix(int Reserve, int Pay = 0, int Cancel = 0, int Ship = 0, int Refund = 0, int ManualRestock = 0, int LedgerQuery = 0);

/// <summary>
/// A load simulation as data: the shop set-up, what the users do, how hard, and what must hold at the end.
/// The runner is generic; scenarios only fill this in.
/// </summary>
public sealed record Scenario(
    string Name,
    string Description,
    int Skus,
    long StockPerSku,
    int Shops,
    OperationMix Mix,
    LoadModel Model,
    long Attempts,
    TimeSpan Duration,
    IReadOnlyList<string> Thresholds,
    double Zipf = 0,
    long MaxQuantity = 1,
    TimeSpan? PaymentWindow = null,
    double AutoRestockShare = 0,
    int RefundCopies = 1,
    double ErpRaceShare = 0,
    bool ToggleSwitchMidRun = false,
    bool CrashMidRun = false,
    bool KillNodeMidRun = false,
    TimeSpan WarmUp = default)
{
    public TimeSpan Window => PaymentWindow ?? TimeSpan.FromMinutes(15);
}
