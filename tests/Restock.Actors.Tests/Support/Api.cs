using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace Restock.Actors.Tests.Support;

/// <summary>JSON over HTTP against the in-memory service, failing the test with the body when the status is not the expected one.</summary>
public sealed class Api(HttpClient http)
{
    public HttpClient Http => http;

    public Task<HttpResponseMessage> Put(string path, object body) => http.PutAsJsonAsync(path, body);

    public Task<HttpResponseMessage> Post(string path, object? body = null) =>
        body is null ? http.PostAsync(path, null) : http.PostAsJsonAsync(path, body);

    public Task<JsonElement> Get(string path) => Expect(HttpStatusCode.OK, http.GetAsync(path));

    public static async Task<JsonElement> Expect(HttpStatusCode status, Task<HttpResponseMessage> call)
    {
        using var response = await call;
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(status == response.StatusCode, $"expected {(int)status}, got {(int)response.StatusCode}: {text}");
        return text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone();
    }

    /// <summary>Reads until <paramref name="done"/> holds: the ledger and refunds settle asynchronously.</summary>
    public static async Task<JsonElement> Eventually(Func<Task<JsonElement>> read, Func<JsonElement, bool> done)
    {
        for (var i = 0; ; i++)
        {
            var value = await read();
            if (done(value)) return value;
            Assert.True(i < 200, $"still {value}");
            await Task.Delay(100);
        }
    }
}
