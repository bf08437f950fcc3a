using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using Akka.Configuration;

namespace Restock.Actors.Engine.Access;

/// <summary>
/// This node's memory of keys the key store confirmed as active, so a request does not read the database. A
/// remembered key is trusted for at most <see cref="Ttl"/> after its read: a revocation written straight into the
/// database (the <c>revoke-key</c> verb, or another node whose notice did not arrive) holds here within that time.
/// <see cref="Forget"/> drops a key at once (the revoking node, and every node told through <see cref="KeyRevocations"/>).
/// Unknown and revoked secrets are never remembered: each such request reads the store, as before.
/// </summary>
public sealed class VerifiedKeys
{
    /// <summary>More remembered keys than this (e.g. many short-lived keys) and the memory starts over.</summary>
    public const int Capacity = 10_000;

    private const int MaxSecretLength = 200;

    private readonly ApiKeyStore _store;
    private readonly TimeProvider _clock;
    private readonly long _ttlTicks;
    private readonly ConcurrentDictionary<string, Remembered> _byHash = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Remembered>.AlternateLookup<ReadOnlySpan<char>> _byHashSpan;
    private readonly Lock _gate = new();
    private long _forgets;

    public VerifiedKeys(ApiKeyStore store, TimeSpan ttl, TimeProvider clock)
    {
        _store = store;
        _clock = clock;
        Ttl = ttl;
        _ttlTicks = ttl.Ticks;
        _byHashSpan = _byHash.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    public static VerifiedKeys From(Config config, ApiKeyStore store, TimeProvider clock) =>
        new(store, config.GetTimeSpan("restock.access.key-cache-ttl"), clock);

    /// <summary>How long a remembered key is trusted without reading the store again.</summary>
    public TimeSpan Ttl { get; }

    /// <summary>The active key whose secret this is, from memory when it was confirmed less than <see cref="Ttl"/> ago.</summary>
    public ValueTask<ApiKey?> FindActiveAsync(ReadOnlySpan<char> secret, CancellationToken cancellationToken)
    {
        if (!secret.StartsWith(ApiKeyStore.SecretPrefix, StringComparison.Ordinal) || secret.Length > MaxSecretLength)
            return ValueTask.FromResult<ApiKey?>(null);
        // The hash is the memory's key, as in the store: no secret is kept in this process beyond its request.
        Span<byte> utf8 = stackalloc byte[MaxSecretLength * 3];
        Span<byte> digest = stackalloc byte[SHA256.HashSizeInBytes];
        Span<char> hex = stackalloc char[SHA256.HashSizeInBytes * 2];
        SHA256.HashData(utf8[..Encoding.UTF8.GetBytes(secret, utf8)], digest);
        Convert.TryToHexStringLower(digest, hex, out _);
        var now = _clock.GetUtcNow().UtcTicks;
        if (_byHashSpan.TryGetValue(hex, out var known) && known.Until > now)
            return ValueTask.FromResult<ApiKey?>(known.Key);
        return ReadAsync(new string(hex), now, cancellationToken);
    }

    /// <summary>Stops trusting a key at once (it was revoked); reads already under way do not bring it back.</summary>
    public void Forget(string keyId)
    {
        lock (_gate)
        {
            _forgets++;
            foreach (var (hash, remembered) in _byHash)
                if (remembered.Key.KeyId == keyId)
                    _byHash.TryRemove(hash, out _);
        }
    }

    private async ValueTask<ApiKey?> ReadAsync(string hash, long now, CancellationToken cancellationToken)
    {
        long forgetsBefore;
        lock (_gate) forgetsBefore = _forgets;
        var key = await _store.FindActiveByHashAsync(hash, cancellationToken);
        if (key is null) return null;
        lock (_gate)
        {
            // A key forgotten while this read was under way may have been revoked after the read saw it active:
            // it answers this request (which started before the revocation) but is not remembered.
            if (_forgets == forgetsBefore)
            {
                if (_byHash.Count >= Capacity) _byHash.Clear();
                _byHash[hash] = new Remembered(key, now + _ttlTicks);
            }
        }
        return key;
    }

    private sealed record Remembered(ApiKey Key, long Until);
}
