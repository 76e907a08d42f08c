using System.Text.Json;
using System.Text.Json.Nodes;

namespace SaeBench.Core.Checkpoints;

/// <summary>A JSON configuration object with typed accessors whose errors name the file and the field.</summary>
public sealed class JsonConfig
{
    private JsonConfig(string file, JsonObject root, string prefix)
    {
        File = file;
        Root = root;
        _prefix = prefix;
    }

    private readonly string _prefix;

    public string File { get; }
    public JsonObject Root { get; }

    /// <summary>Largest configuration file read.</summary>
    public const long MaxBytes = 16L << 20;

    /// <summary>Reads a JSON object through <see cref="StrictJson"/> (duplicate keys, invalid Unicode and deep nesting are
    /// refused); every problem is a <see cref="CheckpointFormatException"/> naming the file.</summary>
    public static JsonConfig Load(string file)
    {
        if (!System.IO.File.Exists(file)) throw new CheckpointFormatException(file, null, "file does not exist");
        byte[] bytes;
        using (var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read))
        {
            // The open file's length: a symbolic link's own length says nothing about its target.
            if (stream.Length > MaxBytes) throw new CheckpointFormatException(file, null, $"configuration of {stream.Length} bytes is larger than the 16 MB allowed");
            bytes = new byte[stream.Length];
            stream.ReadExactly(bytes);
        }
        JsonNode? node;
        try
        {
            node = StrictJson.ParseNode(bytes, allowTrailingCommas: true);
        }
        catch (JsonException e)
        {
            throw new CheckpointFormatException(file, null, $"not valid JSON ({e.Message})");
        }
        return node is JsonObject o ? new JsonConfig(file, o, "") : throw new CheckpointFormatException(file, null, "must hold a JSON object");
    }

    public bool Has(string key) => Root.ContainsKey(key) && Root[key] is not null;

    /// <summary>A nested object, or null when absent.</summary>
    public JsonConfig? Section(string key) => Root[key] switch
    {
        null => null,
        JsonObject o => new JsonConfig(File, o, _prefix + key + "."),
        var other => throw Error(key, $"expected an object, found {other.GetValueKind()}"),
    };

    public string? String(string key) => Root[key] switch
    {
        null => null,
        JsonValue v when v.TryGetValue(out string? s) => s,
        var other => throw Error(key, $"expected a string, found {Shorten(other.ToJsonString())}"),
    };

    public bool? Bool(string key) => Root[key] switch
    {
        null => null,
        JsonValue v when v.TryGetValue(out bool b) => b,
        var other => throw Error(key, $"expected true or false, found {Shorten(other.ToJsonString())}"),
    };

    public double? Number(string key) => Root[key] switch
    {
        null => null,
        JsonValue v when v.GetValueKind() == JsonValueKind.Number => v.GetValue<double>() is var d && double.IsFinite(d)
            ? d
            : throw Error(key, $"expected a finite number, found {Shorten(v.ToJsonString())}"),
        var other => throw Error(key, $"expected a number, found {Shorten(other.ToJsonString())}"),
    };

    public int? Int(string key)
    {
        var d = Number(key);
        if (d is null) return null;
        if (d != Math.Floor(d.Value) || d < int.MinValue || d > int.MaxValue) throw Error(key, $"expected an integer, found {d}");
        return (int)d.Value;
    }

    public int[]? IntList(string key) => Root[key] switch
    {
        null => null,
        JsonArray a => a.Select((n, i) => n is JsonValue v && v.GetValueKind() == JsonValueKind.Number && v.GetValue<double>() is var d
                                          && d % 1 == 0 && d >= int.MinValue && d <= int.MaxValue
            ? (int)d
            : throw Error($"{key}[{i}]", "expected an integer")).ToArray(),
        var other => throw Error(key, $"expected a list of integers, found {Shorten(other.ToJsonString())}"),
    };

    private static string Shorten(string s) => s.Length <= 80 ? s : s[..80] + "…";

    public CheckpointFormatException Error(string key, string problem) => new(File, _prefix + key, problem);
}
