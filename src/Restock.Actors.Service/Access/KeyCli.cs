using Akka.Configuration;
using Restock.Actors.Engine.Access;

namespace Restock.Actors.Service.Access;

/// <summary>
/// <c>issue-key shop SHOP | platform | operator [--label TEXT]</c> and <c>revoke-key KEY_ID</c>: manage keys in the
/// key store of the configured journal database directly, for whoever holds that database (scripts, first set-up).
/// <c>issue-key</c> prints only the secret on standard output, so <c>KEY=$(... issue-key ...)</c> works without jq.
/// A running service sees a new key with its next request and a revocation within <c>restock.access.key-cache-ttl</c>
/// (nodes remember keys they confirmed active for that long; revoke through <c>DELETE /keys</c> to stop a key at once).
/// </summary>
internal static class KeyCli
{
    public const string IssueVerb = "issue-key";
    public const string RevokeVerb = "revoke-key";

    public static async Task<int> RunAsync(string verb, string[] args, Config config)
    {
        var keys = ApiKeyStore.From(config);
        await keys.EnsureSchemaAsync();
        if (verb == RevokeVerb)
        {
            if (args.Length != 1) return Usage();
            var found = await keys.RevokeAsync(args[0], DateTimeOffset.UtcNow);
            Console.Error.WriteLine(found ? $"{args[0]} is revoked" : $"no key {args[0]}");
            return found ? 0 : 1;
        }

        var label = Option(args, "--label");
        KeyKind? kind = args.FirstOrDefault() switch
        {
            "shop" when args.Length >= 2 && !args[1].StartsWith("--") => KeyKind.Shop,
            "platform" => KeyKind.Platform,
            "operator" => KeyKind.Operator,
            _ => null,
        };
        var shop = kind == KeyKind.Shop ? args[1] : null;
        if (kind is null || shop is { Length: 0 or > 128 }) return Usage();
        var issued = await keys.IssueAsync(kind.Value, shop, label ?? $"{(shop ?? kind.Value.ToString().ToLowerInvariant())} key (issued on the command line)",
            DateTimeOffset.UtcNow);
        Console.Error.WriteLine($"{issued.Key.KeyId}: {kind.Value.ToString().ToLowerInvariant()} key{(shop is null ? "" : " of " + shop)}; the secret is shown only now");
        Console.WriteLine(issued.Secret);
        return 0;
    }

    private static int Usage()
    {
        Console.Error.WriteLine($"usage: {IssueVerb} shop SHOP_ID | platform | operator [--label TEXT]\n       {RevokeVerb} KEY_ID");
        return 2;
    }

    private static string? Option(string[] args, string name)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }
}
