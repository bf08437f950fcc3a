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

    /// <summary>
    /// How many keys have been forgotten so far. Whoever keeps a key found here (e.g. per connection) reads this before
    /// finding it and trusts the key only while <see cref="StillTrusted"/> says so.
    /// </summary>
    public long Forgets => Volatile.Read(ref _forgets);

    /// <summary>Whether a key found while <see cref="Forgets"/> was <paramref name="forgets"/> and trusted until <paramref name="until"/> still is.</summary>
    public bool StillTrusted(long forgets, long until) => Volatile.Read(ref _forgets) == forgets && _clock.GetUtcNow().UtcTicks < until;

    /// <summary>The active key whose secret this is, from memory when it was confirmed less than <see cref="Ttl"/> ago.</summary>
    public ValueTask<ApiKey?> FindActiveAsync(ReadOnlySpan<char> secret, CancellationToken cancellationToken)
    {
        var trusted = FindTrustedAsync(secret, cancellationToken);
        return trusted.IsCompletedSuccessfully ? ValueTask.FromResult(trusted.Result.Key) : KeyOf(trusted);

        static async ValueTask<ApiKey?> KeyOf(ValueTask<TrustedKey> trusted) => (await trusted).Key;
    }

    /// <summary>As <see cref="FindActiveAsync"/>, with the time (UTC ticks) until which this node trusts the key without reading the store.</summary>
    public ValueTask<TrustedKey> FindTrustedAsync(ReadOnlySpan<char> secret, CancellationToken cancellationToken)
    {
        if (!secret.StartsWith(ApiKeyStore.SecretPrefix, StringComparison.Ordinal) || secret.Length > MaxSecretLength)
            return ValueTask.FromResult(default(TrustedKey));
        // The hash is the memory's key, as in the store: no secret is kept in this process beyond its request.
        Span<byte> utf8 = stackalloc byte[MaxSecretLength * 3];
        Span<byte> digest = stackalloc byte[SHA256.HashSizeInBytes];
        Span<char> hex = stackalloc char[SHA256.HashSizeInBytes * 2];
        SHA256.HashData(utf8[..Encoding.UTF8.GetBytes(secret, utf8)], digest);
        Convert.TryToHexStringLower(digest, hex, out _);
        var now = _clock.GetUtcNow().UtcTicks;
        if (_byHashSpan.TryGetValue(hex, out var known) && known.Until > now)
            return ValueTask.FromResult(new TrustedKey(known.Key, known.Until));
        return ReadAsync(new string(hex), now, cancellationToken);
    }

    /// <summary>Stops trusting a key at once (it was revoked); reads already under way do not bring it back.</summary>
    public void Forget(string keyId)
    {
        lock (_gate)
        {
            foreach (var (hash, remembered) in _byHash)
                if (remembered.Key.KeyId == keyId)
                    _byHash.TryRemove(hash, out _);
            // Counted once the key is gone: a request that reads the new count (unlocked, see Forgets) cannot find it
            // remembered any more, so what a connection keeps from it is never the forgotten key.
            Volatile.Write(ref _forgets, _forgets + 1);
        }
    }

    private async ValueTask<TrustedKey> ReadAsync(string hash, long now, CancellationToken cancellationToken)
    {
        long forgetsBefore;
        lock (_gate) forgetsBefore = _forgets;
        var key = await _store.FindActiveByHashAsync(hash, cancellationToken);
        if (key is null) return default;
        lock (_gate)
        {
            // A key forgotten while this read was under way may have been revoked after the read saw it active:
            // it answers this request (which started before the revocation) but is neither remembered nor trusted after it.
            if (_forgets != forgetsBefore) return new TrustedKey(key, now);
            if (_byHash.Count >= Capacity) _byHash.Clear();
            _byHash[hash] = new Remembered(key, now + _ttlTicks);
        }
        return new TrustedKey(key, now + _ttlTicks);
    }

    private sealed record Remembered(ApiKey Key, long Until);
}

/// <summary>An active key (none: unknown or revoked) and the time, in UTC ticks, until which it is trusted without reading the store.</summary>
public readonly record struct TrustedKey(ApiKey? Key, long Until);
