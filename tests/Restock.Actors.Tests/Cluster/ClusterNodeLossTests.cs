using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using Restock.Actors.LoadTests.Targets;
using Restock.Actors.Tests.Support;
using Xunit.Abstractions;

namespace Restock.Actors.Tests.Cluster;

/// <summary>Multi-process tests run alone, after the others: on two cores, parallel tests would starve the nodes' heartbeats.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class MultiProcessCollection
{
    public const string Name = "multi-process";
}

/// <summary>
/// Three service processes on 127.0.0.1 and one PostgreSQL database: a flash sale through all three HTTP endpoints,
/// one node killed with SIGKILL mid-sale, then another leaving gracefully under load. Nothing acknowledged may be
/// lost, nothing oversold, no refund restocked twice, and no caller told "refused" for a change that was applied.
/// Needs RESTOCK_TEST_POSTGRES (see <c>.ci/postgres</c>) and a built service.
/// </summary>
[Collection(MultiProcessCollection.Name)]
public sealed class ClusterNodeLossTests(ITestOutputHelper output) : PostgresTest("restock_cluster")
{
    private const string Shop = "shop-sale";
    private const int SkuCount = 24;
    private const int StockPerSku = 60;
    private const int Buyers = 40;

    [SkippableFact]
    public async Task A_sale_across_three_nodes_survives_a_sigkill_and_a_graceful_leave_with_every_acknowledgement_kept()
    {
        SkipWithoutServer();
        var folder = Path.Combine(Path.GetTempPath(), "restock-tests", Database.Name);
        await using var cluster = await ServiceCluster.StartAsync(3, Database.ConnectionString, folder);
        output.WriteLine($"cluster up; node logs in {folder}");
        using var http = cluster.Client(TimeSpan.FromSeconds(30));
        var client = new SaleClient(cluster, http);
        var skus = Enumerable.Range(0, SkuCount).Select(i => $"sku-{i}").ToArray();

        await client.Expect(200, HttpMethod.Put, $"/shops/{Shop}/settings/auto-restock", new { on = true, actor = "operator:test" });
        foreach (var sku in skus)
            await client.Expect(200, HttpMethod.Put, $"/shops/{Shop}/skus/{sku}/stock", new { adjustmentId = $"stock-{sku}", quantity = StockPerSku });
        var view = await http.GetFromJsonAsync<JsonElement>(new Uri(cluster.Nodes[0].Url, "/cluster"));
        output.WriteLine("shards per node: " + string.Join(", ", view.GetProperty("members").EnumerateArray().Select(m =>
            $"{m.GetProperty("address").GetString()}={m.GetProperty("shards").GetProperty("sku").GetProperty("shards").GetInt32()}")));

        // Joining went without serializer or coordinator errors.
        foreach (var node in cluster.Nodes)
        {
            var log = await File.ReadAllTextAsync(node.LogPath);
            Assert.DoesNotContain("Cannot find serializer", log);
            Assert.DoesNotContain("updating-state-timeout", log);
        }

        var sale = new Sale(client, skus);
        var buyers = Enumerable.Range(0, Buyers).Select(sale.Buyer).ToArray();

        // SIGKILL the third node once a sixth of the units are sold.
        await WaitUntil(() => sale.AcknowledgedCount >= SkuCount * StockPerSku / 6, TimeSpan.FromSeconds(60), "the sale did not get going");
        var killed = cluster.Nodes[2];
        var ackedBeforeKill = sale.Acknowledged.ToArray();
        await cluster.KillAsync(killed);
        var takeover = await EverySkuAnswers(client, cluster.Nodes[0], skus);
        output.WriteLine($"SIGKILL of node 3 after {ackedBeforeKill.Length} acknowledged reservations: every SKU answered again after {takeover.TotalSeconds:F1} s");

        // The second node leaves gracefully while the sale goes on; its shards are handed off to the first.
        Assert.False(sale.Finished, "the sale ended before the graceful leave; raise the stock");
        var leaving = Stopwatch.StartNew();
        var leave = cluster.LeaveAsync(cluster.Nodes[1], TimeSpan.FromSeconds(60));
        var (unanswered, slowest) = (0, TimeSpan.Zero);
        while (!leave.IsCompleted)
        {
            var round = Stopwatch.StartNew();
            var answers = await Task.WhenAll(skus.Select(sku => client.Status(cluster.Nodes[0], $"/skus/{sku}")));
            unanswered += answers.Count(a => a != 200);
            slowest = round.Elapsed > slowest ? round.Elapsed : slowest;
            await Task.Delay(100);
        }
        await leave;
        var exited = leaving.Elapsed;
        var handoff = exited + await EverySkuAnswers(client, cluster.Nodes[0], skus);
        output.WriteLine($"graceful leave of node 2: the process exited {exited.TotalSeconds:F1} s after SIGTERM and every SKU answered from " +
                         $"node 1 by {handoff.TotalSeconds:F1} s; meanwhile {unanswered} stock reads were not answered and the slowest round of " +
                         $"reads took {slowest.TotalSeconds:F1} s");

        await Task.WhenAll(buyers).WaitAsync(TimeSpan.FromSeconds(120));
        output.WriteLine($"sale over: {sale.AcknowledgedCount} reservations, {sale.Refunds.Count} refunds; " +
                         $"{client.Unconfirmed} answers were 503 (outcome unknown; the slowest {client.SlowestUnconfirmed.TotalSeconds:F2} s after its " +
                         $"request started) and {client.ConnectionFailures} requests found no node, all retried");
        Assert.Empty(sale.Unexpected);

        // Every refund finishes, then each SKU's counts equal exactly what the buyers were told.
        foreach (var (refundId, (order, _)) in sale.Refunds)
            await WaitUntilAsync(async () => (await client.Expect(200, HttpMethod.Get, $"/orders/{order}/refunds/{refundId}")).GetProperty("finished").GetBoolean(),
                TimeSpan.FromSeconds(60), $"refund {refundId} did not finish");
        foreach (var sku in skus)
        {
            var stock = await client.Expect(200, HttpMethod.Get, $"/skus/{sku}");
            long Level(string name) => stock.GetProperty(name).GetInt64();
            var acked = sale.Acknowledged.Count(a => a.Sku == sku);
            var refunds = sale.Refunds.Where(r => r.Value.Sku == sku).Select(r => r.Key).ToHashSet();
            Assert.True(Level("reserved") + Level("committed") + Level("shipped") + Level("refunded") == acked,
                $"{sku}: the engine holds {Level("reserved") + Level("committed") + Level("refunded")} units in orders, buyers were told {acked}");
            Assert.Equal(0, Level("reserved"));
            Assert.Equal(refunds.Count, Level("refunded"));
            Assert.Equal(refunds.Count, Level("restocked"));
            Assert.Equal(StockPerSku - acked + refunds.Count, Level("available"));
            Assert.True(Level("available") >= 0);

            // The ledger has every restock exactly once.
            await WaitUntilAsync(async () => (await LedgerRefunds(client, sku)).Count >= refunds.Count, TimeSpan.FromSeconds(30), $"ledger of {sku}");
            var ledger = await LedgerRefunds(client, sku);
            Assert.Equal(refunds.Order(), ledger.Order());
        }
        Assert.All(ackedBeforeKill, a => Assert.Contains(a, sale.Acknowledged));
    }

    private static async Task<List<string>> LedgerRefunds(SaleClient client, string sku)
    {
        var page = await client.Expect(200, HttpMethod.Get, $"/ledger?skuId={sku}&limit=500");
        Assert.Equal(JsonValueKind.Null, page.GetProperty("nextCursor").ValueKind);
        return page.GetProperty("entries").EnumerateArray().Select(e => e.GetProperty("refundId").GetString()!).ToList();
    }

    /// <summary>How long until every SKU answers through <paramref name="via"/>.</summary>
    private static async Task<TimeSpan> EverySkuAnswers(SaleClient client, ClusterNode via, string[] skus)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromSeconds(90))
        {
            var answers = await Task.WhenAll(skus.Select(sku => client.Status(via, $"/skus/{sku}")));
            if (answers.All(s => s == 200)) return clock.Elapsed;
            await Task.Delay(100);
        }
        throw new TimeoutException("some SKUs did not answer again within 90 s");
    }

    private static Task WaitUntil(Func<bool> done, TimeSpan within, string what) => WaitUntilAsync(() => Task.FromResult(done()), within, what);

    private static async Task WaitUntilAsync(Func<Task<bool>> done, TimeSpan within, string what)
    {
        var deadline = DateTime.UtcNow + within;
        while (!await done())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException(what);
            await Task.Delay(100);
        }
    }

    /// <summary>Buyers: reserve one unit, pay, and refund one order in five; each request retried with the same id until its answer is definite.</summary>
    private sealed class Sale(SaleClient client, string[] skus)
    {
        private readonly ConcurrentDictionary<string, bool> _soldOut = new();
        private readonly ConcurrentQueue<(string Sku, string Order)> _acknowledged = new();

        public IEnumerable<(string Sku, string Order)> Acknowledged => _acknowledged;

        public int AcknowledgedCount => _acknowledged.Count;

        public ConcurrentDictionary<string, (string Order, string Sku)> Refunds { get; } = new();

        public ConcurrentQueue<string> Unexpected { get; } = new();

        public bool Finished => _soldOut.Count == skus.Length;

        public async Task Buyer(int buyer)
        {
            await Task.Yield();
            var random = new Random(buyer);
            for (var n = 0; ; n++)
            {
                var open = skus.Where(s => !_soldOut.ContainsKey(s)).ToArray();
                if (open.Length == 0) return;
                var sku = open[random.Next(open.Length)];
                var order = $"o-{buyer}-{n}";
                var (status, body) = await client.Definite(HttpMethod.Post, $"/skus/{sku}/reservations", new { orderId = order, quantity = 1 });
                if (status == 409 && body.GetProperty("code").GetString() == "OutOfStock")
                {
                    _soldOut[sku] = true;
                    continue;
                }
                if (status != 200)
                {
                    Unexpected.Enqueue($"reserve {sku}/{order}: {status} {body}");
                    continue;
                }
                _acknowledged.Enqueue((sku, order));
                (status, body) = await client.Definite(HttpMethod.Post, $"/skus/{sku}/orders/{order}/payment", null);
                if (status != 200) Unexpected.Enqueue($"pay {sku}/{order}: {status} {body}");
                else if (random.Next(5) == 0)
                {
                    var refundId = "r-" + order;
                    (status, body) = await client.Definite(HttpMethod.Post, "/refunds",
                        new { refundId, orderId = order, shopId = Shop, lines = new[] { new { skuId = sku, quantity = 1 } } });
                    if (status is 200 or 202) Refunds[refundId] = (order, sku);
                    else Unexpected.Enqueue($"refund {refundId}: {status} {body}");
                }
                await Task.Delay(random.Next(100, 300));
            }
        }
    }

    /// <summary>Spreads requests over the running nodes, round robin, as a load balancer would.</summary>
    private sealed class SaleClient(ServiceCluster cluster, HttpClient http)
    {
        private int _next;
        private int _unconfirmed, _connectionFailures;
        private long _slowestUnconfirmedTicks;

        public int Unconfirmed => _unconfirmed;

        /// <summary>The longest a 503 took, from the request's start to its answer (the promise: 2 s).</summary>
        public TimeSpan SlowestUnconfirmed => TimeSpan.FromTicks(Interlocked.Read(ref _slowestUnconfirmedTicks));

        public int ConnectionFailures => _connectionFailures;

        private Uri NextNode()
        {
            var running = cluster.Running.ToArray();
            return running[(int)((uint)Interlocked.Increment(ref _next) % running.Length)].Url;
        }

        /// <summary>
        /// Sends until the answer is definite (2xx or 4xx). A 503 or a lost connection means the outcome is unknown:
        /// the request is sent again with the same ids, which the API guarantees never applies twice.
        /// </summary>
        public async Task<(int Status, JsonElement Body)> Definite(HttpMethod method, string path, object? body)
        {
            for (var attempt = 1; attempt <= 300; attempt++)
            {
                try
                {
                    using var request = new HttpRequestMessage(method, new Uri(NextNode(), path)) { Content = body is null ? null : JsonContent.Create(body) };
                    var sent = Stopwatch.StartNew();
                    using var response = await http.SendAsync(request);
                    var status = (int)response.StatusCode;
                    if (status < 500)
                    {
                        var text = await response.Content.ReadAsStringAsync();
                        return (status, text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone());
                    }
                    Interlocked.Increment(ref _unconfirmed);
                    var took = sent.Elapsed.Ticks;
                    for (var slowest = Interlocked.Read(ref _slowestUnconfirmedTicks); took > slowest; slowest = Interlocked.Read(ref _slowestUnconfirmedTicks))
                        if (Interlocked.CompareExchange(ref _slowestUnconfirmedTicks, took, slowest) == slowest) break;
                    Assert.Equal(503, status);
                    Assert.NotNull(response.Headers.RetryAfter);
                }
                catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
                {
                    Interlocked.Increment(ref _connectionFailures);
                }
                await Task.Delay(200);
            }
            throw new TimeoutException($"{method} {path} got no definite answer in 300 attempts");
        }

        public async Task<JsonElement> Expect(int status, HttpMethod method, string path, object? body = null)
        {
            var (actual, json) = await Definite(method, path, body);
            Assert.True(actual == status, $"{method} {path}: expected {status}, got {actual}: {json}");
            return json;
        }

        public async Task<int> Status(ClusterNode via, string path)
        {
            try
            {
                using var response = await http.GetAsync(new Uri(via.Url, path));
                return (int)response.StatusCode;
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
                return 0;
            }
        }
    }
}
