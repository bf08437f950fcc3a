using System.Buffers;
using System.Text.Json;
using Restock.Actors.Engine.Inventory;

namespace Restock.Actors.Service.Inventory;

/// <summary>
/// A <see cref="StockResponse"/> answer (200, JSON) written straight into the response with its length: the same
/// JSON the serializer writes (camelCase names, the outcome's camelCase name), without its per-request writer and
/// response object, the service scope it resolves options from, or chunked encoding. The hot routes answer with it.
/// </summary>
internal sealed class StockAnswer(SkuReply reply) : IResult
{
    private const string ContentType = "application/json; charset=utf-8";

    // Per thread and reused: the JSON is complete and copied into the response before ExecuteAsync returns.
    [ThreadStatic] private static ArrayBufferWriter<byte>? t_buffer;
    [ThreadStatic] private static Utf8JsonWriter? t_writer;

    private static readonly JsonEncodedText SkuId = JsonEncodedText.Encode("skuId");
    private static readonly JsonEncodedText Outcome = JsonEncodedText.Encode("outcome");
    private static readonly JsonEncodedText Available = JsonEncodedText.Encode("available");
    private static readonly JsonEncodedText Reserved = JsonEncodedText.Encode("reserved");
    private static readonly JsonEncodedText Committed = JsonEncodedText.Encode("committed");
    private static readonly JsonEncodedText Shipped = JsonEncodedText.Encode("shipped");
    private static readonly JsonEncodedText Refunded = JsonEncodedText.Encode("refunded");
    private static readonly JsonEncodedText Restocked = JsonEncodedText.Encode("restocked");
    private static readonly JsonEncodedText Done = JsonEncodedText.Encode("done");
    private static readonly JsonEncodedText AlreadyDone = JsonEncodedText.Encode("alreadyDone");

    public Task ExecuteAsync(HttpContext httpContext)
    {
        var buffer = t_buffer ??= new ArrayBufferWriter<byte>(512);
        buffer.ResetWrittenCount();
        var json = t_writer ??= new Utf8JsonWriter(buffer);
        json.Reset(buffer);
        Write(json, reply);
        json.Flush();

        var response = httpContext.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = ContentType;
        response.ContentLength = buffer.WrittenCount;
        // Kestrel sends what is written here when the request ends; the buffer is free again once it is copied.
        response.BodyWriter.Write(buffer.WrittenSpan);
        return Task.CompletedTask;
    }

    internal static void Write(Utf8JsonWriter json, SkuReply reply)
    {
        var levels = reply.Levels;
        json.WriteStartObject();
        json.WriteString(SkuId, reply.SkuId);
        switch (reply.Outcome)
        {
            case SkuOutcome.Done: json.WriteString(Outcome, Done); break;
            case SkuOutcome.AlreadyDone: json.WriteString(Outcome, AlreadyDone); break;
            default: json.WriteString(Outcome, JsonNamingPolicy.CamelCase.ConvertName(reply.Outcome.ToString())); break;
        }
        json.WriteNumber(Available, levels.Available);
        json.WriteNumber(Reserved, levels.Reserved);
        json.WriteNumber(Committed, levels.Committed);
        json.WriteNumber(Shipped, levels.Shipped);
        json.WriteNumber(Refunded, levels.Refunded);
        json.WriteNumber(Restocked, levels.Restocked);
        json.WriteEndObject();
    }
}
