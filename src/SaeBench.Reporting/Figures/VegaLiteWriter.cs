using System.Text.Json.Nodes;
using SaeBench.Reporting.Results;

namespace SaeBench.Reporting.Figures;

/// <summary>
/// Writes a <see cref="Figure"/> as a Vega-Lite spec (<c>figures/NAME.vl.json</c>): one concatenated view per panel with
/// the figure's domains, ticks, colours, markers, sizes and line patterns as explicit scales, so that opening the spec in
/// the Vega editor shows what the static images show. Field names in data rows never contain dots (Vega-Lite reads a
/// dot as nested access).
/// </summary>
public static class VegaLiteWriter
{
    public const string Schema = "https://vega.github.io/schema/vega-lite/v6.json";

    /// <summary>Plot-area size of an x/y panel and the row height of a dot panel, in pixels.</summary>
    public const int PanelWidth = 170, PanelHeight = 125, DotPanelWidth = 150, DotRow = 12;

    public static JsonObject Write(Figure figure)
    {
        var subtitle = new JsonArray();
        subtitle.Add(figure.Subtitle);
        foreach (var n in figure.Notes) subtitle.Add(n);
        var spec = new JsonObject
        {
            ["$schema"] = Schema,
            ["title"] = new JsonObject { ["text"] = figure.Title, ["subtitle"] = subtitle },
            ["background"] = "white",
            ["config"] = new JsonObject
            {
                ["font"] = FigureStyle.Font,
                ["title"] = new JsonObject { ["fontSize"] = FigureStyle.TitleSize, ["subtitleFontSize"] = FigureStyle.SmallSize, ["anchor"] = "start" },
                ["axis"] = new JsonObject { ["labelFontSize"] = FigureStyle.SmallSize, ["titleFontSize"] = FigureStyle.SmallSize, ["titleFontWeight"] = "normal" },
                ["legend"] = new JsonObject { ["labelFontSize"] = FigureStyle.SmallSize, ["titleFontSize"] = FigureStyle.TextSize, ["labelLimit"] = 0 },
                ["header"] = new JsonObject { ["labelLimit"] = 0 },
            },
            ["columns"] = figure.Columns,
        };
        var concat = new JsonArray();
        for (int i = 0; i < figure.Panels.Count; i++)
            concat.Add(figure.Panels[i] switch
            {
                XyPanel p => Xy(figure, p),
                DotPanel d => Dots(figure, d, showLabels: i % figure.Columns == 0),
                _ => throw new NotSupportedException(figure.Panels[i].GetType().Name),
            });
        spec["concat"] = concat;
        spec["resolve"] = new JsonObject
        {
            ["scale"] = new JsonObject { ["color"] = "shared", ["shape"] = "shared", ["size"] = "shared", ["strokeDash"] = "shared" },
        };
        return spec;
    }

    private static JsonObject PanelTitle(Panel p) => p.Note is { Length: > 0 } note
        ? new JsonObject { ["text"] = p.Title, ["subtitle"] = note, ["fontSize"] = FigureStyle.TextSize, ["subtitleFontSize"] = FigureStyle.SmallSize }
        : new JsonObject { ["text"] = p.Title, ["fontSize"] = FigureStyle.TextSize };

    private static JsonObject Xy(Figure figure, XyPanel p)
    {
        var rows = new List<JsonObject>();
        foreach (var s in p.Series)
            foreach (var pt in s.Points)
            {
                var row = new JsonObject
                {
                    ["series"] = s.Label,
                    ["connect"] = s.Connect,
                    ["color_key"] = s.ColorKey,
                    ["x"] = pt.X,
                    ["y"] = pt.Y,
                    ["checkpoints"] = string.Join(", ", pt.Checkpoints),
                };
                if (s.SizeKey is not null) row["size_key"] = s.SizeKey;
                if (pt.YError is { } e) { row["y_lo"] = pt.Y - e; row["y_hi"] = pt.Y + e; row["sd"] = e; }
                rows.Add(row);
            }
        var x = Axis("x", p.X, figure.SharedXTitle ?? p.X.Title);
        var y = Axis("y", p.Y, p.Y.Title);
        var color = ColorEncoding(figure);
        var layers = new JsonArray();
        layers.Add(new JsonObject
        {
            ["transform"] = new JsonArray(new JsonObject { ["filter"] = "datum.connect" }),
            ["mark"] = new JsonObject { ["type"] = "line", ["strokeWidth"] = 1.2, ["opacity"] = 0.8 },
            ["encoding"] = new JsonObject
            {
                ["x"] = x.DeepClone(), ["y"] = y.DeepClone(), ["color"] = color.DeepClone(),
                ["detail"] = new JsonObject { ["field"] = "series", ["type"] = "nominal" },
                ["order"] = new JsonObject { ["field"] = "x", ["type"] = "quantitative" },
            },
        });
        if (rows.Any(r => r.ContainsKey("y_lo")))
            layers.Add(new JsonObject
            {
                ["transform"] = new JsonArray(new JsonObject { ["filter"] = "isValid(datum.y_lo)" }),
                ["mark"] = new JsonObject { ["type"] = "rule", ["strokeWidth"] = 1 },
                ["encoding"] = new JsonObject
                {
                    ["x"] = x.DeepClone(),
                    ["y"] = new JsonObject { ["field"] = "y_lo", ["type"] = "quantitative", ["scale"] = Scale(p.Y) },
                    ["y2"] = new JsonObject { ["field"] = "y_hi" },
                    ["color"] = color.DeepClone(),
                },
            });
        var points = new JsonObject
        {
            ["mark"] = new JsonObject { ["type"] = "point", ["filled"] = true, ["opacity"] = 1 },
            ["encoding"] = new JsonObject
            {
                ["x"] = x.DeepClone(), ["y"] = y.DeepClone(), ["color"] = color.DeepClone(), ["shape"] = ShapeEncoding(figure),
                ["tooltip"] = new JsonArray(
                    new JsonObject { ["field"] = "checkpoints", ["type"] = "nominal", ["title"] = "Checkpoint(s)" },
                    new JsonObject { ["field"] = "series", ["type"] = "nominal", ["title"] = "Series" },
                    new JsonObject { ["field"] = "x", ["type"] = "quantitative", ["title"] = figure.SharedXTitle ?? p.X.Title },
                    new JsonObject { ["field"] = "y", ["type"] = "quantitative", ["title"] = p.Title }),
            },
        };
        if (SizeEncoding(figure) is { } size) points["encoding"]!["size"] = size;
        else points["mark"]!["size"] = Area(FigureStyle.MarkerSize);
        layers.Add(points);
        if (p.References.Count > 0)
            layers.Add(new JsonObject
            {
                ["data"] = Values(p.References.Select(r => new JsonObject { ["baseline"] = r.Label, ["checkpoint_id"] = r.CheckpointId, ["y"] = r.Y })),
                ["mark"] = new JsonObject { ["type"] = "rule", ["color"] = FigureStyle.Ink, ["strokeWidth"] = 1 },
                ["encoding"] = new JsonObject
                {
                    ["y"] = new JsonObject { ["field"] = "y", ["type"] = "quantitative", ["scale"] = Scale(p.Y) },
                    ["strokeDash"] = DashEncoding(figure),
                    ["tooltip"] = new JsonArray(
                        new JsonObject { ["field"] = "baseline", ["type"] = "nominal", ["title"] = "Baseline" },
                        new JsonObject { ["field"] = "y", ["type"] = "quantitative", ["title"] = p.Title }),
                },
            });
        if (p.Highlights.Count > 0)
            layers.Add(new JsonObject
            {
                ["data"] = Values(p.Highlights.Select(h => new JsonObject { ["label"] = h.Label, ["checkpoint_id"] = h.CheckpointId, ["x"] = h.X, ["y"] = h.Y })),
                ["mark"] = new JsonObject { ["type"] = "point", ["shape"] = "circle", ["filled"] = false, ["size"] = Area(15), ["color"] = FigureStyle.Ink, ["strokeWidth"] = 1.5 },
                ["encoding"] = new JsonObject
                {
                    ["x"] = new JsonObject { ["field"] = "x", ["type"] = "quantitative", ["scale"] = Scale(p.X) },
                    ["y"] = new JsonObject { ["field"] = "y", ["type"] = "quantitative", ["scale"] = Scale(p.Y) },
                    ["tooltip"] = new JsonArray(new JsonObject { ["field"] = "checkpoint_id", ["type"] = "nominal", ["title"] = "MDL-optimal" }),
                },
            });
        return new JsonObject
        {
            ["title"] = PanelTitle(p),
            ["width"] = PanelWidth,
            ["height"] = PanelHeight,
            ["data"] = Values(rows),
            ["layer"] = layers,
        };
    }

    private static JsonObject Dots(Figure figure, DotPanel p, bool showLabels)
    {
        var rows = p.Dots.Select(d => new JsonObject
        {
            ["category"] = p.Categories[d.Category],
            ["color_key"] = d.ColorKey,
            ["value"] = d.Value,
        });
        return new JsonObject
        {
            ["title"] = PanelTitle(p),
            ["width"] = DotPanelWidth,
            ["height"] = new JsonObject { ["step"] = DotRow },
            ["data"] = Values(rows),
            ["mark"] = new JsonObject { ["type"] = "point", ["filled"] = true, ["opacity"] = 1, ["size"] = Area(FigureStyle.MarkerSize) },
            ["encoding"] = new JsonObject
            {
                ["x"] = Axis("value", p.Value, p.Value.Title),
                ["y"] = new JsonObject
                {
                    ["field"] = "category", ["type"] = "nominal", ["title"] = null,
                    ["sort"] = new JsonArray(p.Categories.Select(c => (JsonNode?)JsonValue.Create(c)).ToArray()),
                    ["scale"] = new JsonObject { ["domain"] = new JsonArray(p.Categories.Select(c => (JsonNode?)JsonValue.Create(c)).ToArray()) },
                    ["axis"] = new JsonObject { ["labels"] = showLabels, ["labelLimit"] = 0, ["ticks"] = showLabels, ["grid"] = true },
                },
                ["color"] = ColorEncoding(figure),
                ["shape"] = ShapeEncoding(figure),
                ["tooltip"] = new JsonArray(
                    new JsonObject { ["field"] = "category", ["type"] = "nominal", ["title"] = "Checkpoint" },
                    new JsonObject { ["field"] = "value", ["type"] = "quantitative", ["title"] = p.Title }),
            },
        };
    }

    private static JsonObject Axis(string field, Axis axis, string title)
    {
        var o = new JsonObject { ["field"] = field, ["type"] = "quantitative", ["title"] = title, ["scale"] = Scale(axis) };
        if (axis.Ticks is { Count: > 0 } ticks)
            o["axis"] = new JsonObject
            {
                ["values"] = new JsonArray(ticks.Select(t => (JsonNode?)JsonValue.Create(t.Value)).ToArray()),
                ["labelExpr"] = LabelExpression(ticks),
            };
        return o;
    }

    /// <summary>The tick labels the builder chose, looked up by value (so both renderers print the same text).</summary>
    private static string LabelExpression(IReadOnlyList<Tick> ticks)
    {
        var expr = "datum.label";
        foreach (var t in ticks.Reverse())
            expr = $"abs(datum.value - {t.Value.ToString("R", System.Globalization.CultureInfo.InvariantCulture)}) < {Math.Max(Math.Abs(t.Value) * 1e-9, 1e-12).ToString("R", System.Globalization.CultureInfo.InvariantCulture)} ? '{t.Label.Replace("'", "\\'")}' : {expr}";
        return expr;
    }

    private static JsonObject Scale(Axis axis)
    {
        var o = new JsonObject
        {
            ["domain"] = new JsonArray(axis.Min, axis.Max),
            ["nice"] = false,
        };
        if (axis.Scale == ScaleKind.Linear) o["zero"] = false;
        else
        {
            o["type"] = "log";
            o["base"] = axis.Scale == ScaleKind.Log2 ? 2 : 10;
        }
        return o;
    }

    private static LegendGroup? Group(Figure figure, LegendKind kind) => figure.Legend.FirstOrDefault(g => g.Kind == kind);

    private static JsonObject ColorEncoding(Figure figure)
    {
        var g = Group(figure, LegendKind.Color);
        return new JsonObject
        {
            ["field"] = "color_key", ["type"] = "nominal", ["title"] = g?.Title ?? "Architecture",
            ["scale"] = g is null ? new JsonObject() : new JsonObject
            {
                ["domain"] = Strings(g.Entries.Select(e => e.Key)),
                ["range"] = Strings(g.Entries.Select(e => e.Color)),
            },
        };
    }

    private static JsonObject ShapeEncoding(Figure figure)
    {
        var g = Group(figure, LegendKind.Color);
        return new JsonObject
        {
            ["field"] = "color_key", ["type"] = "nominal", ["title"] = g?.Title ?? "Architecture",
            ["scale"] = g is null ? new JsonObject() : new JsonObject
            {
                ["domain"] = Strings(g.Entries.Select(e => e.Key)),
                ["range"] = Strings(g.Entries.Select(e => ShapeName(e.Marker))),
            },
        };
    }

    private static JsonObject? SizeEncoding(Figure figure)
    {
        if (Group(figure, LegendKind.Size) is not { } g) return null;
        return new JsonObject
        {
            ["field"] = "size_key", ["type"] = "ordinal", ["title"] = g.Title,
            ["scale"] = new JsonObject
            {
                ["domain"] = Strings(g.Entries.Select(e => e.Key)),
                ["range"] = new JsonArray(g.Entries.Select(e => (JsonNode?)JsonValue.Create(Area(e.Size))).ToArray()),
            },
        };
    }

    private static JsonObject DashEncoding(Figure figure)
    {
        var g = Group(figure, LegendKind.Reference);
        return new JsonObject
        {
            ["field"] = "baseline", ["type"] = "nominal", ["title"] = g?.Title ?? "Baseline",
            ["scale"] = g is null ? new JsonObject() : new JsonObject
            {
                ["domain"] = Strings(g.Entries.Select(e => e.Key)),
                ["range"] = new JsonArray(g.Entries.Select(e => (JsonNode?)Dash(e.Line)).ToArray()),
            },
        };
    }

    private static JsonArray Dash(LinePattern p) => p switch
    {
        LinePattern.Dashed => new JsonArray(6, 4),
        LinePattern.Dotted => new JsonArray(1.5, 3),
        _ => new JsonArray(1, 0),
    };

    /// <summary>Vega's point size is an area in square pixels.</summary>
    private static double Area(double diameter) => Math.Round(diameter * diameter * 1.3, 1);

    private static string ShapeName(MarkerShape m) => m switch
    {
        MarkerShape.Square => "square",
        MarkerShape.Diamond => "diamond",
        MarkerShape.TriangleUp => "triangle-up",
        MarkerShape.TriangleDown => "triangle-down",
        MarkerShape.Cross => "cross",
        _ => "circle",
    };

    private static JsonArray Strings(IEnumerable<string> items) => new(items.Select(s => (JsonNode?)JsonValue.Create(s)).ToArray());

    private static JsonObject Values(IEnumerable<JsonObject> rows) => new() { ["values"] = new JsonArray(rows.Select(r => (JsonNode?)r).ToArray()) };

    /// <summary>The axis title of a metric: display name (unit), or the raw key when no descriptor exists.</summary>
    public static string Title(ResultSet results, MetricKey key) => results.Descriptor(key)?.Title ?? key.ToString();
}
