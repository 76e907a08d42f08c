using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace SaeBench.TestKit;

/// <summary>
/// Per-number tolerances of a golden comparison: <c>|actual − expected| ≤ Relative·max(|actual|, |expected|) + Absolute</c>,
/// with overrides for the paths that match a pattern (<c>*</c> matches within one path segment, <c>**</c> across segments;
/// paths look like <c>metrics.core.l0</c> or <c>details[3].max_cosine</c>). The last matching override wins.
/// </summary>
public sealed record GoldenTolerance(double Relative = 1e-6, double Absolute = 1e-9)
{
    private readonly List<(Regex Pattern, double Relative, double Absolute)> _overrides = [];

    /// <summary>A copy with an override for the paths matching <paramref name="pattern"/>.</summary>
    public GoldenTolerance With(string pattern, double relative, double absolute = 1e-9)
    {
        var copy = this with { };
        copy._overrides.AddRange(_overrides);
        var regex = "^" + Regex.Escape(pattern).Replace(@"\*\*", ".*").Replace(@"\*", @"[^.\[]*") + "$";
        copy._overrides.Add((new Regex(regex, RegexOptions.CultureInvariant), relative, absolute));
        return copy;
    }

    internal (double Relative, double Absolute) For(string path)
    {
        for (int i = _overrides.Count - 1; i >= 0; i--)
            if (_overrides[i].Pattern.IsMatch(path)) return (_overrides[i].Relative, _overrides[i].Absolute);
        return (Relative, Absolute);
    }
}

/// <summary>
/// Golden-file assertions: a JSON document produced by the code is compared with a file checked into the test tree,
/// numbers within a <see cref="GoldenTolerance"/>, everything else exactly. Golden files guard against unintended
/// change (they are regression tests, not proofs of correctness: correctness is tested against independent references).
/// Set <c>SAEBENCH_UPDATE_GOLDEN=1</c> to (re)write the files after a deliberate change, and say why in the commit.
/// </summary>
public static class Golden
{
    public const string UpdateVariable = "SAEBENCH_UPDATE_GOLDEN";

    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    /// <summary>The directory of the calling source file (golden files sit next to their tests).</summary>
    public static string SourceDirectory([CallerFilePath] string callerFile = "") => Path.GetDirectoryName(callerFile)!;

    public static void AssertMatches(string goldenPath, JsonNode actual, GoldenTolerance? tolerance = null)
    {
        tolerance ??= new GoldenTolerance();
        actual = Normalise(actual)!;
        if (Environment.GetEnvironmentVariable(UpdateVariable) is "1" or "true")
        {
            Directory.CreateDirectory(Path.GetDirectoryName(goldenPath)!);
            File.WriteAllText(goldenPath, actual.ToJsonString(Indented) + "\n");
            return;
        }
        Assert.True(File.Exists(goldenPath), $"golden file {goldenPath} is missing; run the test with {UpdateVariable}=1 to create it (and commit it).");
        var expected = JsonNode.Parse(File.ReadAllText(goldenPath));
        var problems = new List<string>();
        Compare(expected, actual, "", tolerance, problems);
        Assert.True(problems.Count == 0,
            $"{problems.Count} difference(s) from {goldenPath} (set {UpdateVariable}=1 to accept a deliberate change):\n  " +
            string.Join("\n  ", problems.Take(40)));
    }

    /// <summary>Differences between two documents as "path: expected … got …" lines (empty when they match).</summary>
    public static IReadOnlyList<string> Differences(JsonNode? expected, JsonNode? actual, GoldenTolerance? tolerance = null)
    {
        var problems = new List<string>();
        Compare(Normalise(expected), Normalise(actual), "", tolerance ?? new GoldenTolerance(), problems);
        return problems;
    }

    /// <summary>A document built in memory holds CLR values (an int cannot be read as a double); a parsed one does not.</summary>
    private static JsonNode? Normalise(JsonNode? node) => node is null ? null : JsonNode.Parse(node.ToJsonString());

    private static void Compare(JsonNode? expected, JsonNode? actual, string path, GoldenTolerance tolerance, List<string> problems)
    {
        string shown = path.Length == 0 ? "(root)" : path;
        switch (expected, actual)
        {
            case (null, null):
                return;
            case (JsonObject e, JsonObject a):
                foreach (var (key, value) in e)
                {
                    if (!a.ContainsKey(key)) { problems.Add($"{Join(path, key)}: missing (expected {Short(value)})"); continue; }
                    Compare(value, a[key], Join(path, key), tolerance, problems);
                }
                foreach (var (key, value) in a)
                    if (!e.ContainsKey(key)) problems.Add($"{Join(path, key)}: unexpected (got {Short(value)})");
                return;
            case (JsonArray e, JsonArray a):
                if (e.Count != a.Count) { problems.Add($"{shown}: {e.Count} items expected, got {a.Count}"); return; }
                for (int i = 0; i < e.Count; i++) Compare(e[i], a[i], $"{path}[{i}]", tolerance, problems);
                return;
            case (JsonValue e, JsonValue a) when IsNumber(e) && IsNumber(a):
                double x = e.GetValue<double>(), y = a.GetValue<double>();
                var (rel, abs) = tolerance.For(path);
                if (!(Math.Abs(x - y) <= rel * Math.Max(Math.Abs(x), Math.Abs(y)) + abs))
                    problems.Add(string.Create(CultureInfo.InvariantCulture, $"{shown}: expected {x:R}, got {y:R} (Δ {y - x:G3}; tolerance rel {rel:G2} abs {abs:G2})"));
                return;
            default:
                if (!JsonNode.DeepEquals(expected, actual)) problems.Add($"{shown}: expected {Short(expected)}, got {Short(actual)}");
                return;
        }
    }

    private static bool IsNumber(JsonValue v) => v.GetValueKind() == JsonValueKind.Number;

    private static string Join(string path, string key) => path.Length == 0 ? key : path + "." + key;

    private static string Short(JsonNode? node)
    {
        var s = node?.ToJsonString() ?? "null";
        return s.Length > 80 ? s[..77] + "..." : s;
    }
}
