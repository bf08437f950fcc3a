using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Restock.Actors.Domain.Inventory;

/// <summary>
/// How a SKU hashes an id (order, adjustment or refund id) for its indexes, the open lines' and the remembered ids': the
/// randomised string hash (Marvin, keyed per process, as <see cref="Dictionary{TKey,TValue}"/> uses it), so ids chosen by
/// callers cannot be made to collide, computed over the id's UTF-8 bytes read two at a time as the hash's input. Both
/// indexes keep ids as UTF-8 bytes and encode a string looked up anyway; a snapshot's ids are hashed as they lie (widening
/// each to UTF-16 first was a third of the remembered ids' hashing), and an ASCII id gives the hash half the input. Ids
/// reach an index only once <see cref="Ids.IsValid"/> holds (ASCII), so no two of them encode to the same bytes.
/// </summary>
internal static class IdHash
{
    // Inlined into the recovery's loop over every id, which is optimised at once: a call would run tier-0 code until the
    // JIT's busy background thread got to it.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Of(ReadOnlySpan<byte> utf8)
    {
        var hash = string.GetHashCode(MemoryMarshal.Cast<byte, char>(utf8));
        // An odd length's last byte, mixed in by an odd multiplier (a bijection): ids differing only there stay apart.
        return (utf8.Length & 1) != 0 ? (hash ^ utf8[^1]) * -1640531535 + 1 : hash;
    }
}
