using System.Net;
using Restock.Actors.Tests.Support;

namespace Restock.Actors.Tests.Http;

/// <summary>What an orchestrator and an operator poll: liveness, readiness, metrics and the cluster view.</summary>
public sealed class OperationsApiTests(ServiceFactory factory) : IClassFixture<ServiceFactory>
{
    private readonly Api _api = new(factory.CreateClient());

    [Fact]
    public async Task A_started_node_is_alive_and_ready_with_each_check_named()
    {
        await Api.Expect(HttpStatusCode.OK, _api.Http.GetAsync("/healthz"));
        var ready = await Api.Expect(HttpStatusCode.OK, _api.Http.GetAsync("/readyz"));
        Assert.True(ready.GetProperty("ready").GetBoolean());
        Assert.Equal("Up", ready.GetProperty("memberStatus").GetString());
        Assert.True(ready.GetProperty("databaseReachable").GetBoolean());
        Assert.True(ready.GetProperty("shardingStarted").GetBoolean());
    }

    [Fact]
    public async Task Metrics_count_reservations_by_outcome_and_reason_in_prometheus_text()
    {
        var sku = $"metrics-{Guid.NewGuid():N}";
        await Api.Expect(HttpStatusCode.OK, _api.Put($"/shops/shop-m/skus/{sku}/stock", new { adjustmentId = "a1", quantity = 1 }));
        await Api.Expect(HttpStatusCode.OK, _api.Post($"/skus/{sku}/reservations", new { orderId = "o1", quantity = 1 }));
        await Api.Expect(HttpStatusCode.Conflict, _api.Post($"/skus/{sku}/reservations", new { orderId = "o2", quantity = 1 }));

        var text = await Api.Eventually(async () =>
        {
            using var response = await _api.Http.GetAsync("/metrics");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            return System.Text.Json.JsonSerializer.SerializeToElement(await response.Content.ReadAsStringAsync());
        }, t => t.GetString()!.Contains("restock_shards{"));
        var metrics = text.GetString()!;
        Assert.Contains("restock_reservations_total{", metrics);
        Assert.Contains("outcome=\"accepted\"", metrics);
        Assert.Contains("reason=\"OutOfStock\"", metrics);
        Assert.Contains("restock_journal_batch_size", metrics);
        Assert.Contains("restock_journal_write_latency_milliseconds", metrics);
        Assert.Contains("restock_entities_active{", metrics);
    }

    [Fact]
    public async Task The_cluster_view_lists_this_member_up_with_the_shards_it_hosts()
    {
        var sku = $"cluster-{Guid.NewGuid():N}";
        await Api.Expect(HttpStatusCode.OK, _api.Put($"/shops/shop-c/skus/{sku}/stock", new { adjustmentId = "a1", quantity = 1 }));
        var view = await _api.Get("/cluster");
        var member = Assert.Single(view.GetProperty("members").EnumerateArray());
        Assert.Equal("Up", member.GetProperty("status").GetString());
        Assert.True(member.GetProperty("reachable").GetBoolean());
        Assert.True(member.GetProperty("shards").GetProperty("sku").GetProperty("shards").GetInt32() >= 1);
        Assert.Equal(view.GetProperty("self").GetString(), member.GetProperty("address").GetString());
    }
}
