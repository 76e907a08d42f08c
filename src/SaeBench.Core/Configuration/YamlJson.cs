using System.Globalization;
using System.Text.Json.Nodes;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;
using YamlDotNet.RepresentationModel;

namespace SaeBench.Core.Configuration;

/// <summary>What is wrong with a YAML text, and where (1-based line and column).</summary>
public sealed record YamlProblem(long Line, long Column, string Message);

/// <summary>
/// The one way YAML enters the harness (run configs, checkpoint registries, training suites): the text is checked on the
/// parser's events — which need no recursion — before any node tree is built, so hostile YAML is refused instead of
/// overflowing the stack or exhausting memory. Refused: nesting deeper than <see cref="MaxDepth"/>; aliases that expand
/// the document to more than <see cref="MaxNodes"/> values ("billion laughs"); an alias inside the node it names (a
/// cycle); mapping keys that are not plain values; a NUL character in a value; duplicate keys; files over
/// <see cref="MaxFileBytes"/>. Plain scalars become numbers, booleans or null in <see cref="ToJson"/>.
/// </summary>
public static class YamlJson
{
    /// <summary>Deepest nesting of mappings and sequences (a run config needs five or six levels).</summary>
    public const int MaxDepth = 64;

    /// <summary>Most values (scalars, mappings, sequences) a document may hold once every alias is expanded.</summary>
    public const int MaxNodes = 100_000;

    /// <summary>Largest YAML file read.</summary>
    public const long MaxFileBytes = 16L << 20;

    /// <summary>The root node of the first YAML document (null for an empty text); a problem is a <see cref="ConfigException"/> naming the source and line.</summary>
    public static YamlNode? LoadRoot(string yaml, string source) =>
        LoadRoot(yaml, p => new ConfigException($"{source}: invalid YAML at line {p.Line}, column {p.Column}: {p.Message}"));

    /// <summary>The root node of the first YAML document (null for an empty text); a problem is the exception <paramref name="refuse"/> makes of it.</summary>
    public static YamlNode? LoadRoot(string yaml, Func<YamlProblem, Exception> refuse)
    {
        if (Check(yaml) is { } problem) throw refuse(problem);
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(yaml));
        }
        catch (YamlException e)
        {
            throw refuse(new YamlProblem(e.Start.Line, e.Start.Column, e.Message));
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw refuse(new YamlProblem(1, 1, $"the YAML cannot be parsed ({e.GetType().Name}: {e.Message})"));
        }
        return stream.Documents.Count == 0 ? null : stream.Documents[0].RootNode;
    }

    /// <summary>The text of a YAML file, refusing one larger than <see cref="MaxFileBytes"/> before reading it
    /// (<paramref name="refuse"/> makes the exception from the problem).</summary>
    public static string ReadFile(string path, Func<string, Exception> refuse)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        if (stream.Length > MaxFileBytes)
            throw refuse($"the file has {stream.Length} bytes, more than the {MaxFileBytes >> 20} MiB a configuration may have");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    private sealed class Frame(bool mapping, string? anchor, long expandedAtStart)
    {
        public bool Mapping { get; } = mapping;
        public string? Anchor { get; } = anchor;
        public long ExpandedAtStart { get; } = expandedAtStart;
        public int Children { get; set; }
    }

    /// <summary>The first problem of <paramref name="yaml"/> found on its parser events, or null (syntax errors are left to the loader).</summary>
    private static YamlProblem? Check(string yaml)
    {
        var parser = new Parser(new StringReader(yaml));
        var frames = new Stack<Frame>();
        var anchorSizes = new Dictionary<string, long>(StringComparer.Ordinal);
        var scalarAnchors = new HashSet<string>(StringComparer.Ordinal);
        var openAnchors = new HashSet<string>(StringComparer.Ordinal);
        long expanded = 0;
        var last = Mark.Empty;
        try
        {
            while (parser.MoveNext())
            {
                var e = parser.Current!;
                last = e.Start;
                YamlProblem Problem(string message) => new(e.Start.Line, e.Start.Column, message);
                bool isKey = frames.TryPeek(out var parent) && parent.Mapping && parent.Children % 2 == 0;
                switch (e)
                {
                    case DocumentStart:
                        anchorSizes.Clear();
                        scalarAnchors.Clear();
                        openAnchors.Clear();
                        expanded = 0;
                        continue;
                    case Scalar s:
                        if (s.Value.Contains('\0')) return Problem("a value holds a NUL character; names, ids and paths cannot");
                        if (!s.Anchor.IsEmpty)
                        {
                            anchorSizes[s.Anchor.Value] = 1;
                            scalarAnchors.Add(s.Anchor.Value);
                            openAnchors.Remove(s.Anchor.Value); // the name now means this scalar
                        }
                        expanded += 1;
                        break;
                    case AnchorAlias a:
                        if (openAnchors.Contains(a.Value.Value))
                            return Problem($"the alias *{a.Value.Value} is inside the node it names (a cycle)");
                        if (isKey && !scalarAnchors.Contains(a.Value.Value))
                            return Problem($"a mapping key must be a plain value, not the alias *{a.Value.Value} of a mapping or sequence");
                        expanded += anchorSizes.GetValueOrDefault(a.Value.Value, 1);
                        break;
                    case MappingStart or SequenceStart:
                        var n = (NodeEvent)e;
                        string kind = n is MappingStart ? "mapping" : "sequence";
                        if (isKey) return Problem($"a mapping key must be a plain value, not a {kind}");
                        if (frames.Count >= MaxDepth) return Problem($"mappings and sequences nested deeper than {MaxDepth} levels");
                        if (parent is not null) parent.Children++;
                        expanded += 1;
                        var anchor = n.Anchor.IsEmpty ? null : n.Anchor.Value;
                        if (anchor is not null) openAnchors.Add(anchor);
                        frames.Push(new Frame(n is MappingStart, anchor, expanded - 1));
                        if (expanded > MaxNodes) return TooLarge(Problem);
                        continue;
                    case MappingEnd or SequenceEnd:
                        var done = frames.Pop();
                        if (done.Anchor is { } name)
                        {
                            openAnchors.Remove(name);
                            anchorSizes[name] = expanded - done.ExpandedAtStart;
                            scalarAnchors.Remove(name);
                        }
                        continue;
                    default:
                        continue;
                }
                if (parent is not null) parent.Children++;
                if (expanded > MaxNodes) return TooLarge(Problem);
            }
        }
        catch (YamlException e)
        {
            return new YamlProblem(e.Start.Line, e.Start.Column, e.Message);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // YamlDotNet's parser throws more than YamlException on some malformed text (e.g. InvalidOperationException).
            return new YamlProblem(last.Line, last.Column, $"the YAML cannot be parsed after this point ({e.Message})");
        }
        return null;

        static YamlProblem TooLarge(Func<string, YamlProblem> problem) =>
            problem($"the document holds more than {MaxNodes} values once its aliases are expanded (aliases of aliases: a \"billion laughs\")");
    }

    /// <summary>A node as JSON; safe on any node <see cref="LoadRoot(string, string)"/> returned (bounded depth and size, no cycles).
    /// A key that repeats after conversion (<c>1</c> and <c>"1"</c>) keeps its last value.</summary>
    public static JsonNode? ToJson(YamlNode node)
    {
        switch (node)
        {
            case YamlMappingNode map:
                var o = new JsonObject();
                foreach (var (key, value) in map.Children) o[(key as YamlScalarNode)?.Value ?? ""] = ToJson(value);
                return o;
            case YamlSequenceNode seq:
                return new JsonArray(seq.Children.Select(ToJson).ToArray());
            case YamlScalarNode s:
                return Scalar(s);
            default:
                return null;
        }
    }

    /// <summary>What a node is, for messages: "a mapping", "a list", "the number 5", "the text 'abc'".</summary>
    public static string Describe(JsonNode? node) => node switch
    {
        null => "nothing (null)",
        JsonObject => "a mapping",
        JsonArray => "a list",
        JsonValue v when v.GetValueKind() == System.Text.Json.JsonValueKind.Number => $"the number {v.ToJsonString()}",
        JsonValue v when v.GetValueKind() is System.Text.Json.JsonValueKind.True or System.Text.Json.JsonValueKind.False => $"the boolean {v.ToJsonString()}",
        JsonValue v => $"the text {v.ToJsonString()}",
        _ => node.GetValueKind().ToString(),
    };

    private static JsonNode? Scalar(YamlScalarNode s)
    {
        var v = s.Value;
        if (s.Style is ScalarStyle.SingleQuoted or ScalarStyle.DoubleQuoted) return JsonValue.Create(v);
        if (v is null or "" or "~" or "null" or "Null" or "NULL") return null;
        if (v is "true" or "True" or "TRUE") return JsonValue.Create(true);
        if (v is "false" or "False" or "FALSE") return JsonValue.Create(false);
        if (long.TryParse(v, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var l)) return JsonValue.Create(l);
        if (double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && double.IsFinite(d)) return JsonValue.Create(d);
        return JsonValue.Create(v);
    }
}
