using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using SaeBench.Core.Configuration;
using SaeBench.Core.Evaluation;

namespace SaeBench.Reporting.Comparison;

/// <summary>How far a metric may move in its worse direction before it counts as a regression:
/// more than <c>Relative × |baseline| + Absolute</c> (the relative part scales with the metric, the absolute part
/// covers baselines at or near zero). Both 0 = any worsening is a regression.</summary>
public sealed record Tolerance(double Relative, double Absolute)
{
    /// <summary>The largest change that still counts as unchanged, for a given baseline value.</summary>
    public double Allowed(double baseline) => Relative * Math.Abs(baseline) + Absolute;

    public override string ToString() =>
        $"{Relative.ToString("R", CultureInfo.InvariantCulture)} × |baseline| + {Absolute.ToString("R", CultureInfo.InvariantCulture)}";
}

/// <summary>A tolerance for the metrics whose key matches <see cref="Pattern"/>: a glob (<c>*</c> any run of characters,
/// <c>?</c> one) matched against <c>eval_type_id/category.name</c> and against <c>category.name</c> alone. A part left
/// null keeps what the metric would otherwise get.</summary>
public sealed record ToleranceRule(string Pattern, double? Relative, double? Absolute)
{
    private Regex Regex { get; } = new("^" + Regex.Escape(Pattern).Replace(@"\*", ".*").Replace(@"\?", ".") + "$",
        RegexOptions.CultureInvariant | RegexOptions.Singleline);

    public bool Matches(string evalTypeId, string metricId) => Regex.IsMatch(evalTypeId + "/" + metricId) || Regex.IsMatch(metricId);
}

/// <summary>
/// The tolerance of every metric: a default from its descriptor (fractions, cosines and ratios — bounded, near-1
/// quantities — get 1 % relative plus 0.002 absolute; everything else 1 % relative plus 1e-9), replaced by the command
/// line's <c>--tolerance</c>/<c>--absolute-tolerance</c> where given, then by the tolerance file's rules (later rules
/// win over earlier ones, so a file can go from general to specific).
/// </summary>
public sealed record TolerancePolicy(double? Relative = null, double? Absolute = null, IReadOnlyList<ToleranceRule>? Rules = null)
{
    public const double DefaultRelative = 0.01;
    public const double BoundedAbsolute = 0.002;
    public const double DefaultAbsolute = 1e-9;

    private static readonly HashSet<string> BoundedUnits = new(StringComparer.OrdinalIgnoreCase) { "fraction", "cosine", "ratio", "accuracy" };

    /// <summary>The tolerance of one metric.</summary>
    public Tolerance For(string evalTypeId, MetricDescriptor descriptor)
    {
        double rel = Relative ?? DefaultRelative;
        double abs = Absolute ?? (descriptor.Unit is { } u && BoundedUnits.Contains(u) ? BoundedAbsolute : DefaultAbsolute);
        foreach (var rule in Rules ?? [])
            if (rule.Matches(evalTypeId, descriptor.Id))
            {
                rel = rule.Relative ?? rel;
                abs = rule.Absolute ?? abs;
            }
        return new Tolerance(rel, abs);
    }

    /// <summary>
    /// Reads a tolerance file (YAML, or JSON, which is YAML):
    /// <code>
    /// default: { relative: 0.01, absolute: 0.0 }          # optional: replaces the descriptor defaults
    /// metrics:                                             # pattern → tolerance, later entries win
    ///   "mdl/*": { relative: 0.05 }
    ///   "core/model_performance_preservation.ce_loss_score": { absolute: 0.001 }
    /// </code>
    /// Command-line values, when given, replace the file's <c>default</c>. A bad file is a <see cref="ConfigException"/>
    /// naming the file and the field.
    /// </summary>
    public static TolerancePolicy Load(string path, double? relative = null, double? absolute = null)
    {
        string text;
        try { text = File.ReadAllText(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ConfigException($"{path}: cannot read the tolerance file: {e.Message}", e);
        }
        var root = YamlJson.LoadRoot(text, path) is { } node ? YamlJson.ToJson(node) : null;
        if (root is not JsonObject o) throw new ConfigException($"{path}: expected a mapping with 'default' and/or 'metrics'.");
        foreach (var key in o.Select(kv => kv.Key))
            if (key is not ("default" or "metrics"))
                throw new ConfigException($"{path}: unknown key '{key}' (expected 'default' and/or 'metrics').");
        double? rel = relative, abs = absolute;
        if (o["default"] is { } d)
        {
            var (r, a) = Pair(d, path, "default");
            rel ??= r;
            abs ??= a;
        }
        var rules = new List<ToleranceRule>();
        if (o["metrics"] is { } m)
        {
            if (m is not JsonObject metrics) throw new ConfigException($"{path}: metrics: expected a mapping of metric pattern → {{ relative, absolute }}.");
            foreach (var (pattern, value) in metrics)
            {
                if (pattern.Length == 0) throw new ConfigException($"{path}: metrics: an empty pattern.");
                var (r, a) = Pair(value, path, "metrics." + pattern);
                rules.Add(new ToleranceRule(pattern, r, a));
            }
        }
        return new TolerancePolicy(rel, abs, rules);
    }

    private static (double? Relative, double? Absolute) Pair(JsonNode? node, string path, string at)
    {
        if (node is not JsonObject o) throw new ConfigException($"{path}: {at}: expected {{ relative: X, absolute: Y }}.");
        double? rel = null, abs = null;
        foreach (var (key, value) in o)
        {
            double v = value is JsonValue jv && jv.TryGetValue<double>(out var x) ? x
                : value is JsonValue lv && lv.TryGetValue<long>(out var l) ? l
                : throw new ConfigException($"{path}: {at}.{key}: expected a number.");
            if (!(v >= 0) || double.IsInfinity(v)) throw new ConfigException($"{path}: {at}.{key}: must be a non-negative number (got {v.ToString("R", CultureInfo.InvariantCulture)}).");
            switch (key)
            {
                case "relative": rel = v; break;
                case "absolute": abs = v; break;
                default: throw new ConfigException($"{path}: {at}: unknown key '{key}' (expected relative, absolute).");
            }
        }
        return (rel, abs);
    }
}
