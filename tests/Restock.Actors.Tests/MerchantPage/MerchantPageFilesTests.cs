using System.Net;
using System.Text.RegularExpressions;
using Restock.Actors.Tests.Support;

namespace Restock.Actors.Tests.MerchantPage;

/// <summary>The merchant page's files: served at the root without a key, self-contained, every label in both languages.</summary>
public sealed partial class MerchantPageFilesTests(ServiceFactory factory) : IClassFixture<ServiceFactory>
{
    private readonly HttpClient _http = WithoutKey(factory.CreateClient());

    [Theory]
    [InlineData("/", "text/html")]
    [InlineData("/app.js", "text/javascript")]
    [InlineData("/i18n.js", "text/javascript")]
    [InlineData("/app.css", "text/css")]
    public async Task The_page_and_its_assets_are_served_without_a_key(string path, string mediaType)
    {
        using var response = await _http.GetAsync(path);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(mediaType, response.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task The_page_loads_nothing_from_another_host_so_it_works_offline()
    {
        foreach (var path in new[] { "/", "/app.js", "/i18n.js", "/app.css" })
        {
            var text = await _http.GetStringAsync(path);
            Assert.DoesNotMatch(ExternalUrl(), text);
        }
    }

    [Fact]
    public async Task Every_label_of_the_page_exists_in_english_and_in_chinese()
    {
        var html = await _http.GetStringAsync("/");
        var text = await _http.GetStringAsync("/i18n.js");
        var english = Keys(text, "en");
        var chinese = Keys(text, "zh");

        Assert.Empty(english.Except(chinese));
        Assert.Empty(chinese.Except(english));
        var onPage = LabelKey().Matches(html).Select(m => m.Groups[1].Value).ToHashSet();
        Assert.NotEmpty(onPage);
        Assert.Empty(onPage.Except(english));
    }

    private static HttpClient WithoutKey(HttpClient http)
    {
        http.DefaultRequestHeaders.Authorization = null;
        return http;
    }

    /// <summary>The keys of one language's block in i18n.js: <c>lang: { key: "…", "a.b": "…", … }</c>.</summary>
    private static HashSet<string> Keys(string script, string language)
    {
        var block = Regex.Match(script, $@"\n  {language}: \{{(.*?)\n  \}},", RegexOptions.Singleline);
        Assert.True(block.Success, $"no block for {language} in i18n.js");
        return EntryKey().Matches(block.Groups[1].Value).Select(m => m.Groups[1].Value).ToHashSet();
    }

    [GeneratedRegex("(?:src|href)=\"(?:https?:)?//|url\\((?:https?:)?//|fetch\\(\"https?:|@import", RegexOptions.IgnoreCase)]
    private static partial Regex ExternalUrl();

    [GeneratedRegex("data-i18n=\"([^\"]+)\"")]
    private static partial Regex LabelKey();

    [GeneratedRegex("\\n    \"?([A-Za-z0-9.]+)\"?: ")]
    private static partial Regex EntryKey();
}
