using SaeBench.Core.Evaluation;
using SaeBench.Core.Results;
using System.Globalization;
using System.Text.Json.Nodes;
using SaeBench.Reporting.Results;
using static SaeBench.Reporting.Figures.VegaLite;

namespace SaeBench.Reporting.Figures;

/// <summary>Builds every figure of a report as a Vega-Lite spec. A metric nobody measured leaves its
/// figure or panel out; it is never an error.</summary>
public static class FigureBuilder
{
    private const string WidthTitle = "Width (latents)";
    private const string ArchitectureTitle = "Architecture";

    /// <summary>All figures in a fixed order: the architecture figure, L0 frontiers, width scaling, per-evaluator summaries.</summary>
    public static IReadOnlyList<Figure> All(ResultSet results, FigureOptions options)
    {
        var figures = new List<Figure>();
        if (ArchitectureComparison(results, options) is { } a) figures.Add(a);
        foreach (var m in HeadlineMetrics.All)
            if (L0Frontier(results, m, options) is { } f) figures.Add(f);
        if (WidthScaling(results, options) is { } w) figures.Add(w);
        figures.AddRange(EvaluatorSummaries(results, options));
        return figures;
    }

    /// <summary>L0 (log x) vs one metric: one panel per SAE architecture, one line per dictionary width,
    /// PCA/identity baselines as dashed reference lines. Null when no checkpoint has both values.</summary>
    public static Figure? L0Frontier(ResultSet results, HeadlineMetric metric, FigureOptions options)
    {
        var points = L0Points(results, metric.Key);
        if (points.Count == 0) return null;
        var widths = SortWidths(points.Select(p => p.Width));
        var panels = new List<JsonNode>();
        foreach (var arch in points.Select(p => p.Architecture).Distinct().Order(StringComparer.Ordinal))
        {
            var rows = points.Where(p => p.Architecture == arch).Select(p => p.Row()).ToList();
            var x = Q("x", Title(results, HeadlineMetrics.L0), LogScale());
            var y = Q("y", Title(results, metric.Key), NoZero());
            var color = N("width", WidthTitle, widths);
            var layers = new List<JsonNode>
            {
                new JsonObject
                {
                    ["mark"] = new JsonObject { ["type"] = "line", ["strokeWidth"] = 1.5 },
                    ["encoding"] = new JsonObject { ["x"] = x, ["y"] = y, ["color"] = color, ["order"] = Q("x", "L0") },
                },
                new JsonObject
                {
                    ["mark"] = new JsonObject { ["type"] = "point", ["filled"] = true, ["size"] = 40 },
                    ["encoding"] = new JsonObject
                    {
                        ["x"] = x.DeepClone(), ["y"] = y.DeepClone(), ["color"] = color.DeepClone(),
                        ["tooltip"] = Tooltip(results, metric.Key),
                    },
                },
            };
            layers.AddRange(BaselineLayers(results, metric.Key));
            panels.Add(new JsonObject
            {
                ["title"] = arch,
                ["width"] = options.PanelWidth,
                ["height"] = options.PanelHeight,
                ["data"] = Values(rows),
                ["layer"] = Array(layers),
            });
        }
        var spec = Top($"L0 vs {metric.PanelTitle}", "One line per dictionary width; dashed lines: PCA/identity baselines");
        spec["columns"] = Math.Min(3, panels.Count);
        spec["concat"] = Array(panels);
        spec["resolve"] = new JsonObject { ["scale"] = new JsonObject { ["color"] = "shared" } };
        return new Figure("l0_vs_" + metric.Slug, $"L0 vs {metric.PanelTitle}", spec);
    }

    /// <summary>SAEBench's multi-panel figure: L0 (log x) vs each headline metric, colour = architecture,
    /// shape = width, baselines as dashed lines, the MDL-optimal checkpoint ringed. Panels with no data are left out.</summary>
    public static Figure? ArchitectureComparison(ResultSet results, FigureOptions options)
    {
        var optimal = MdlSelection.Optimal(results, options.MdlFvuTarget);
        var all = HeadlineMetrics.All.Select(m => (m, L0Points(results, m.Key))).Where(t => t.Item2.Count > 0).ToList();
        if (all.Count == 0) return null;
        var architectures = all.SelectMany(t => t.Item2).Select(p => p.Architecture).Distinct().Order(StringComparer.Ordinal).ToList();
        var widths = SortWidths(all.SelectMany(t => t.Item2).Select(p => p.Width));
        var panels = new List<JsonNode>();
        foreach (var (metric, points) in all)
        {
            var x = Q("x", Title(results, HeadlineMetrics.L0), LogScale());
            var y = Q("y", Title(results, metric.Key), NoZero());
            var layers = new List<JsonNode>
            {
                new JsonObject
                {
                    ["mark"] = new JsonObject { ["type"] = "line", ["strokeWidth"] = 1, ["opacity"] = 0.6 },
                    ["encoding"] = new JsonObject
                    {
                        ["x"] = x, ["y"] = y,
                        ["color"] = N("architecture", ArchitectureTitle, architectures),
                        ["detail"] = new JsonObject { ["field"] = "width", ["type"] = "nominal" },
                        ["order"] = Q("x", "L0"),
                    },
                },
                new JsonObject
                {
                    ["mark"] = new JsonObject { ["type"] = "point", ["filled"] = true, ["size"] = 45 },
                    ["encoding"] = new JsonObject
                    {
                        ["x"] = x.DeepClone(), ["y"] = y.DeepClone(),
                        ["color"] = N("architecture", ArchitectureTitle, architectures),
                        ["shape"] = N("width", WidthTitle, widths),
                        ["tooltip"] = Tooltip(results, metric.Key),
                    },
                },
            };
            layers.AddRange(BaselineLayers(results, metric.Key));
            if (optimal is not null && points.FirstOrDefault(p => p.CheckpointId == optimal) is { } best)
                layers.AddRange(OptimalMarker(best));
            panels.Add(new JsonObject
            {
                ["title"] = metric.PanelTitle,
                ["width"] = options.PanelWidth,
                ["height"] = options.PanelHeight,
                ["data"] = Values(points.Select(p => p.Row())),
                ["layer"] = Array(layers),
            });
        }
        var target = options.MdlFvuTarget.ToString("R", CultureInfo.InvariantCulture);
        var subtitle = optimal is null
            ? "Dashed lines: PCA/identity baselines. No checkpoint has MDL results with FVU ≤ " + target + "."
            : $"Dashed lines: PCA/identity baselines. Ringed: MDL-optimal checkpoint {optimal} (smallest description length with FVU ≤ {target}).";
        var spec = Top("SAE architectures: L0 vs headline metrics", subtitle);
        spec["columns"] = Math.Min(4, panels.Count);
        spec["concat"] = Array(panels);
        spec["resolve"] = new JsonObject { ["scale"] = new JsonObject { ["color"] = "shared", ["shape"] = "shared" } };
        return new Figure("architecture_comparison", "SAE architectures: L0 vs headline metrics", spec);
    }

    /// <summary>Dictionary width (log₂ x) vs each headline metric: points per checkpoint, a line per
    /// architecture through the mean at each width. Null when fewer than two widths have a headline metric: one width
    /// scales nothing (a strip of points over a single tick says nothing the other figures do not).</summary>
    public static Figure? WidthScaling(ResultSet results, FigureOptions options)
    {
        var panels = new List<JsonNode>();
        var perMetric = new List<(HeadlineMetric Metric, List<JsonObject> Rows)>();
        foreach (var metric in HeadlineMetrics.All)
        {
            var rows = new List<JsonObject>();
            foreach (var c in results.Checkpoints.Where(c => !c.IsBaseline))
            {
                if (c.WidthValue is not { } w || w <= 0 || results.Value(c.Id, metric.Key) is not { } v || !Finite(v)) continue;
                rows.Add(new JsonObject
                {
                    ["checkpoint_id"] = c.Id,
                    ["architecture"] = c.Architecture ?? "unknown",
                    ["width"] = c.Width,
                    ["x"] = w,
                    ["y"] = v,
                });
            }
            if (rows.Count > 0) perMetric.Add((metric, rows));
        }
        if (perMetric.SelectMany(p => p.Rows).Select(r => (double)r["x"]!).Distinct().Count() < 2) return null;
        var architectures = perMetric.SelectMany(p => p.Rows).Select(r => (string)r["architecture"]!).Distinct().Order(StringComparer.Ordinal).ToList();
        foreach (var (metric, rows) in perMetric)
        {
            var x = Q("x", "Dictionary width (latents)", LogScale(2));
            x["axis"] = new JsonObject { ["values"] = new JsonArray(rows.Select(r => (double)r["x"]!).Distinct().Order().Select(v => (JsonNode?)JsonValue.Create(v)).ToArray()), ["format"] = "d" };
            var yTitle = Title(results, metric.Key);
            var layers = new List<JsonNode>
            {
                new JsonObject
                {
                    ["mark"] = new JsonObject { ["type"] = "line", ["strokeWidth"] = 1.5 },
                    ["encoding"] = new JsonObject
                    {
                        ["x"] = x,
                        ["y"] = new JsonObject { ["field"] = "y", ["type"] = "quantitative", ["aggregate"] = "mean", ["title"] = yTitle, ["scale"] = NoZero() },
                        ["color"] = N("architecture", ArchitectureTitle, architectures),
                    },
                },
                new JsonObject
                {
                    ["mark"] = new JsonObject { ["type"] = "point", ["filled"] = true, ["size"] = 35, ["opacity"] = 0.7 },
                    ["encoding"] = new JsonObject
                    {
                        ["x"] = x.DeepClone(),
                        ["y"] = Q("y", yTitle, NoZero()),
                        ["color"] = N("architecture", ArchitectureTitle, architectures),
                        ["tooltip"] = new JsonArray(
                            Q("checkpoint_id", "Checkpoint").Also(o => o["type"] = "nominal"),
                            N("architecture", ArchitectureTitle),
                            N("width", WidthTitle),
                            Q("y", yTitle)),
                    },
                },
            };
            layers.AddRange(BaselineLayers(results, metric.Key));
            panels.Add(new JsonObject
            {
                ["title"] = metric.PanelTitle,
                ["width"] = options.PanelWidth,
                ["height"] = options.PanelHeight,
                ["data"] = Values(rows),
                ["layer"] = Array(layers),
            });
        }
        var spec = Top("Dictionary-width scaling", "Points: checkpoints; lines: mean over the checkpoints of each width; dashed lines: PCA/identity baselines");
        spec["columns"] = Math.Min(4, panels.Count);
        spec["concat"] = Array(panels);
        spec["resolve"] = new JsonObject { ["scale"] = new JsonObject { ["color"] = "shared" } };
        return new Figure("width_scaling", "Dictionary-width scaling", spec);
    }

    /// <summary>One figure per evaluator: a small bar chart per metric (value per checkpoint, colour = architecture).</summary>
    public static IReadOnlyList<Figure> EvaluatorSummaries(ResultSet results, FigureOptions options)
    {
        var figures = new List<Figure>();
        foreach (var eval in results.EvalTypeIds)
        {
            var keys = results.MetricKeys.Where(k => k.EvalTypeId == eval && results.HasValues(k)).ToList();
            if (keys.Count == 0) continue;
            var labels = new Dictionary<MetricKey, string>();
            foreach (var k in keys)
            {
                var title = Title(results, k);
                labels[k] = labels.ContainsValue(title) ? $"{title} [{k.MetricId}]" : title;
            }
            var rows = new List<JsonObject>();
            foreach (var c in results.Checkpoints)
                foreach (var k in keys)
                    if (results.Value(c.Id, k) is { } v && Finite(v))
                        rows.Add(new JsonObject
                        {
                            ["checkpoint_id"] = c.Id,
                            ["architecture"] = c.Architecture ?? "unknown",
                            ["metric"] = labels[k],
                            ["value"] = v,
                        });
            var spec = Top($"Evaluator {eval}: every metric per checkpoint", "Each panel has its own x scale; units in the panel titles");
            spec["data"] = Values(rows);
            spec["columns"] = 4;
            spec["facet"] = new JsonObject
            {
                ["field"] = "metric", ["type"] = "nominal", ["title"] = null,
                ["sort"] = Array(keys.Select(k => labels[k])),
                ["header"] = new JsonObject { ["labelFontSize"] = 11, ["labelLimit"] = options.PanelWidth },
            };
            spec["spec"] = new JsonObject
            {
                ["width"] = options.PanelWidth,
                ["height"] = new JsonObject { ["step"] = 12 },
                ["mark"] = "bar",
                ["encoding"] = new JsonObject
                {
                    ["y"] = new JsonObject { ["field"] = "checkpoint_id", ["type"] = "nominal", ["title"] = "Checkpoint", ["sort"] = Array(results.Checkpoints.Select(c => c.Id)) },
                    ["x"] = Q("value", "Value"),
                    ["color"] = N("architecture", ArchitectureTitle),
                    ["tooltip"] = new JsonArray(N("checkpoint_id", "Checkpoint"), N("metric", "Metric"), Q("value", "Value")),
                },
            };
            spec["resolve"] = new JsonObject { ["scale"] = new JsonObject { ["x"] = "independent" } };
            figures.Add(new Figure("summary_" + Slug(eval), $"Evaluator {eval}", spec));
        }
        return figures;
    }

    private sealed record Point(string CheckpointId, string Architecture, string Width, double X, double Y)
    {
        public JsonObject Row() => new()
        {
            ["checkpoint_id"] = CheckpointId,
            ["architecture"] = Architecture,
            ["width"] = Width,
            ["x"] = X,
            ["y"] = Y,
        };
    }

    /// <summary>SAE checkpoints (no baselines) with a positive L0 (log axis) and a defined metric.</summary>
    private static List<Point> L0Points(ResultSet results, MetricKey metric)
    {
        var list = new List<Point>();
        foreach (var c in results.Checkpoints.Where(c => !c.IsBaseline))
        {
            if (results.Value(c.Id, HeadlineMetrics.L0) is not { } l0 || !(l0 > 0) || !Finite(l0)) continue;
            if (results.Value(c.Id, metric) is not { } v || !Finite(v)) continue;
            list.Add(new Point(c.Id, c.Architecture ?? "unknown", c.Width ?? "unknown", l0, v));
        }
        return list;
    }

    private static JsonArray Tooltip(ResultSet results, MetricKey metric) => new(
        N("checkpoint_id", "Checkpoint"),
        N("architecture", ArchitectureTitle),
        N("width", WidthTitle),
        Q("x", Title(results, HeadlineMetrics.L0)),
        Q("y", Title(results, metric)));

    /// <summary>Dashed horizontal rules (with labels) at the metric's value for each PCA/identity checkpoint.</summary>
    private static IEnumerable<JsonNode> BaselineLayers(ResultSet results, MetricKey metric)
    {
        var baselines = results.Checkpoints.Where(c => c.IsBaseline)
            .Select(c => (c, v: results.Value(c.Id, metric)))
            .Where(t => t.v is { } v && Finite(v))
            .ToList();
        if (baselines.Count == 0) yield break;
        var rows = baselines.Select(t =>
        {
            var arch = t.c.Architecture!.ToLowerInvariant();
            var label = baselines.Count(b => b.c.Architecture!.Equals(arch, StringComparison.OrdinalIgnoreCase)) > 1 ? $"{arch} ({t.c.Id})" : arch;
            return new JsonObject { ["baseline"] = label, ["checkpoint_id"] = t.c.Id, ["y"] = t.v!.Value };
        }).ToList();
        yield return new JsonObject
        {
            ["data"] = Values(rows),
            ["mark"] = new JsonObject { ["type"] = "rule", ["color"] = "#555555", ["strokeWidth"] = 1.2 },
            ["encoding"] = new JsonObject
            {
                ["y"] = new JsonObject { ["field"] = "y", ["type"] = "quantitative" },
                ["strokeDash"] = N("baseline", "Baseline"),
                ["tooltip"] = new JsonArray(N("checkpoint_id", "Checkpoint"), N("baseline", "Baseline"), Q("y", "Value")),
            },
        };
        yield return new JsonObject
        {
            ["data"] = Values(rows.Select(r => (JsonObject)r.DeepClone())),
            ["mark"] = new JsonObject { ["type"] = "text", ["align"] = "left", ["dx"] = 2, ["dy"] = -6, ["fontSize"] = 9, ["color"] = "#555555" },
            ["encoding"] = new JsonObject
            {
                ["y"] = new JsonObject { ["field"] = "y", ["type"] = "quantitative" },
                ["x"] = new JsonObject { ["value"] = 0 },
                ["text"] = new JsonObject { ["field"] = "baseline" },
            },
        };
    }

    private static IEnumerable<JsonNode> OptimalMarker(Point best)
    {
        var row = new JsonObject { ["checkpoint_id"] = best.CheckpointId, ["x"] = best.X, ["y"] = best.Y, ["label"] = "MDL-optimal" };
        yield return new JsonObject
        {
            ["data"] = Values([row]),
            ["mark"] = new JsonObject { ["type"] = "point", ["shape"] = "circle", ["size"] = 260, ["filled"] = false, ["color"] = "black", ["strokeWidth"] = 2 },
            ["encoding"] = new JsonObject
            {
                ["x"] = new JsonObject { ["field"] = "x", ["type"] = "quantitative" },
                ["y"] = new JsonObject { ["field"] = "y", ["type"] = "quantitative" },
                ["tooltip"] = new JsonArray(N("checkpoint_id", "MDL-optimal checkpoint")),
            },
        };
        yield return new JsonObject
        {
            ["data"] = Values([(JsonObject)row.DeepClone()]),
            ["mark"] = new JsonObject { ["type"] = "text", ["align"] = "left", ["dx"] = 10, ["dy"] = -10, ["fontSize"] = 9, ["fontWeight"] = "bold" },
            ["encoding"] = new JsonObject
            {
                ["x"] = new JsonObject { ["field"] = "x", ["type"] = "quantitative" },
                ["y"] = new JsonObject { ["field"] = "y", ["type"] = "quantitative" },
                ["text"] = new JsonObject { ["field"] = "label" },
            },
        };
    }

    /// <summary>A file-name-safe form of an evaluator id.</summary>
    public static string Slug(string s) => new(s.Select(ch => char.IsAsciiLetterOrDigit(ch) || ch is '_' or '-' ? ch : '_').ToArray());

    private static JsonObject Also(this JsonObject o, Action<JsonObject> change) { change(o); return o; }
}
