using CsCheck;
using Restock.Actors.Domain.Inventory;
using Restock.Actors.Engine.Inventory;
using Restock.Actors.Tests.Support;
using Xunit.Abstractions;

namespace Restock.Actors.Tests.Inventory;

/// <summary>
/// The SKU's state is changed in place and a snapshot shares its remembered ids with the live state: random schedules
/// with time passing (ids forgotten after a short horizon, refund records compacted) check that a decision changes
/// nothing, and that a snapshot captured mid-run, stored later, restored and followed by the events after it, is the
/// state the SKU had, as a replay of the whole journal is.
/// </summary>
public sealed class SkuSnapshotReplayPropertyTests(ITestOutputHelper output) : EngineTestKit(output)
{
    private static readonly TimeSpan Horizon = TimeSpan.FromHours(1);
    private static readonly TimeSpan Window = TimeSpan.FromHours(2);

    /// <summary>Commands with the time they arrive: a few minutes to a few hours apart.</summary>
    private static readonly Gen<(SkuCommand Command, int Minutes)[]> Timed =
        Gen.Select(SkuStockPropertyTests.Schedule, Gen.Int[0, 150].Array[80], (commands, gaps) =>
            commands.Select((c, i) => (c, gaps[i] % 5 == 0 ? gaps[i] : gaps[i] % 20)).ToArray());

    [Fact]
    public void A_snapshot_captured_mid_run_and_stored_later_restores_the_state_the_journal_holds()
    {
        var serializer = Sys.Serialization.FindSerializerForType(typeof(SkuSnapshot));
        Gen.Select(Timed, Gen.Int[0, 79]).Sample((schedule, snapAt) =>
        {
            var state = SkuState.Empty(Horizon, Window);
            var journal = new List<SkuEvent>();
            var now = SkuStockPropertyTests.Start;
            (SkuSnapshot Snapshot, byte[] Bytes, int Events, string Digest)? captured = null;
            for (var i = 0; i < schedule.Length; i++)
            {
                now = now.AddMinutes(schedule[i].Minutes);
                var command = schedule[i].Command with { ReceivedAt = now };
                var before = Digest(state);
                var decision = SkuStock.Decide(state, command);
                Assert.True(before == Digest(state), $"deciding {command} changed the state");
                var events = SkuStockPropertyTests.Stored(decision);
                SkuStock.ApplyAll(state, events);
                journal.AddRange(events);
                if (i == snapAt % schedule.Length)
                {
                    var snapshot = SkuSnapshot.From(state);
                    captured = (snapshot, serializer.ToBinary(snapshot), journal.Count, Digest(state));
                }
            }

            var (snap, bytesAtCapture, eventsBefore, digestAtCapture) = captured!.Value;
            // Stored once the live state has moved on (as the actor saves it after its write): the same bytes.
            var bytes = serializer.ToBinary(snap);
            Assert.Equal(bytesAtCapture, bytes);
            Assert.Equal(digestAtCapture, Digest(snap.ToState(Horizon, Window)));

            var restored = ((SkuSnapshot)Sys.Serialization.Deserialize(bytes, serializer.Identifier, "sku.snapshot.v2")).ToState(Horizon, Window);
            Assert.Equal(digestAtCapture, Digest(restored));
            SkuStock.ApplyAll(restored, journal.Skip(eventsBefore));
            var replayed = SkuStock.ApplyAll(SkuState.Empty(Horizon, Window), journal);
            Assert.Equal(Digest(replayed), Digest(state));
            Assert.Equal(Digest(state), Digest(restored));
        }, iter: 1500);
    }

    /// <summary>
    /// Ids in journals written before the id rule may hold any characters: stored as UTF-8 in the binary layout, they are
    /// found again after a restore, and a later finish of the same id supersedes the stored one.
    /// </summary>
    [Fact]
    public void Ids_of_any_characters_survive_the_binary_snapshot_and_are_found_again()
    {
        var serializer = Sys.Serialization.FindSerializerForType(typeof(SkuSnapshot));
        var at = SkuStockPropertyTests.Start;
        string[] ids = ["ö-1", "日本-2", "🛒-3", "plain-4"];
        var state = SkuStock.Apply(SkuState.Empty(Horizon, Window), new StockAdjusted("stock-ä", 10, "count", at));
        foreach (var id in ids)
            SkuStock.ApplyAll(state, [new StockReserved(id, 1, at.AddMinutes(15), at), new ReservationReleased(id, 1, ReleaseReason.Cancelled, at)]);

        var snapshot = SkuSnapshot.From(state);
        var restored = ((SkuSnapshot)Sys.Serialization.Deserialize(serializer.ToBinary(snapshot), serializer.Identifier, "sku.snapshot.v2"))
            .ToState(Horizon, Window);

        Assert.Equal(Digest(state), Digest(restored));
        foreach (var id in ids)
            Assert.Equal(Finish.LineReleased, Assert.Single(restored.Remembered.Lines, e => e.Key == id).Value.Finish);
        Assert.True(restored.Remembered.Adjustments.ContainsKey("stock-ä"));

        // Reserved again and shipped: the later finish is the one remembered, counted once.
        SkuStock.ApplyAll(restored, [
            new StockReserved("日本-2", 1, at.AddMinutes(15), at), new PaymentConfirmed("日本-2", 1, at), new LineShipped("日本-2", 1, at)]);
        Assert.True(restored.Remembered.Lines.TryGetValue("日本-2", out var latest));
        Assert.Equal(Finish.LineShipped, latest.Finish);
        Assert.Equal(ids.Length, restored.Remembered.LineCount);
    }

    /// <summary>Everything a decision or an answer can depend on, as text (ordered, so equal states give equal digests).</summary>
    internal static string Digest(SkuState s)
    {
        var lines = s.OpenLines.Values.OrderBy(l => l.OrderId, StringComparer.Ordinal).Select(l => l.ToString());
        var refunds = s.Refunds.OrderBy(r => r.Key, StringComparer.Ordinal).Select(r => $"{r.Key}={r.Value}");
        var remembered = s.Remembered.Lines.Select(e => $"L:{e.Key}={e.Value}")
            .Concat(s.Remembered.Adjustments.Select(e => $"A:{e.Key}={e.Value}")).Order(StringComparer.Ordinal);
        var due = s.PaymentDeadlines.Due(DateTimeOffset.MaxValue, int.MaxValue).Select(d => d.ToString());
        return string.Join("\n", [
            $"{s.IsKnown} {s.Levels} {s.Stocked} {s.Owner} clock {s.Remembered.Clock:O} counts {s.Remembered.LineCount}/{s.Remembered.AdjustmentCount}",
            .. lines, "--", .. refunds, "--", .. remembered, "--", .. due, $"next {s.NextPaymentDeadline():O}",
        ]);
    }
}
