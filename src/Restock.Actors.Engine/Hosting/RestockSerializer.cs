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
/// </summary>
public sealed class RestockSerializer : SerializerWithStringManifest
{
    private static readonly Dictionary<Type, string> ManifestByType = Contracts.All.ToDictionary(c => c.Type, c => c.Manifest);
    private static readonly Dictionary<string, Type> TypeByManifest = Contracts.All.ToDictionary(c => c.Manifest, c => c.Type);

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
        ManifestByType.TryGetValue(o.GetType(), out var manifest)
            ? manifest
            : throw new SerializationException($"{o.GetType()} has no manifest in Contracts");

    public override byte[] ToBinary(object obj) => JsonSerializer.SerializeToUtf8Bytes(obj, obj.GetType(), Options);

    public override object FromBinary(byte[] bytes, string manifest) =>
        TypeByManifest.TryGetValue(manifest, out var type)
            ? JsonSerializer.Deserialize(bytes, type, Options)!
            : throw new SerializationException($"unknown manifest '{manifest}'");

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
