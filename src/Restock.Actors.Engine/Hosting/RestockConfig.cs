using System.Text.Json;
using Akka.Cluster.Sharding;
using Akka.Cluster.Tools.Singleton;
using Akka.Configuration;
using Akka.Persistence.Sql;

namespace Restock.Actors.Engine.Hosting;

/// <summary>
/// The one configuration loader: <c>hocon/restock.conf</c>, then the journal's file (<c>hocon/sqlite.conf</c> or
/// <c>hocon/postgresql.conf</c>), then environment overrides, then explicit overrides (later layers win).
/// Overrides are layered as entries because HOCON's <c>${?ENV}</c> substitutions are not re-resolved here.
/// </summary>
public static class RestockConfig
{
    /// <summary>The environment variables a deployment may set, and the configuration paths each one sets.</summary>
    public static readonly IReadOnlyDictionary<string, string[]> EnvironmentOverrides = new Dictionary<string, string[]>
    {
        // The snapshot store's follows the journal's unless set on its own (JournalStore.SnapshotConnectionStringFor).
        ["RESTOCK_CONNECTION_STRING"] =
        [
            JournalConnectionString,
            "akka.persistence.query.journal.sql.connection-string",
        ],
        ["RESTOCK_SNAPSHOT_CONNECTION_STRING"] = [SnapshotConnectionString],
        ["RESTOCK_PROVIDER"] =
        [
            "akka.persistence.journal.sql.provider-name",
            "akka.persistence.snapshot-store.sql.provider-name",
            "akka.persistence.query.journal.sql.provider-name",
        ],
        ["RESTOCK_HOSTNAME"] = ["akka.remote.dot-netty.tcp.hostname"],
        ["RESTOCK_REMOTE_PORT"] = ["akka.remote.dot-netty.tcp.port"],
        ["RESTOCK_HTTP_URLS"] = ["restock.http.urls"],
        ["RESTOCK_OPERATOR_KEY"] = ["restock.access.operator-key"],
        ["RESTOCK_SINGLE_NODE"] = ["restock.cluster.single-node"],
        ["RESTOCK_REFUND_RETRY_FOR"] = ["restock.refunds.retry-for"],
    };

    /// <summary>Environment variables holding comma-separated lists, and the configuration list each one sets.</summary>
    public static readonly IReadOnlyDictionary<string, string> EnvironmentLists = new Dictionary<string, string>
    {
        ["RESTOCK_SEED_NODES"] = "akka.cluster.seed-nodes",
        ["RESTOCK_ROLES"] = "akka.cluster.roles",
    };

    public static string Directory => Path.Combine(AppContext.BaseDirectory, "hocon");

    /// <param name="lookup">Reads an environment setting by name; the process environment when null.</param>
    /// <param name="overrides">HOCON entries that win over everything else, e.g. <c>restock.inventory.max-batch-size = 1</c>.</param>
    public static Config Load(Func<string, string?>? lookup = null, params string[] overrides)
    {
        lookup ??= Environment.GetEnvironmentVariable;
        var explicitLayer = ConfigurationFactory.ParseString(string.Join('\n', overrides));
        var environmentLayer = ConfigurationFactory.ParseString(string.Join('\n', EnvironmentEntries(lookup)));
        var baseLayer = ParseFile("restock.conf");

        var journal = explicitLayer.GetString("restock.journal", null)
                      ?? environmentLayer.GetString("restock.journal", null)
                      ?? baseLayer.GetString("restock.journal");
        if (journal is not ("sqlite" or "postgresql"))
            throw new ConfigurationException($"restock.journal (RESTOCK_JOURNAL) must be sqlite or postgresql, not '{journal}'");

        var config = explicitLayer
            .WithFallback(environmentLayer)
            .WithFallback(ParseFile(journal + ".conf"))
            .WithFallback(baseLayer)
            .WithFallback(ClusterExtensionDefaults)
            .WithFallback(SqlPersistence.DefaultConfiguration);
        return config.GetString(SnapshotConnectionString, "") is { Length: > 0 }
            ? config
            : ConfigurationFactory.ParseString($"{SnapshotConnectionString} = {Quote(JournalStore.SnapshotConnectionStringFor(config))}")
                .WithFallback(config);
    }

    /// <summary>
    /// Sharding, singleton, distributed data and pub-sub add their defaults (serializers included) only when first used,
    /// after this node has joined: replication messages from the other nodes that arrive before then fail with
    /// "Cannot find serializer with id [12]" and the coordinator's state updates time out. Loaded up front, they
    /// are known from the first message.
    /// </summary>
    private static Config ClusterExtensionDefaults =>
        ClusterSharding.DefaultConfig()
            .WithFallback(ClusterSingleton.DefaultConfig())
            .WithFallback(Akka.DistributedData.DistributedData.DefaultConfig())
            .WithFallback(Akka.Cluster.Tools.PublishSubscribe.DistributedPubSub.DefaultConfig());

    /// <summary>
    /// Refuses a configuration that would run a second, separate cluster on a shared database: a PostgreSQL node
    /// must name its seed nodes, unless it is deliberately alone (<c>restock.cluster.single-node</c>).
    /// </summary>
    public static void CheckClusterSafety(Config config)
    {
        if (config.GetString("restock.journal") != "postgresql") return;
        if (config.GetStringList("akka.cluster.seed-nodes").Count > 0 || config.GetBoolean("restock.cluster.single-node")) return;
        throw new ConfigurationException(
            "a node on PostgreSQL needs seed nodes: set RESTOCK_SEED_NODES (e.g. akka.tcp://restock@10.0.0.1:4053) to the same " +
            "list on every node, or RESTOCK_SINGLE_NODE=on for a deliberate one-node deployment. Without either it would form " +
            "a cluster of its own and run a second copy of every SKU against the same database.");
    }

    private const string WriteTimeout = "akka.persistence.journal.sql.write-timeout";
    private const string WriteLockWait = "akka.persistence.journal.sql.write-lock-wait";

    /// <summary>
    /// Refuses a journal whose SQLite transaction may wait for the write lock as long as its write-timeout or longer: it
    /// would still be waiting when its writers are told it failed, and could commit afterwards. Shorter, a transaction
    /// held up by the lock gives up and fails its writers itself.
    /// </summary>
    public static void CheckJournalTimeouts(Config config)
    {
        var writeTimeout = config.GetTimeSpan(WriteTimeout, null, allowInfinite: false);
        var lockWait = config.GetTimeSpan(WriteLockWait, null, allowInfinite: false);
        if (lockWait < writeTimeout) return;
        throw new ConfigurationException(
            $"{WriteLockWait} ({lockWait}) must be shorter than {WriteTimeout} ({writeTimeout}): a journal " +
            "transaction still waiting for SQLite's write lock when its writers are told it failed could commit afterwards.");
    }

    public const string JournalConnectionString = "akka.persistence.journal.sql.connection-string";

    /// <summary>Set on its own or derived from the journal's at load (see <c>JournalStore.SnapshotConnectionStringFor</c>).</summary>
    public const string SnapshotConnectionString = "akka.persistence.snapshot-store.sql.connection-string";

    private const string AskTimeout = "restock.inventory.ask-timeout";
    public const string TakeoverAskTimeout = "restock.cluster.takeover-ask-timeout";

    /// <summary>How long a caller waits for a SKU or shop whose shard may be moving, before its 503 to retry.</summary>
    public static TimeSpan TakeoverAskTimeoutOf(Config config) => config.GetTimeSpan(TakeoverAskTimeout, null, allowInfinite: false);

    /// <summary>
    /// Refuses a takeover ask timeout of 0 (every caller of a shard on the move would get its 503 at once) or above the
    /// ask timeout (a takeover would make callers wait longer, not shorter).
    /// </summary>
    public static void CheckAskTimeouts(Config config)
    {
        var normal = config.GetTimeSpan(AskTimeout, null, allowInfinite: false);
        var takeover = TakeoverAskTimeoutOf(config);
        if (takeover > TimeSpan.Zero && takeover <= normal) return;
        throw new ConfigurationException(
            $"{TakeoverAskTimeout} ({takeover}) must be above 0 and at most {AskTimeout} ({normal}): while shards move, callers " +
            "wait the takeover timeout instead of the ask timeout, for a prompt 503 to retry.");
    }

    private static IEnumerable<string> EnvironmentEntries(Func<string, string?> lookup)
    {
        if (lookup("RESTOCK_JOURNAL") is { Length: > 0 } journal)
            yield return "restock.journal = " + Quote(journal);
        foreach (var (variable, paths) in EnvironmentOverrides)
        {
            if (lookup(variable) is not { Length: > 0 } value) continue;
            foreach (var path in paths)
                yield return $"{path} = {Quote(value)}";
        }
        foreach (var (variable, path) in EnvironmentLists)
        {
            if (lookup(variable) is not { Length: > 0 } value) continue;
            var list = value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            yield return $"{path} = [{string.Join(", ", list.Select(Quote))}]";
        }
    }

    private static string Quote(string value) => JsonSerializer.Serialize(value);

    private static Config ParseFile(string name)
    {
        var path = Path.Combine(Directory, name);
        if (!File.Exists(path))
            throw new ConfigurationException($"configuration file {path} is missing");
        return ConfigurationFactory.ParseString(File.ReadAllText(path));
    }
}
