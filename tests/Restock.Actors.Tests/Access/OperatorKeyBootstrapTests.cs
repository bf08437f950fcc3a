using Restock.Actors.Engine.Access;
using Restock.Actors.Service.Access;
using Restock.Actors.Tests.Support;

namespace Restock.Actors.Tests.Access;

public sealed class OperatorKeyBootstrapTests : IDisposable
{
    private readonly TestDatabase _db = new();
    private readonly ApiKeyStore _keys;

    public OperatorKeyBootstrapTests()
    {
        Directory.CreateDirectory(Path.GetDirectoryName(_db.Path)!);
        _keys = ApiKeyStore.From(_db.Config());
    }

    [Fact]
    public async Task The_first_start_without_an_operator_key_creates_one_prints_it_once_and_stores_only_its_hash()
    {
        var first = new StringWriter();
        await new OperatorKeyBootstrap(_keys, new OperatorKey(null), "http://127.0.0.1:5080", first).StartAsync(default);
        var secret = first.ToString().Split(['\n', ' '], StringSplitOptions.RemoveEmptyEntries).First(w => w.StartsWith(ApiKeyStore.SecretPrefix));
        Assert.Contains("\"kind\":\"shop\"", first.ToString());
        Assert.Contains("\"kind\":\"platform\"", first.ToString());
        Assert.Equal(KeyKind.Operator, (await _keys.FindActiveAsync(secret))?.Kind);
        Assert.Equal(0, _db.Count($"SELECT COUNT(*) FROM api_keys WHERE secret_sha256 LIKE '%{secret[ApiKeyStore.SecretPrefix.Length..]}%'"));
        Assert.Equal(1, _db.Count($"SELECT COUNT(*) FROM api_keys WHERE secret_sha256 = '{ApiKeyStore.Hash(secret)}'"));

        var second = new StringWriter();
        await new OperatorKeyBootstrap(_keys, new OperatorKey(null), "http://127.0.0.1:5080", second).StartAsync(default);
        Assert.Equal("", second.ToString());
        Assert.Equal(1, _db.Count("SELECT COUNT(*) FROM api_keys"));
    }

    [Fact]
    public async Task An_operator_key_in_the_configuration_means_none_is_created()
    {
        var output = new StringWriter();
        await new OperatorKeyBootstrap(_keys, new OperatorKey("restock_from-the-environment"), "http://127.0.0.1:5080", output).StartAsync(default);
        Assert.Equal("", output.ToString());
        Assert.Equal(0, _db.Count("SELECT COUNT(*) FROM api_keys"));
    }

    public void Dispose() => _db.Dispose();
}
