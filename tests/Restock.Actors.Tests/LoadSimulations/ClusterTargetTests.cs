using Restock.Actors.LoadTests;
using Restock.Actors.LoadTests.Targets;

namespace Restock.Actors.Tests.LoadSimulations;

public sealed class ClusterTargetTests
{
    private sealed class Recorder : HttpMessageHandler
    {
        public List<Uri> Seen { get; } = [];

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            lock (Seen) Seen.Add(request.RequestUri!);
            return Task.FromResult(new HttpResponseMessage(System.Net.HttpStatusCode.OK));
        }
    }

    [Fact]
    public async Task A_cluster_target_sends_requests_to_its_nodes_in_turn_keeping_path_and_query()
    {
        var nodes = new[] { new Uri("http://127.0.0.1:5081"), new Uri("http://127.0.0.1:5082"), new Uri("http://127.0.0.1:5083") };
        var recorder = new Recorder();
        using var http = new HttpClient(new HttpTarget.RoundRobin(() => nodes) { InnerHandler = recorder }) { BaseAddress = nodes[0] };
        for (var i = 0; i < 6; i++) await http.GetAsync($"/ledger?skuId=s{i}");

        Assert.Equal([5081, 5082, 5083, 5081, 5082, 5083], recorder.Seen.Select(u => u.Port));
        Assert.Equal("/ledger?skuId=s4", recorder.Seen[4].PathAndQuery);
    }

    [Fact]
    public void Several_urls_make_a_cluster_target()
    {
        var options = CommandLine.Parse(["flash-sale", "--target", "http", "--url", "http://127.0.0.1:5081,http://127.0.0.1:5082"]);
        Assert.Equal([5081, 5082], options.Options.Urls!.Select(u => u.Port));
    }

    [Fact]
    public void The_node_loss_scenario_runs_on_a_cluster_the_runner_starts_and_needs_two_nodes_to_lose_one()
    {
        var options = CommandLine.Parse(["node-loss", "--postgres", "Host=127.0.0.1;Username=postgres", "--nodes", "4"]).Options;
        Assert.Equal(Restock.Actors.LoadTests.Running.TargetKind.Cluster, options.Target);
        Assert.Equal(4, options.Nodes);
        Assert.Equal("Host=127.0.0.1;Username=postgres", options.Postgres);

        var oneNode = Assert.Throws<ArgumentException>(() => CommandLine.Parse(["node-loss", "--postgres", "Host=127.0.0.1", "--nodes", "1"]));
        Assert.Contains("--nodes 2", oneNode.Message);
    }

    [Fact]
    public void The_node_loss_scenario_keeps_its_arrival_rate_through_the_takeover_unless_a_closed_model_is_asked_for()
    {
        // Open: buyers of the killed node's SKUs waiting for their 503 do not hold back the healthy SKUs' buyers.
        var open = CommandLine.Parse(["node-loss", "--postgres", "Host=127.0.0.1"]).Options.Scenario.Model;
        Assert.Equal(Restock.Actors.LoadTests.Scenarios.LoadKind.Open, open.Kind);
        Assert.True(open.Rate > 0);
        Assert.Equal(400, CommandLine.Parse(["node-loss", "--postgres", "Host=127.0.0.1", "--rate", "400"]).Options.Scenario.Model.Rate);
        var closed = CommandLine.Parse(["node-loss", "--postgres", "Host=127.0.0.1", "--concurrency", "60"]).Options.Scenario.Model;
        Assert.Equal(Restock.Actors.LoadTests.Scenarios.LoadKind.Closed, closed.Kind);
    }
}
