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

    public static bool IsValid([NotNullWhen(true)] string? id) =>
        id is { Length: > 0 and <= MaxLength } && id.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or ':');
}
