using System.Net.Http.Json;
using System.Text.Json;

namespace Restock.Actors.Service.Shops;

/// <summary>
/// <c>import-whitelist FILE [--url URL] [--actor NAME] [--key OPERATOR_KEY]</c>: sends the old whitelist (one shop id
/// per line, '#' comments) to a running service, with the operator key (<c>--key</c>, else <c>RESTOCK_OPERATOR_KEY</c>). It goes through the service, never to the journal directly, so the shops'
/// actors stay the only writers of their settings.
/// </summary>
internal static class WhitelistImportCli
{
    public const string Verb = "import-whitelist";

    public static async Task<int> RunAsync(string[] args, string defaultUrl, string configuredKey)
    {
        var key = Option(args, "--key") ?? configuredKey;
        if (args.Length == 0 || args[0].StartsWith("--") || key.Length == 0)
        {
            Console.Error.WriteLine($"usage: {Verb} FILE [--url {defaultUrl}] [--actor operator:NAME] [--key OPERATOR_KEY]\n" +
                                    "the operator key comes from --key or RESTOCK_OPERATOR_KEY");
            return 2;
        }
        var file = args[0];
        var url = Option(args, "--url") ?? defaultUrl;
        var actor = Option(args, "--actor") ?? $"operator:{Environment.UserName}";
        if (!File.Exists(file))
        {
            Console.Error.WriteLine($"no such file: {file}");
            return 2;
        }
        var shopIds = File.ReadLines(file).Select(l => l.Split('#')[0].Trim()).Where(l => l.Length > 0).ToArray();

        using var http = new HttpClient { BaseAddress = new Uri(url), Timeout = TimeSpan.FromMinutes(5) };
        http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", key);
        using var response = await http.PostAsJsonAsync("/operators/whitelist-import", new { shopIds, actor });
        var text = await response.Content.ReadAsStringAsync();
        if (!response.IsSuccessStatusCode)
        {
            Console.Error.WriteLine($"import refused ({(int)response.StatusCode}); nothing was changed:\n{text}");
            return 1;
        }
        var result = JsonSerializer.Deserialize<WhitelistImportResponse>(text, JsonSerializerOptions.Web)!;
        Console.WriteLine($"{result.Shops.Count} shops: {result.TurnedOn} turned on, {result.Unchanged} unchanged");
        foreach (var shop in result.Shops.Where(s => s.Outcome != "turnedOn"))
            Console.WriteLine($"  {shop.ShopId}: {shop.Note}");
        return 0;
    }

    private static string? Option(string[] args, string name)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }
}
