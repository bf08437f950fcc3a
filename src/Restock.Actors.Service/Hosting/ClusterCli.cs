using System.Text.Json;
using Restock.Actors.Engine.Hosting;

namespace Restock.Actors.Service.Hosting;

/// <summary>
/// <c>cluster [--url URL]</c>: prints a running node's view of the cluster (members, status, shards per node), asked
/// with the operator key (<c>RESTOCK_OPERATOR_KEY</c>).
/// </summary>
internal static class ClusterCli
{
    public const string Verb = "cluster";

    public static async Task<int> RunAsync(string[] args, string defaultUrl, string operatorKey)
    {
        var i = Array.IndexOf(args, "--url");
        var url = i >= 0 && i + 1 < args.Length ? args[i + 1] : defaultUrl;
        using var http = new HttpClient { BaseAddress = new Uri(url), Timeout = TimeSpan.FromSeconds(30) };
        if (operatorKey.Length > 0)
            http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", operatorKey);
        HttpResponseMessage response;
        try
        {
            response = await http.GetAsync("/cluster");
        }
        catch (HttpRequestException e)
        {
            Console.Error.WriteLine($"no answer from {url}: {e.Message}");
            return 1;
        }
        var text = await response.Content.ReadAsStringAsync();
        if (!response.IsSuccessStatusCode)
        {
            Console.Error.WriteLine($"{url}/cluster answered {(int)response.StatusCode}:\n{text}");
            return 1;
        }
        var view = JsonSerializer.Deserialize<ClusterView>(text, JsonSerializerOptions.Web)!;
        Console.WriteLine($"seen from {view.Self}; leader {view.Leader ?? "none"}{(view.TakeoverUnderway ? "; shards may be moving" : "")}");
        var types = view.Members.SelectMany(m => m.Shards.Keys).Distinct().Order().ToList();
        Console.WriteLine(string.Join("  ", new[] { Pad("member", 34), Pad("status", 9), Pad("reachable", 9) }
            .Concat(types.Select(t => Pad(t + " shards/entities", 26)))));
        foreach (var m in view.Members)
            Console.WriteLine(string.Join("  ", new[] { Pad(m.Address, 34), Pad(m.Status, 9), Pad(m.Reachable ? "yes" : "NO", 9) }
                .Concat(types.Select(t => Pad(m.Shards.TryGetValue(t, out var c) ? $"{c.Shards}/{c.Entities}" : "-", 26)))));
        return 0;
    }

    private static string Pad(string text, int width) => text.PadRight(width);
}
