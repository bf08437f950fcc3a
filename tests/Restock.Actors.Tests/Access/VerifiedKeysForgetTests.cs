using Restock.Actors.Engine.Access;
using Restock.Actors.Tests.Support;

namespace Restock.Actors.Tests.Access;

/// <summary>
/// A keep-alive connection keeps the caller it resolved while <see cref="VerifiedKeys.StillTrusted"/> says so: a key
/// found by a request that runs while the key is being forgotten must not be trusted once <see cref="VerifiedKeys.Forget"/>
/// has returned, or the revoked key keeps working on that connection until the memory's time-to-live ends.
/// </summary>
public sealed class VerifiedKeysForgetTests
{
    [Fact]
    public async Task A_key_found_while_it_is_being_forgotten_is_not_trusted_after_the_forget()
    {
        using var db = new TestDatabase();
        var store = ApiKeyStore.From(db.Config());
        await store.EnsureSchemaAsync();
        var keys = new VerifiedKeys(store, TimeSpan.FromMinutes(10), new TestClock(DateTimeOffset.UtcNow));
        // Many remembered keys: forgetting one walks them all, which leaves a request room to run in the middle of it.
        for (var i = 0; i < 1000; i++)
            Assert.NotNull(await keys.FindActiveAsync((await store.IssueAsync(KeyKind.Platform, null, "filler", DateTimeOffset.UtcNow)).Secret, default));

        for (var round = 0; round < 20; round++)
        {
            var doomed = await store.IssueAsync(KeyKind.Platform, null, "doomed", DateTimeOffset.UtcNow);
            Assert.NotNull(await keys.FindActiveAsync(doomed.Secret, default));
            var before = keys.Forgets;
            // A request as the middleware runs it: the count of forgets first, then the look-up; it starts as soon as
            // the forget has begun.
            var request = Task.Factory.StartNew(() =>
            {
                while (keys.Forgets == before) Thread.SpinWait(1);
                var forgets = keys.Forgets;
                var found = keys.FindTrustedAsync(doomed.Secret, default).AsTask().GetAwaiter().GetResult();
                return (Forgets: forgets, Found: found);
            }, TaskCreationOptions.LongRunning);

            await store.RevokeAsync(doomed.Key.KeyId, DateTimeOffset.UtcNow);
            keys.Forget(doomed.Key.KeyId);
            var (forgets, found) = await request;

            Assert.False(found.Key is not null && keys.StillTrusted(forgets, found.Until),
                $"round {round}: the forgotten key is still trusted for a connection that found it during the forget");
        }
    }
}
