using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Restock.Actors.Service.Access;
using Restock.Actors.Tests.Support;

namespace Restock.Actors.Tests.Access;

public sealed class ApiDescriptionTests(ServiceFactory factory) : IClassFixture<ServiceFactory>
{
    [Fact]
    public async Task The_openapi_document_parses_and_describes_every_route_the_service_maps_with_its_key()
    {
        using var anonymous = Anonymous();
        using var response = await anonymous.GetAsync("/openapi/v1.json");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var root = document.RootElement;
        Assert.StartsWith("3.", root.GetProperty("openapi").GetString());
        Assert.Equal("http", root.GetProperty("components").GetProperty("securitySchemes").GetProperty(ApiDescription.SchemeName).GetProperty("type").GetString());

        var paths = root.GetProperty("paths");
        var routes = MappedRoutes(factory).Where(r => !AccessPolicy.Routes.TryGetValue(r, out var scope) || scope != Scope.Public).ToList();
        Assert.NotEmpty(routes);
        foreach (var route in routes)
        {
            var (method, path) = (route.Split(' ')[0].Replace("*", "GET").ToLowerInvariant(), route.Split(' ')[1]);
            Assert.True(paths.TryGetProperty(path, out var item), $"{path} is not in the document");
            Assert.True(item.TryGetProperty(method, out var operation), $"{route} is not in the document");
            Assert.True(operation.TryGetProperty("security", out _), $"{route} does not say it needs a key");
            var responses = operation.GetProperty("responses");
            Assert.True(responses.TryGetProperty("401", out _), $"{route} does not list 401");
            Assert.Contains(responses.EnumerateObject(), r => r.Name.StartsWith('2'));
        }
    }

    [Fact]
    public async Task The_reference_page_is_served_without_a_key_and_asks_no_outside_host()
    {
        using var anonymous = Anonymous();
        using var response = await anonymous.GetAsync("/docs");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var html = await response.Content.ReadAsStringAsync();
        Assert.Contains("openapi/v1.json", html);
        Assert.DoesNotContain("fonts.", html);
        Assert.DoesNotContain("cdn.", html);
    }

    private HttpClient Anonymous()
    {
        var client = factory.CreateClient();
        client.DefaultRequestHeaders.Authorization = null;
        return client;
    }

    /// <summary>"METHOD /pattern" of every endpoint the running service maps.</summary>
    public static IReadOnlyList<string> MappedRoutes(ServiceFactory factory)
    {
        _ = factory.Server;
        return factory.Services.GetRequiredService<EndpointDataSource>().Endpoints.SelectMany(AccessPolicy.Keys).Distinct().OrderBy(k => k).ToList();
    }
}
