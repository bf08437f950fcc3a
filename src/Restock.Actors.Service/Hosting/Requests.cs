using System.Text.Json;
using Restock.Actors.Domain.Inventory;

namespace Restock.Actors.Service.Hosting;

/// <summary>
/// Reads and checks request input. Every problem names the field it is about, and nothing reaches the engine
/// until the whole request is valid.
/// </summary>
internal sealed class Requests
{
    private readonly Dictionary<string, string[]> _errors = new();

    public static async Task<(T? Body, IResult? Problem)> ReadJson<T>(HttpRequest request) where T : class
    {
        if (!request.HasJsonContentType())
            return (null, Invalid("body", "send a JSON body with Content-Type: application/json"));
        try
        {
            var body = await request.ReadFromJsonAsync<T>(request.HttpContext.RequestAborted);
            return body is null ? (null, Invalid("body", "the body must be a JSON object")) : (body, null);
        }
        catch (JsonException e)
        {
            var field = string.IsNullOrEmpty(e.Path) || e.Path == "$" ? "body" : e.Path.TrimStart('$', '.');
            return (null, Invalid(field, "malformed JSON at or after this field, or a value of the wrong type"));
        }
    }

    public static IResult Invalid(string field, string message) =>
        Results.ValidationProblem(new Dictionary<string, string[]> { [field] = [message] },
            title: "The request is invalid; nothing was changed.");

    public string Id(string field, string? value)
    {
        if (string.IsNullOrWhiteSpace(value))
            Add(field, "is required");
        else if (value.Length > 128 || !value.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or ':'))
            Add(field, "must be 1 to 128 characters of letters, digits, '-', '_', '.' or ':'");
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
        else if (value == 0 || Math.Abs(value.Value) > SkuStock.MaxQuantity)
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

    public void Add(string field, string message) =>
        _errors[field] = _errors.TryGetValue(field, out var known) ? [.. known, message] : [message];

    public IResult? Problem => _errors.Count == 0 ? null
        : Results.ValidationProblem(_errors, title: "The request is invalid; nothing was changed.");
}
