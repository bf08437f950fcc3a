using System.Buffers;
using System.Diagnostics.CodeAnalysis;

namespace Restock.Actors.Domain;

/// <summary>
/// The one rule for every id (SKU, shop, order, refund, adjustment): the HTTP layer checks input with it and the
/// domain refuses commands that break it, so an id that got in one way is valid every way (URLs, SQL rows, logs).
/// </summary>
public static class Ids
{
    public const int MaxLength = 128;

    public const string Rule = "1 to 128 characters of ASCII letters, digits, '-', '_', '.' or ':'";

    private static readonly SearchValues<char> Allowed =
        SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.:");

    // A span search, not LINQ over the string: checked several times per request on the hot path.
    public static bool IsValid([NotNullWhen(true)] string? id) =>
        id is { Length: > 0 and <= MaxLength } && !id.AsSpan().ContainsAnyExcept(Allowed);
}
