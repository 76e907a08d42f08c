using SaeBench.Core.Evaluation;
using SaeBench.Core.Results;
using System.Text.Json.Nodes;
using SaeBench.Reporting.Results;

namespace SaeBench.Reporting.Figures;

/// <summary>Small builders for the Vega-Lite JSON this assembly writes. Field names in data rows never
/// contain dots (Vega-Lite reads a dot as nested access), so metric ids stay out of field names.</summary>
internal static class VegaLite
{
    public const string Schema = "https://vega.github.io/schema/vega-lite/v6.json";
    public const string Font = "DejaVu Sans";

    public static JsonObject Top(string title, string? subtitle) => new()
    {
        ["$schema"] = Schema,
        ["title"] = subtitle is null ? title : new JsonObject { ["text"] = title, ["subtitle"] = subtitle },
        ["background"] = "white",
        ["config"] = new JsonObject
        {
            ["font"] = Font,
            ["title"] = new JsonObject { ["fontSize"] = 15, ["subtitleFontSize"] = 11, ["anchor"] = "start" },
            ["axis"] = new JsonObject { ["labelFontSize"] = 10, ["titleFontSize"] = 11 },
            ["legend"] = new JsonObject { ["labelFontSize"] = 10, ["titleFontSize"] = 11 },
        },
    };

    public static JsonObject Q(string field, string title, JsonObject? scale = null)
    {
        var o = new JsonObject { ["field"] = field, ["type"] = "quantitative", ["title"] = title };
        if (scale is not null) o["scale"] = scale;
        return o;
    }

    public static JsonObject N(string field, string title, IEnumerable<string>? domain = null)
    {
        var o = new JsonObject { ["field"] = field, ["type"] = "nominal", ["title"] = title };
        if (domain is not null) o["scale"] = new JsonObject { ["domain"] = Array(domain) };
        return o;
    }

    /// <summary>A log scale on the data's own range (no rounding out to powers of ten), padded a few pixels.</summary>
    public static JsonObject LogScale(int? @base = null)
    {
        var o = new JsonObject { ["type"] = "log", ["nice"] = false, ["padding"] = 10 };
        if (@base is { } b) o["base"] = b;
        return o;
    }

    public static JsonObject NoZero() => new() { ["zero"] = false };

    public static JsonArray Array(IEnumerable<string> items) => new(items.Select(s => (JsonNode?)JsonValue.Create(s)).ToArray());

    public static JsonArray Array(IEnumerable<JsonNode> items) => new(items.Select(n => (JsonNode?)n).ToArray());

    public static JsonObject Values(IEnumerable<JsonObject> rows) => new() { ["values"] = Array(rows) };

    /// <summary>The axis title of a metric: display name (unit), or the raw key when no descriptor exists.</summary>
    public static string Title(ResultSet results, MetricKey key) => results.Descriptor(key)?.Title ?? key.ToString();

    /// <summary>Widths in numeric order (non-numeric last, by text).</summary>
    public static List<string> SortWidths(IEnumerable<string> widths) => widths.Distinct()
        .OrderBy(w => double.TryParse(w, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var d) ? d : double.MaxValue)
        .ThenBy(w => w, StringComparer.Ordinal).ToList();

    public static bool Finite(double v) => double.IsFinite(v);
}
