using System.Buffers;
using System.Collections.Concurrent;
using System.Runtime.Serialization;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using Akka.Actor;
using Akka.Serialization;

namespace Restock.Actors.Engine.Hosting;

/// <summary>
/// The one serializer bound to <c>IRestockMessage</c>: compact JSON with the stable manifests of
/// <see cref="Contracts"/>. Abstract members (a command inside a request) carry the same manifests as discriminators.
/// A few large types have a binary layout of their own (<see cref="Contracts.Binary"/>), some stored under a manifest of
/// their own when an older build would misread them (<see cref="Contracts.Variants"/>); manifests they were stored under
/// before are still read (<see cref="Contracts.ReadOnly"/>).
/// </summary>
public sealed class RestockSerializer : SerializerWithStringManifest
{
    // Every type's manifest, and its variant's (with when it applies) if it has one: one lookup per message written.
    private static readonly Dictionary<Type, (string Manifest, (string Manifest, Func<object, bool> When)? Variant)> ManifestByType = Manifests();
    private static readonly Dictionary<string, Type> TypeByManifest =
        Contracts.All.Concat(Contracts.ReadOnly).ToDictionary(c => c.Manifest, c => c.Type);
    private static readonly Dictionary<Type, Func<object, Func<object, byte[]>, byte[]>> BinaryByType =
        Contracts.Binary.ToDictionary(c => c.Type, c => c.Write);
    private static readonly Dictionary<string, Func<byte[], Func<ReadOnlyMemory<byte>, Type, object>, object>> BinaryByManifest =
        Contracts.Binary.Select(c => (c.Manifest, c.Read))
            .Concat(Contracts.Variants.Select(v => (v.Manifest, Contracts.Binary.Single(c => c.Type == v.Type).Read)))
            .ToDictionary(c => c.Manifest, c => c.Read);

    internal static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        TypeInfoResolver = new DefaultJsonTypeInfoResolver { Modifiers = { AddDerivedTypes } },
    };

    public RestockSerializer(ExtendedActorSystem system) : base(system)
    {
    }

    public override int Identifier => 4711;

    public override string Manifest(object o) =>
        ManifestByType.TryGetValue(o.GetType(), out var m)
            ? m.Variant is { } variant && variant.When(o) ? variant.Manifest : m.Manifest
            : throw new SerializationException($"{o.GetType()} has no manifest in Contracts");

    /// <summary>Where a type is listed both as JSON and binary, its binary manifest is the one written.</summary>
    private static Dictionary<Type, (string Manifest, (string Manifest, Func<object, bool> When)? Variant)> Manifests()
    {
        var byType = new Dictionary<Type, (string Manifest, (string Manifest, Func<object, bool> When)? Variant)>();
        foreach (var (type, manifest) in Contracts.All) byType[type] = (manifest, null);
        foreach (var binary in Contracts.Binary) byType[binary.Type] = (binary.Manifest, null);
        foreach (var (type, manifest, when) in Contracts.Variants) byType[type] = (byType[type].Manifest, (manifest, when));
        return byType;
    }

    // A message this large (a big SKU's snapshot: tens of MB) would grow its buffer by doubling, each size a new array on the
    // large object heap, then copy it out. Its type's previous size sizes a buffer from a pool of our own, kept between messages.
    private const int LargeMessage = 256 * 1024;
    private static readonly ConcurrentDictionary<Type, int> LastLargeSize = new();
    private static readonly ArrayPool<byte> LargeBuffers = ArrayPool<byte>.Create(maxArrayLength: 1 << 30, maxArraysPerBucket: 2);

    public override byte[] ToBinary(object obj) =>
        BinaryByType.TryGetValue(obj.GetType(), out var write) ? write(obj, Json) : Json(obj);

    private static byte[] Json(object obj)
    {
        var type = obj.GetType();
        if (!LastLargeSize.TryGetValue(type, out var guess))
        {
            var bytes = JsonSerializer.SerializeToUtf8Bytes(obj, type, Options);
            if (bytes.Length >= LargeMessage) LastLargeSize[type] = bytes.Length;
            return bytes;
        }
        using var buffer = new PooledBuffer(LargeBuffers, guess + guess / 4);
        using (var writer = new Utf8JsonWriter(buffer)) JsonSerializer.Serialize(writer, obj, type, Options);
        LastLargeSize[type] = buffer.Written.Length;
        return buffer.Written.ToArray();
    }

    /// <summary>
    /// The message stored under <paramref name="manifest"/>; bytes that do not read back as one (cut short, damaged, a
    /// value out of range) throw <see cref="SerializationException"/> whatever part of the reading found it, so a reader
    /// that can recover without the bytes (a SKU's snapshot) needs to know one exception.
    /// </summary>
    public override object FromBinary(byte[] bytes, string manifest)
    {
        try
        {
            return BinaryByManifest.TryGetValue(manifest, out var read) ? read(bytes, (json, type) => JsonSerializer.Deserialize(json.Span, type, Options)!)
                : TypeByManifest.TryGetValue(manifest, out var type) ? JsonSerializer.Deserialize(bytes, type, Options)!
                : throw new SerializationException($"unknown manifest '{manifest}'");
        }
        catch (Exception e) when (e is JsonException or ArgumentException or IndexOutOfRangeException or OverflowException or FormatException
                                      or InvalidOperationException)
        {
            throw new SerializationException($"'{manifest}' cut short or damaged: {e.Message}", e);
        }
    }

    /// <summary>A growable buffer whose arrays come from (and go back to) a pool.</summary>
    private sealed class PooledBuffer(ArrayPool<byte> pool, int capacity) : IBufferWriter<byte>, IDisposable
    {
        private byte[] _array = pool.Rent(capacity);
        private int _written;

        public ReadOnlySpan<byte> Written => _array.AsSpan(0, _written);

        public void Advance(int count) => _written += count;

        public Memory<byte> GetMemory(int sizeHint = 0)
        {
            Ensure(sizeHint);
            return _array.AsMemory(_written);
        }

        public Span<byte> GetSpan(int sizeHint = 0)
        {
            Ensure(sizeHint);
            return _array.AsSpan(_written);
        }

        private void Ensure(int sizeHint)
        {
            var needed = _written + Math.Max(sizeHint, 1);
            if (needed > _array.Length)
            {
                var larger = pool.Rent(Math.Max(needed, 2 * _array.Length));
                Written.CopyTo(larger);
                pool.Return(_array);
                _array = larger;
            }
        }

        public void Dispose() => pool.Return(_array);
    }

    private static void AddDerivedTypes(JsonTypeInfo info)
    {
        if (!info.Type.IsAbstract || info.Kind != JsonTypeInfoKind.Object) return;
        var derived = Contracts.All.Where(c => c.Type.IsAssignableTo(info.Type)).ToList();
        if (derived.Count == 0) return;
        info.PolymorphismOptions = new JsonPolymorphismOptions { TypeDiscriminatorPropertyName = "$manifest" };
        foreach (var (type, manifest) in derived)
            info.PolymorphismOptions.DerivedTypes.Add(new JsonDerivedType(type, manifest));
    }
}
