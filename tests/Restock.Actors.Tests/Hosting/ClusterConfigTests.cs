using Akka.Actor;
using Akka.Configuration;
using Akka.DistributedData;
using Akka.DistributedData.Serialization;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Restock.Actors.Engine.Hosting;
using Restock.Actors.Engine.Inventory;
using Restock.Actors.Service.Hosting;

namespace Restock.Actors.Tests.Hosting;

/// <summary>What makes a multi-node deployment safe before any node talks to another.</summary>
public sealed class ClusterConfigTests
{
    private static Config PostgresNode(params (string Name, string Value)[] settings) => RestockConfig.Load(name =>
        name == "RESTOCK_JOURNAL" ? "postgresql" : settings.FirstOrDefault(s => s.Name == name).Value);

    [Fact]
    public async Task A_postgresql_node_without_seed_nodes_refuses_to_start_and_says_what_to_set()
    {
        var failure = await Assert.ThrowsAsync<ConfigurationException>(() => RestockEngine.StartAsync(PostgresNode()));
        Assert.Contains("RESTOCK_SEED_NODES", failure.Message);
        Assert.Contains("RESTOCK_SINGLE_NODE", failure.Message);
    }

    [Fact]
    public void A_postgresql_node_starts_with_seed_nodes_or_an_explicit_single_node_flag()
    {
        RestockConfig.CheckClusterSafety(PostgresNode(("RESTOCK_SEED_NODES", "akka.tcp://restock@127.0.0.1:4053, akka.tcp://restock@127.0.0.1:4054")));
        RestockConfig.CheckClusterSafety(PostgresNode(("RESTOCK_SINGLE_NODE", "on")));
        RestockConfig.CheckClusterSafety(RestockConfig.Load(_ => null));
    }

    [Fact]
    public void Seed_nodes_roles_and_ports_come_from_the_environment()
    {
        var config = PostgresNode(("RESTOCK_SEED_NODES", "akka.tcp://restock@127.0.0.1:4053,akka.tcp://restock@127.0.0.1:4054"),
            ("RESTOCK_ROLES", "api, engine"), ("RESTOCK_REMOTE_PORT", "4055"), ("RESTOCK_HTTP_URLS", "http://127.0.0.1:5081"));
        Assert.Equal(["akka.tcp://restock@127.0.0.1:4053", "akka.tcp://restock@127.0.0.1:4054"], config.GetStringList("akka.cluster.seed-nodes"));
        Assert.Equal(["api", "engine"], config.GetStringList("akka.cluster.roles"));
        Assert.Equal(4055, config.GetInt("akka.remote.dot-netty.tcp.port"));
        Assert.Equal("http://127.0.0.1:5081", config.GetString("restock.http.urls"));
    }

    [Fact]
    public void The_shipped_postgresql_configuration_holds_no_password()
    {
        var config = PostgresNode();
        foreach (var plugin in new[] { "journal.sql", "snapshot-store.sql", "query.journal.sql" })
            Assert.DoesNotContain("password", config.GetString($"akka.persistence.{plugin}.connection-string"), StringComparison.OrdinalIgnoreCase);
        var shipped = File.ReadAllText(Path.Combine(RestockConfig.Directory, "postgresql.conf")).Replace("Password=...", "");
        Assert.DoesNotContain("Password=", shipped, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task Distributed_data_messages_from_other_nodes_can_be_read_before_sharding_starts()
    {
        // A joining node receives the others' replication messages before its own sharding starts.
        var system = ActorSystem.Create("restock", RestockConfig.Load(_ => null));
        try
        {
            // What another node sends: a replicator message (serializer id 12 on the wire) carrying replicated data.
            var message = new Get(new GCounterKey("shard-coordinator"), ReadLocal.Instance);
            var sender = new ReplicatorMessageSerializer((ExtendedActorSystem)system);
            var read = system.Serialization.Deserialize(sender.ToBinary(message), 12, sender.Manifest(message));
            Assert.Equal("shard-coordinator", Assert.IsType<Get>(read).Key.Id);
        }
        finally
        {
            await system.Terminate();
        }
    }

    [Fact]
    public void The_split_brain_resolver_is_explicit_and_its_settings_serve_a_dead_nodes_skus_again_within_15_seconds()
    {
        var config = PostgresNode();
        Assert.Equal("Akka.Cluster.SBR.SplitBrainResolverProvider, Akka.Cluster", config.GetString("akka.cluster.downing-provider-class"));
        Assert.Equal("keep-majority", config.GetString("akka.cluster.split-brain-resolver.active-strategy"));
        Assert.True(config.GetBoolean("akka.cluster.split-brain-resolver.down-all-when-unstable"));
        // The takeover's steps (see hocon/restock.conf): detection and the reaper's tick, the resolver's decision, a
        // gossip and a leader tick to remove the node, the margin sharding waits, a region's retry to learn the new
        // home; plus about a second for the failure detector's threshold and two for reallocation and recovery.
        TimeSpan Setting(string name) => config.GetTimeSpan("akka.cluster." + name);
        var budget = Setting("failure-detector.heartbeat-interval") + Setting("failure-detector.acceptable-heartbeat-pause")
                     + Setting("unreachable-nodes-reaper-interval") + Setting("split-brain-resolver.stable-after")
                     + Setting("gossip-interval") + Setting("leader-actions-interval") + Setting("down-removal-margin")
                     + Setting("sharding.retry-interval") + TimeSpan.FromSeconds(3);
        Assert.True(budget <= TimeSpan.FromSeconds(15), $"takeover budget {budget}");
        Assert.True(config.GetTimeSpan("akka.cluster.down-removal-margin") > TimeSpan.Zero, "the downed side needs time to stop its entities");
    }

    [Fact]
    public void Shard_placements_are_written_to_a_plain_majority_so_one_unreachable_node_of_three_does_not_stop_them()
    {
        var sharding = PostgresNode().GetConfig("akka.cluster.sharding");
        const int nodes = 3;
        var majority = nodes / 2 + 1;
        // Akka's WriteMajorityPlus: a majority plus the extra, but never fewer than majority-min-cap nodes (capped at all of them).
        var written = Math.Min(nodes, Math.Max(majority + sharding.GetInt("coordinator-state.write-majority-plus"),
            sharding.GetInt("distributed-data.majority-min-cap")));
        Assert.True(written < nodes, $"each placement waits for {written} of {nodes} nodes");
        Assert.True(written + majority > nodes, "a placement written must be seen by any later majority read");
    }

    [Fact]
    public void The_ledger_waits_for_a_journal_gap_long_enough_for_a_large_batch_still_being_written()
    {
        var window = PostgresNode().GetTimeSpan("restock.ledger.gap-window");
        Assert.True(window >= TimeSpan.FromSeconds(15), $"gap window {window}");
    }

    [Fact]
    public async Task An_unconfirmed_request_answers_503_with_retry_after()
    {
        var result = await EngineCall.Run<SkuReply>(() => Task.FromException<SkuReply>(new AskTimeoutException("no answer")), _ => Results.Ok());
        var context = new DefaultHttpContext
        {
            RequestServices = new ServiceCollection().AddLogging().AddProblemDetails().BuildServiceProvider(),
        };
        context.Response.Body = new MemoryStream();
        await result.ExecuteAsync(context);
        Assert.Equal(StatusCodes.Status503ServiceUnavailable, context.Response.StatusCode);
        Assert.Equal(EngineCall.RetryAfterSeconds.ToString(), context.Response.Headers.RetryAfter.ToString());
    }
}
