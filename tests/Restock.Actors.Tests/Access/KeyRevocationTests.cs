using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Akka.Actor;
using AkkaCluster = Akka.Cluster.Cluster;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Restock.Actors.Engine.Access;
using Restock.Actors.Service.Access;
using Restock.Actors.Tests.Support;

namespace Restock.Actors.Tests.Access;

/// <summary>
/// Nodes remember keys they confirmed active (<see cref="VerifiedKeys"/>); a revocation must still hold: at once on
/// the node that revokes (<see cref="AuthorizationMatrixTests.A_revoked_key_stops_with_the_next_request"/>), at once
/// on the other nodes when they are told, and within the memory's time-to-live when the database is changed directly.
/// </summary>
public sealed class KeyRevocationTests
{
    private static readonly TimeSpan Ttl = TimeSpan.FromSeconds(2);

    [Fact]
    public async Task A_key_revoked_with_the_command_line_verb_is_refused_once_the_stated_bound_has_passed()
    {
        var clock = new TestClock(DateTimeOffset.UtcNow);
        await using var factory = new ServiceFactory();
        await using var service = factory.WithWebHostBuilder(b => b.ConfigureTestServices(services =>
            services.AddSingleton(sp => new VerifiedKeys(sp.GetRequiredService<ApiKeyStore>(), Ttl, clock))));
        using var http = service.CreateClient();
        using var issued = await http.PostAsJsonAsync("/keys", new { kind = "platform", label = "revoked on the command line" });
        var key = await issued.Content.ReadFromJsonAsync<JsonElement>();
        var (keyId, secret) = (key.GetProperty("keyId").GetString()!, key.GetProperty("key").GetString()!);
        Assert.Equal(HttpStatusCode.OK, await Me(http, secret));

        Assert.Equal(0, await KeyCli.RunAsync(KeyCli.RevokeVerb, [keyId], factory.Database.Config()));
        clock.Set(clock.GetUtcNow() + Ttl + TimeSpan.FromMilliseconds(1));

        Assert.Equal(HttpStatusCode.Unauthorized, await Me(http, secret));
    }

    [Fact]
    public async Task A_key_revoked_on_one_node_is_refused_on_another_without_waiting_for_the_bound()
    {
        using var db = new TestDatabase();
        var store = ApiKeyStore.From(db.Config());
        await store.EnsureSchemaAsync();
        // The clock never moves: only the notice from the revoking node can make the other one refuse the key.
        var clock = new TestClock(DateTimeOffset.UtcNow);
        var (revoking, other) = (new VerifiedKeys(store, Ttl, clock), new VerifiedKeys(store, Ttl, clock));
        var first = ActorSystem.Create("restock", db.Config());
        var second = ActorSystem.Create("restock", db.Config());
        try
        {
            await AkkaCluster.Get(first).JoinAsync(AkkaCluster.Get(first).SelfAddress);
            await AkkaCluster.Get(second).JoinAsync(AkkaCluster.Get(first).SelfAddress);
            var revocations = await KeyRevocations.StartAsync(first, revoking, TimeSpan.FromSeconds(10));
            await KeyRevocations.StartAsync(second, other, TimeSpan.FromSeconds(10));

            // Subscriptions reach the other nodes by gossip: repeat a first revocation until the other node has it.
            var warmUp = await ActiveOnBoth(store, revoking, other);
            await store.RevokeAsync(warmUp.Key.KeyId, DateTimeOffset.UtcNow);
            await Eventually(async () =>
            {
                revocations.Revoked(warmUp.Key.KeyId);
                return await other.FindActiveAsync(warmUp.Secret, default) is null;
            });

            var doomed = await ActiveOnBoth(store, revoking, other);
            await store.RevokeAsync(doomed.Key.KeyId, DateTimeOffset.UtcNow);
            revocations.Revoked(doomed.Key.KeyId);

            Assert.Null(await revoking.FindActiveAsync(doomed.Secret, default));
            await Eventually(async () => await other.FindActiveAsync(doomed.Secret, default) is null);
        }
        finally
        {
            await Task.WhenAll(first.Terminate(), second.Terminate());
        }
    }

    private static async Task<IssuedKey> ActiveOnBoth(ApiKeyStore store, VerifiedKeys a, VerifiedKeys b)
    {
        var issued = await store.IssueAsync(KeyKind.Platform, null, "cluster", DateTimeOffset.UtcNow);
        Assert.NotNull(await a.FindActiveAsync(issued.Secret, default));
        Assert.NotNull(await b.FindActiveAsync(issued.Secret, default));
        return issued;
    }

    private static async Task Eventually(Func<Task<bool>> done)
    {
        for (var i = 0; !await done(); i++)
        {
            Assert.True(i < 300, "the other node still accepts the revoked key");
            await Task.Delay(100);
        }
    }

    private static async Task<HttpStatusCode> Me(HttpClient http, string secret)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/me");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", secret);
        using var response = await http.SendAsync(request);
        return response.StatusCode;
    }
}
