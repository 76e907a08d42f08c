using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace SaeBench.Core;

/// <summary>
/// The one JSON reader for files users bring (checkpoint configs, safetensors headers, result files, manifests). Beyond
/// the JSON grammar it refuses what would otherwise surface later as an unexpected exception: duplicate keys (a
/// <see cref="JsonNode"/> throws on first access; a <see cref="JsonDocument"/> silently takes the last), strings that are
/// not valid Unicode (invalid UTF-8, a lone UTF-16 surrogate escape such as <c>"\ud800"</c>: reading them throws), and
/// nesting deeper than <see cref="MaxDepth"/>. Every refusal is a <see cref="JsonException"/> saying what and where;
/// callers turn it into their bad-input exception naming the file.
/// </summary>
public static class StrictJson
{
    /// <summary>Deepest nesting accepted.</summary>
    public const int MaxDepth = 64;

    /// <summary>Parses UTF-8 JSON after the checks above (<paramref name="allowComments"/>: skip <c>//</c> and <c>/* */</c>,
    /// as some Hugging Face configs have them).</summary>
    public static JsonDocument Parse(ReadOnlyMemory<byte> utf8, bool allowTrailingCommas = false, bool allowComments = false)
    {
        var options = Options(allowTrailingCommas, allowComments);
        CheckStrings(utf8.Span, options);
        return JsonDocument.Parse(utf8, options);
    }

    /// <summary>Parses JSON text after the checks above.</summary>
    public static JsonDocument Parse(string json, bool allowTrailingCommas = false) => Parse(Encoding.UTF8.GetBytes(json), allowTrailingCommas);

    /// <summary>Parses UTF-8 JSON into a mutable node after the checks above.</summary>
    public static JsonNode? ParseNode(ReadOnlyMemory<byte> utf8, bool allowTrailingCommas = false)
    {
        var options = Options(allowTrailingCommas, allowComments: false);
        CheckStrings(utf8.Span, options);
        return JsonNode.Parse(utf8.Span, documentOptions: options);
    }

    private static JsonDocumentOptions Options(bool allowTrailingCommas, bool allowComments) => new()
    {
        AllowTrailingCommas = allowTrailingCommas,
        CommentHandling = allowComments ? JsonCommentHandling.Skip : JsonCommentHandling.Disallow,
        AllowDuplicateProperties = false,
        MaxDepth = MaxDepth,
    };

    /// <summary>Reads every token once: the grammar, the depth and every string's Unicode.</summary>
    private static void CheckStrings(ReadOnlySpan<byte> utf8, JsonDocumentOptions options)
    {
        var reader = new Utf8JsonReader(utf8, new JsonReaderOptions
        {
            AllowTrailingCommas = options.AllowTrailingCommas,
            MaxDepth = options.MaxDepth,
            CommentHandling = options.CommentHandling,
        });
        string? lastKey = null;
        while (reader.Read())
        {
            if (reader.TokenType is not (JsonTokenType.PropertyName or JsonTokenType.String)) continue;
            try
            {
                var text = reader.GetString();
                if (reader.TokenType == JsonTokenType.PropertyName) lastKey = text;
            }
            catch (InvalidOperationException)
            {
                string what = reader.TokenType == JsonTokenType.PropertyName ? "a key" : "the string";
                string after = lastKey is null ? "" : $" (after the key '{Shorten(lastKey)}')";
                throw new JsonException(
                    $"{what} at byte {reader.TokenStartIndex}{after} is not valid Unicode (invalid UTF-8, or a lone UTF-16 surrogate escape)");
            }
        }
    }

    private static string Shorten(string s) => s.Length <= 60 ? s : s[..60] + "…";
}
