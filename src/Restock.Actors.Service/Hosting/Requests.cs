using System.Buffers;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;
using Restock.Actors.Domain;
using Restock.Actors.Domain.Inventory;

namespace Restock.Actors.Service.Hosting;

/// <summary>
/// Reads and checks request input. Every problem names the field it is about, and nothing reaches the engine
/// until the whole request is valid.
/// </summary>
internal sealed class Requests
{
    private Dictionary<string, string[]>? _errors;

    /// <summary>The largest JSON body a route reads unless it says otherwise; larger ones are refused with 413.</summary>
    public const int MaxBodyBytes = 64 * 1024;

    /// <summary>
    /// The service's JSON settings, made strict: numbers must be JSON numbers (never "7"), and a property given
    /// twice is refused instead of the last one silently winning.
    /// </summary>
    private static JsonSerializerOptions? _strict;

    /// <summary>
    /// Reads a JSON object body: <c>Content-Type: application/json</c> (415 otherwise, and for any charset but
    /// UTF-8), at most <paramref name="maxBytes"/> bytes (413, checked on Content-Length before reading and while
    /// reading), strict JSON (400 naming the field). A value task: a body already read (the usual case) costs no task.
    /// </summary>
    public static async ValueTask<(T? Body, IResult? Problem)> ReadJson<T>(HttpRequest request, int maxBytes = MaxBodyBytes) where T : class
    {
        if (UnsupportedContentType(request.ContentType) is { } unsupported)
            return (null, Results.Problem(title: "Unsupported body type; nothing was changed.", detail: unsupported,
                statusCode: StatusCodes.Status415UnsupportedMediaType));
        if (request.ContentLength > maxBytes)
            return (null, TooLarge(maxBytes));
        // The body stays in the server's pooled buffers until it is parsed: no copy, no buffer of our own per request.
        var reader = request.BodyReader;
        while (true)
        {
            // Kestrel ends the read itself when the connection goes (no RequestAborted token source needed).
            var read = await reader.ReadAsync();
            var body = read.Buffer;
            if (body.Length > maxBytes)
            {
                reader.AdvanceTo(body.Start, body.End);
                return (null, TooLarge(maxBytes));
            }
            if (!read.IsCompleted)
            {
                reader.AdvanceTo(body.Start, body.End);
                continue;
            }
            try
            {
                return Parse<T>(body, Strict(request));
            }
            finally
            {
                reader.AdvanceTo(body.End);
            }
        }
    }

    private static (T? Body, IResult? Problem) Parse<T>(ReadOnlySequence<byte> json, JsonSerializerOptions options) where T : class
    {
        try
        {
            // One value and nothing after it but white space, as JsonSerializer.Deserialize(bytes) requires.
            var body = json.IsSingleSegment
                ? JsonSerializer.Deserialize<T>(json.FirstSpan, options)
                : JsonSerializer.Deserialize<T>(json.ToArray(), options);
            return body is null ? (null, Invalid("body", "the body must be a JSON object")) : (body, null);
        }
        catch (JsonException e)
        {
            var field = string.IsNullOrEmpty(e.Path) || e.Path == "$" ? "body" : e.Path.TrimStart('$', '.');
            return (null, Invalid(field, "malformed JSON at or after this field, or a value of the wrong type (numbers are JSON numbers, not strings)"));
        }
        catch (InvalidOperationException)
        {
            // System.Text.Json reports text that is not valid UTF-8 inside a string this way.
            return (null, Invalid("body", "the body is not valid UTF-8 JSON"));
        }
    }

    /// <summary>Why the Content-Type is refused, or null for JSON in UTF-8.</summary>
    private static string? UnsupportedContentType(string? contentType)
    {
        const string expected = "send a JSON body with Content-Type: application/json (UTF-8; charset=utf-8 may be given)";
        // What clients send nearly always, accepted without parsing the header into objects.
        if (string.Equals(contentType, "application/json", StringComparison.OrdinalIgnoreCase)
            || string.Equals(contentType, "application/json; charset=utf-8", StringComparison.OrdinalIgnoreCase))
            return null;
        if (string.IsNullOrWhiteSpace(contentType) || !MediaTypeHeaderValue.TryParse(contentType, out var type))
            return expected;
        if (!type.MediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase))
            return expected;
        foreach (var parameter in type.Parameters)
        {
            if (!parameter.Name.Equals("charset", StringComparison.OrdinalIgnoreCase))
                return $"unknown Content-Type parameter '{parameter.Name}': {expected}";
            if (!(parameter.Value.Equals("utf-8", StringComparison.OrdinalIgnoreCase) || parameter.Value.Equals("utf8", StringComparison.OrdinalIgnoreCase)))
                return $"charset '{parameter.Value}' is not supported: {expected}";
        }
        return null;
    }

    private static IResult TooLarge(int maxBytes) =>
        Results.Problem(title: "The body is too large; nothing was changed.", detail: $"send at most {maxBytes:N0} bytes",
            statusCode: StatusCodes.Status413PayloadTooLarge);

    private static JsonSerializerOptions Strict(HttpRequest request) =>
        _strict ??= new JsonSerializerOptions(request.HttpContext.RequestServices.GetRequiredService<IOptions<JsonOptions>>().Value.SerializerOptions)
        {
            NumberHandling = JsonNumberHandling.Strict,
            AllowDuplicateProperties = false,
        };

    public static IResult Invalid(string field, string message) =>
        Results.ValidationProblem(new Dictionary<string, string[]> { [field] = [message] },
            title: "The request is invalid; nothing was changed.");

    public string Id(string field, string? value)
    {
        if (string.IsNullOrEmpty(value))
            Add(field, "is required");
        else if (!Ids.IsValid(value))
            Add(field, $"must be {Ids.Rule}");
        return value ?? "";
    }

    public long Quantity(string field, long? value, long min = 1)
    {
        if (value is null)
            Add(field, "is required");
        else if (value < min || value > SkuStock.MaxQuantity)
            Add(field, $"must be between {min} and {SkuStock.MaxQuantity}");
        return value ?? 0;
    }

    public long Delta(string field, long? value)
    {
        if (value is null)
            Add(field, "is required");
        else if (value is 0 or < -SkuStock.MaxQuantity or > SkuStock.MaxQuantity)
            Add(field, $"must be non-zero and at most {SkuStock.MaxQuantity} either way");
        return value ?? 0;
    }

    public bool Required(string field, bool? value)
    {
        if (value is null) Add(field, "is required (true or false)");
        return value ?? false;
    }

    /// <summary>Who asks, for the history and the ledger: free text such as "merchant:alice@shop.example".</summary>
    public string Actor(string field, string? value)
    {
        if (string.IsNullOrWhiteSpace(value)) Add(field, "is required: who makes this change");
        else if (value.Length > 200) Add(field, "must be at most 200 characters");
        return value ?? "";
    }

    public DateTimeOffset? Time(string field, string? value)
    {
        if (string.IsNullOrEmpty(value)) return null;
        if (DateTimeOffset.TryParse(value, System.Globalization.CultureInfo.InvariantCulture,
                System.Globalization.DateTimeStyles.AssumeUniversal, out var time)) return time;
        Add(field, "must be a date and time such as 2026-11-26T09:00:00Z");
        return null;
    }

    public long? Number(string field, string? value, long min, long max)
    {
        if (string.IsNullOrEmpty(value)) return null;
        if (long.TryParse(value, out var n) && n >= min && n <= max) return n;
        Add(field, $"must be a whole number from {min} to {max}");
        return null;
    }

    public string Text(string field, string? value, string fallback, int maxLength = 200)
    {
        if (value is { Length: > 0 } && value.Length > maxLength)
            Add(field, $"must be at most {maxLength} characters");
        return string.IsNullOrWhiteSpace(value) ? fallback : value;
    }

    public void Add(string field, string message)
    {
        _errors ??= new Dictionary<string, string[]>();
        _errors[field] = _errors.TryGetValue(field, out var known) ? [.. known, message] : [message];
    }

    public IResult? Problem => _errors is null ? null
        : Results.ValidationProblem(_errors, title: "The request is invalid; nothing was changed.");
}
