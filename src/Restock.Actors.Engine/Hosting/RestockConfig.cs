using System.Text.Json;
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
        ["RESTOCK_CONNECTION_STRING"] =
        [
            "akka.persistence.journal.sql.connection-string",
            "akka.persistence.snapshot-store.sql.connection-string",
            "akka.persistence.query.journal.sql.connection-string",
        ],
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

        return explicitLayer
            .WithFallback(environmentLayer)
            .WithFallback(ParseFile(journal + ".conf"))
            .WithFallback(baseLayer)
            .WithFallback(SqlPersistence.DefaultConfiguration);
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
        if (lookup("RESTOCK_SEED_NODES") is { Length: > 0 } seeds)
        {
            var list = seeds.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            yield return $"akka.cluster.seed-nodes = [{string.Join(", ", list.Select(Quote))}]";
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
