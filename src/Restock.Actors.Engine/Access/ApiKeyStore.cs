using System.Data.Common;
using System.Security.Cryptography;
using System.Text;
using Akka.Configuration;
using Microsoft.Data.Sqlite;
using Npgsql;
using Restock.Actors.Engine.Hosting;

namespace Restock.Actors.Engine.Access;

public enum KeyKind
{
    /// <summary>A merchant's key: its own shop's stock, settings, ledger and restocks.</summary>
    Shop = 1,

    /// <summary>The trading system's key: reserve, cancel, pay, ship and refund for any shop; never settings or keys.</summary>
    Platform = 2,

    /// <summary>The administrator's key: every route, including keys and the whitelist import.</summary>
    Operator = 3,
}

/// <summary>What is known of a key: never its secret, which exists only in the answer that created it.</summary>
public sealed record ApiKey(string KeyId, KeyKind Kind, string? ShopId, string Label, DateTimeOffset CreatedAt, DateTimeOffset? RevokedAt);

/// <summary>A key just issued, with the secret its holder sends as <c>Authorization: Bearer</c>.</summary>
public sealed record IssuedKey(ApiKey Key, string Secret);

/// <summary>
/// API keys in the journal's database (table <c>api_keys</c>). Only the SHA-256 of each secret is stored: a secret
/// is 32 random bytes, so a plain hash cannot be reversed by guessing. Every lookup reads the table; requests look
/// keys up through <see cref="VerifiedKeys"/>, which remembers active ones for a few seconds.
/// </summary>
public sealed class ApiKeyStore
{
    /// <summary>Every secret starts with this, so a leaked one is recognisable (e.g. by secret scanners).</summary>
    public const string SecretPrefix = "restock_";

    private readonly string _connectionString;
    private readonly bool _sqlite;

    public ApiKeyStore(string connectionString, bool sqlite)
    {
        _connectionString = connectionString;
        _sqlite = sqlite;
    }

    public static ApiKeyStore From(Config config) =>
        new(config.GetString(RestockConfig.JournalConnectionString), JournalStore.IsSqlite(config));

    public async Task EnsureSchemaAsync(CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenAsync(cancellationToken);
        // Nodes starting together on an empty PostgreSQL database raced in CREATE TABLE IF NOT EXISTS (a duplicate key
        // in pg_type): the statements of one command run in one transaction, which holds the schema lock to the end.
        var schemaLock = _sqlite ? "" : $"SELECT pg_advisory_xact_lock({JournalStore.SchemaLock});";
        await Execute(connection, schemaLock + """
            CREATE TABLE IF NOT EXISTS api_keys (
                key_id VARCHAR(64) PRIMARY KEY, secret_sha256 VARCHAR(64) NOT NULL UNIQUE, kind VARCHAR(16) NOT NULL,
                shop_id VARCHAR(128) NULL, label VARCHAR(200) NOT NULL, created_at_ms BIGINT NOT NULL, revoked_at_ms BIGINT NULL);
            """, cancellationToken);
    }

    public async Task<IssuedKey> IssueAsync(KeyKind kind, string? shopId, string label, DateTimeOffset now, CancellationToken cancellationToken = default)
    {
        if ((kind == KeyKind.Shop) != (shopId is not null))
            throw new ArgumentException("a shop key names its shop; other keys name none", nameof(shopId));
        var secret = SecretPrefix + Base64Url(RandomNumberGenerator.GetBytes(32));
        var key = new ApiKey("key-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8)), kind, shopId, label,
            DateTimeOffset.FromUnixTimeMilliseconds(now.ToUnixTimeMilliseconds()), null);
        await using var connection = await OpenAsync(cancellationToken);
        await Execute(connection, """
            INSERT INTO api_keys (key_id, secret_sha256, kind, shop_id, label, created_at_ms)
            VALUES (@id, @hash, @kind, @shop, @label, @at)
            """, cancellationToken, ("id", key.KeyId), ("hash", Hash(secret)), ("kind", kind.ToString()), ("shop", (object?)shopId ?? DBNull.Value),
            ("label", label), ("at", now.ToUnixTimeMilliseconds()));
        return new IssuedKey(key, secret);
    }

    /// <summary>The key whose secret this is, if it exists and is not revoked.</summary>
    public Task<ApiKey?> FindActiveAsync(string secret, CancellationToken cancellationToken = default) =>
        !secret.StartsWith(SecretPrefix, StringComparison.Ordinal) || secret.Length > 200
            ? Task.FromResult<ApiKey?>(null)
            : FindActiveByHashAsync(Hash(secret), cancellationToken);

    /// <summary>The active key whose secret has this <see cref="Hash"/>, if any.</summary>
    public async Task<ApiKey?> FindActiveByHashAsync(string secretHash, CancellationToken cancellationToken = default)
    {
        var keys = await Read("WHERE secret_sha256 = @hash AND revoked_at_ms IS NULL", cancellationToken, ("hash", secretHash));
        return keys.SingleOrDefault();
    }

    public Task<IReadOnlyList<ApiKey>> ListAsync(CancellationToken cancellationToken = default) =>
        Read("ORDER BY created_at_ms, key_id", cancellationToken);

    public async Task<bool> AnyActiveAsync(KeyKind kind, CancellationToken cancellationToken = default) =>
        (await Read("WHERE kind = @kind AND revoked_at_ms IS NULL", cancellationToken, ("kind", kind.ToString()))).Count > 0;

    /// <summary>Revokes a key; false when there is no such key. Revoking a revoked key keeps its first revocation time.</summary>
    public async Task<bool> RevokeAsync(string keyId, DateTimeOffset now, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await Execute(connection, "UPDATE api_keys SET revoked_at_ms = @at WHERE key_id = @id AND revoked_at_ms IS NULL",
            cancellationToken, ("id", keyId), ("at", now.ToUnixTimeMilliseconds()));
        return (await Read("WHERE key_id = @id", cancellationToken, ("id", keyId))).Count == 1;
    }

    public static string Hash(string secret) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(secret)));

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private async Task<IReadOnlyList<ApiKey>> Read(string clause, CancellationToken cancellationToken, params (string Name, object Value)[] args)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = Command(connection,
            $"SELECT key_id, kind, shop_id, label, created_at_ms, revoked_at_ms FROM api_keys {clause}", args);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var keys = new List<ApiKey>();
        while (await reader.ReadAsync(cancellationToken))
            keys.Add(new ApiKey(reader.GetString(0), Enum.Parse<KeyKind>(reader.GetString(1)), reader.IsDBNull(2) ? null : reader.GetString(2),
                reader.GetString(3), DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(4)),
                reader.IsDBNull(5) ? null : DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(5))));
        return keys;
    }

    private async Task<DbConnection> OpenAsync(CancellationToken cancellationToken)
    {
        DbConnection connection = _sqlite ? new SqliteConnection(_connectionString) : new NpgsqlConnection(_connectionString);
        await connection.OpenAsync(cancellationToken);
        // As the ledger does: wait for the journal's writer inside SQLite rather than fail or sleep in long steps.
        if (_sqlite) await Execute(connection, "PRAGMA busy_timeout = 10000;", cancellationToken);
        return connection;
    }

    private static async Task Execute(DbConnection connection, string sql, CancellationToken cancellationToken, params (string Name, object Value)[] args)
    {
        await using var command = Command(connection, sql, args);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private static DbCommand Command(DbConnection connection, string sql, params (string Name, object Value)[] args)
    {
        var command = connection.CreateCommand();
        command.CommandText = sql;
        foreach (var (name, value) in args)
        {
            var p = command.CreateParameter();
            p.ParameterName = "@" + name;
            p.Value = value;
            command.Parameters.Add(p);
        }
        return command;
    }
}
