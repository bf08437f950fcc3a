using Restock.Actors.Engine.Access;

namespace Restock.Actors.Service.Access;

/// <summary>
/// Prepares the key store at start-up. With no operator key configured (<c>RESTOCK_OPERATOR_KEY</c>) and none in
/// the store, it creates one, stores only its hash and prints it this once, with how to issue a shop and a platform
/// key: the embedded default stays two commands away from working. Runs after the engine has prepared the database.
/// </summary>
internal sealed class OperatorKeyBootstrap(ApiKeyStore keys, OperatorKey configured, string url, TextWriter output) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await keys.EnsureSchemaAsync(cancellationToken);
        if (configured.Configured || await keys.AnyActiveAsync(KeyKind.Operator, cancellationToken)) return;
        var issued = await keys.IssueAsync(KeyKind.Operator, null, "created on first start", DateTimeOffset.UtcNow, cancellationToken);
        await output.WriteLineAsync(Banner(issued, url));
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public static string Banner(IssuedKey issued, string url) => $$"""

        ==========================================================================================
        No operator key was configured, so this one was created ({{issued.Key.KeyId}}). It is shown only
        now and stored only as a hash; keep it (or start with RESTOCK_OPERATOR_KEY set instead):

            {{issued.Secret}}

        Issue a shop key and a platform key with it:

            curl -s -X POST {{url}}/keys -H 'authorization: Bearer {{issued.Secret}}' \
                 -H 'content-type: application/json' -d '{"kind":"shop","shopId":"shop-42","label":"shop-42 back office"}'
            curl -s -X POST {{url}}/keys -H 'authorization: Bearer {{issued.Secret}}' \
                 -H 'content-type: application/json' -d '{"kind":"platform","label":"order service"}'

        or, on this machine: dotnet run --project src/Restock.Actors.Service -- issue-key shop shop-42
        ==========================================================================================

        """;
}
