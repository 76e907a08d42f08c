using SaeBench.Core.Evaluation;
using SaeBench.Core.Results;
using System.Text;
using System.Text.Json.Nodes;
using SaeBench.Reporting.Figures;
using SaeBench.Reporting.Results;
using SaeBench.Reporting.Tables;
using static SaeBench.Reporting.Html.HtmlText;

namespace SaeBench.Reporting.Html;

/// <summary>The JavaScript libraries report.html inlines: vega, vega-lite and vega-embed, vendored under
/// <c>Html/vendor/</c> (versions and licences there) and embedded in this assembly, so a report needs no Node.js, npm or
/// network at run time.</summary>
public sealed record ScriptLibraries(string Vega, string VegaLite, string VegaEmbed)
{
    /// <summary>The vendored libraries (read from this assembly's resources on first use).</summary>
    public static ScriptLibraries Embedded => Lazy.Value;

    private static readonly Lazy<ScriptLibraries> Lazy = new(() => new ScriptLibraries(
        Vendor("vega.min.js"), Vendor("vega-lite.min.js"), Vendor("vega-embed.min.js")));

    private static string Vendor(string name)
    {
        using var s = typeof(ScriptLibraries).Assembly.GetManifestResourceStream("html/vendor/" + name)
            ?? throw new InvalidOperationException($"embedded resource html/vendor/{name} is missing");
        using var r = new StreamReader(s);
        return r.ReadToEnd();
    }
}

/// <summary><c>report.html</c>: one self-contained file (opens offline from file://). With <see cref="ScriptLibraries"/>
/// it has the interactive chart (choose x and y, filter architectures and widths, tooltips); without, a
/// table-only report with a note. The table of all metrics is always there and sortable. Every
/// user-provided string is escaped (<see cref="HtmlText"/>).</summary>
public static class HtmlReport
{
    public static string Build(ResultSet results, FigureOptions options, ScriptLibraries? libraries, string? unavailableReason, IReadOnlyList<string> figureLinks)
    {
        var keys = results.MetricKeys.Where(results.HasValues).ToList();
        var optimal = MdlSelection.Optimal(results, options.MdlFvuTarget);
        string Arch(ResultCheckpoint c) => c.Architecture ?? "unknown";
        string Width(ResultCheckpoint c) => c.Width ?? "unknown";
        var architectures = Palette.Order(results.Checkpoints.Select(Arch)).ToList();
        var widths = FigureBuilder.SortWidths(results.Checkpoints.Select(Width));

        var sb = new StringBuilder();
        sb.AppendLine("<!DOCTYPE html>");
        sb.AppendLine("<html lang=\"en\"><head><meta charset=\"utf-8\">");
        sb.AppendLine("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">");
        sb.AppendLine("<title>SaeBench.Net report</title>");
        sb.Append("<style>").Append(Resource("report.css")).AppendLine("</style>");
        sb.AppendLine("</head><body>");
        sb.AppendLine("<h1>SaeBench.Net report</h1>");
        sb.AppendLine($"<p class=\"meta\">Results: <code>{Escape(results.Root)}</code> · {results.Checkpoints.Count} checkpoint(s) · " +
                      $"{results.Results.Count} result file(s) · evaluators: {Escape(string.Join(", ", results.Results.Select(r => r.EvalTypeId).Distinct().Order(StringComparer.Ordinal)))}" +
                      (optimal is null ? "" : $" · MDL-optimal (FVU ≤ {options.MdlFvuTarget.ToString("R", System.Globalization.CultureInfo.InvariantCulture)}): <code>{Escape(optimal)}</code> ★") + "</p>");

        if (results.Problems.Count > 0)
        {
            sb.AppendLine("<details class=\"note\"><summary>" + results.Problems.Count + " file problem(s): skipped or questionable</summary><ul class=\"problems\">");
            foreach (var p in results.Problems) sb.AppendLine($"<li>{Escape(p.File)}: {Escape(p.Message)}</li>");
            sb.AppendLine("</ul></details>");
        }
        var notDone = results.Results.Where(r => r.Status != JobStatus.Done).ToList();
        if (notDone.Count > 0)
        {
            sb.AppendLine("<details class=\"note\"><summary>" + notDone.Count + " job(s) failed or not applicable</summary><ul class=\"problems\">");
            foreach (var r in notDone) sb.AppendLine($"<li>{Escape(r.EvalTypeId)} · {Escape(r.Checkpoint.Id)}: {Escape(JobStatuses.Name(r.Status))} — {Escape(r.Error ?? "")}</li>");
            sb.AppendLine("</ul></details>");
        }

        var meanings = MetricMeanings.For(results);
        if (meanings.Count > 0)
        {
            sb.AppendLine("<h2>What the metrics measure here</h2><ul class=\"meanings\">");
            foreach (var m in meanings) sb.AppendLine($"<li>{Escape(m)}</li>");
            sb.AppendLine("</ul>");
        }

        sb.AppendLine("<h2>Filters</h2><div class=\"controls\">");
        Checkboxes(sb, "architecture", "Architectures", architectures);
        Checkboxes(sb, "width", "Widths (latents)", widths);
        sb.AppendLine("</div>");

        sb.AppendLine("<h2>Chart</h2>");
        if (libraries is not null && keys.Count > 0)
        {
            var defaultX = keys.Contains(HeadlineMetrics.L0) ? HeadlineMetrics.L0 : keys[0];
            var defaultY = HeadlineMetrics.All.Select(h => h.Key).Where(k => keys.Contains(k) && k != defaultX).Cast<MetricKey?>().FirstOrDefault()
                           ?? keys.Where(k => k != defaultX).Cast<MetricKey?>().FirstOrDefault();
            sb.AppendLine("<div class=\"controls\">");
            MetricSelect(sb, results, "x-metric", "x", keys, defaultX);
            MetricSelect(sb, results, "y-metric", "y", keys, defaultY ?? defaultX);
            sb.AppendLine($"<label><input type=\"checkbox\" id=\"log-x\"{(defaultX == HeadlineMetrics.L0 ? " checked" : "")}> log x</label>");
            sb.AppendLine("<label><input type=\"checkbox\" id=\"log-y\"> log y</label>");
            sb.AppendLine("</div>");
            sb.AppendLine("<div id=\"chart\"></div><p id=\"chart-status\"></p>");
        }
        else
        {
            sb.AppendLine($"<p class=\"note\">Interactive chart unavailable: {Escape(unavailableReason ?? (keys.Count == 0 ? "no metric has a value" : "JavaScript libraries not available"))}. " +
                          "The table below has every metric; the figure specs are in <code>figures/</code>.</p>");
        }

        if (figureLinks.Count > 0)
        {
            sb.AppendLine("<h2>Figures</h2><ul>");
            foreach (var f in figureLinks) sb.AppendLine($"<li><a href=\"{Escape(f)}\">{Escape(f)}</a></li>");
            sb.AppendLine("</ul>");
        }

        sb.AppendLine("<h2>All metrics</h2><p class=\"meta\">Click a column header to sort.</p>");
        sb.AppendLine("<div class=\"table-wrap\"><table id=\"metrics-table\"><thead><tr>");
        sb.Append("<th>Checkpoint</th><th>Architecture</th><th>Width</th><th>Target L0</th>");
        foreach (var k in keys)
            sb.Append($"<th title=\"{Escape(k.ToString())}\">{Escape(VegaLiteWriter.Title(results, k))}<span class=\"eval\">{Escape(k.EvalTypeId)}</span></th>");
        sb.AppendLine("</tr></thead><tbody>");
        foreach (var c in results.Checkpoints)
        {
            sb.Append($"<tr data-architecture=\"{Escape(Arch(c))}\" data-width=\"{Escape(Width(c))}\"{(c.Id == optimal ? " class=\"mdl-optimal\"" : "")}>");
            sb.Append($"<td>{Escape(c.Id)}</td><td>{Escape(c.Architecture ?? "")}</td><td data-value=\"{Escape(c.WidthValue is { } w ? CsvTables.Number(w) : "")}\">{Escape(c.Width ?? "")}</td><td>{Escape(c.TargetL0 ?? "")}</td>");
            foreach (var k in keys)
            {
                var v = results.Value(c.Id, k);
                sb.Append($"<td class=\"num\" data-value=\"{CsvTables.Number(v)}\">{Escape(SummaryMarkdown.Format(v))}</td>");
            }
            sb.AppendLine("</tr>");
        }
        sb.AppendLine("</tbody></table></div>");
        UnlearningSection(sb, results);

        sb.Append("<script type=\"application/json\" id=\"report-data\">")
          .Append(ScriptJson(Data(results, keys, architectures, widths, optimal).ToJsonString(ResultJson.Compact)))
          .AppendLine("</script>");
        if (libraries is not null)
        {
            foreach (var js in new[] { libraries.Vega, libraries.VegaLite, libraries.VegaEmbed })
                sb.Append("<script>").Append(InlineScript(js)).AppendLine("</script>");
        }
        sb.Append("<script>").Append(Resource("report.js")).AppendLine("</script>");
        sb.AppendLine("</body></html>");
        return sb.ToString();
    }

    private static JsonObject Data(ResultSet results, List<MetricKey> keys, List<string> architectures, List<string> widths, string? optimal)
    {
        var styles = Palette.For(architectures);
        var metrics = new JsonArray();
        foreach (var k in keys)
        {
            var d = results.Descriptor(k);
            metrics.Add(new JsonObject
            {
                ["key"] = k.ToString(),
                ["title"] = VegaLiteWriter.Title(results, k),
                ["higher_is_better"] = d?.HigherIsBetter,
            });
        }
        var rows = new JsonArray();
        foreach (var c in results.Checkpoints)
        {
            var values = new JsonObject();
            foreach (var k in keys)
                if (results.Value(c.Id, k) is { } v && double.IsFinite(v)) values[k.ToString()] = v;
            rows.Add(new JsonObject
            {
                ["checkpoint_id"] = c.Id,
                ["architecture"] = c.Architecture ?? "unknown",
                ["width"] = c.Width ?? "unknown",
                ["values"] = values,
            });
        }
        return new JsonObject
        {
            ["metrics"] = metrics,
            ["rows"] = rows,
            ["architectures"] = Strings(architectures),
            ["colors"] = Strings(architectures.Select(a => styles[a].Color)),
            ["shapes"] = Strings(architectures.Select(a => styles[a].Marker.ToString())),
            ["widths"] = Strings(widths),
            ["mdl_optimal"] = optimal,
        };
    }

    private static JsonArray Strings(IEnumerable<string> items) => new(items.Select(s => (JsonNode?)JsonValue.Create(s)).ToArray());

    /// <summary>The unlearning evaluator's per-configuration table (see <see cref="UnlearningTable"/>), when there is one.</summary>
    private static void UnlearningSection(StringBuilder sb, ResultSet results)
    {
        var tables = UnlearningTable.Read(results);
        if (tables.Count == 0) return;
        sb.AppendLine("<h2>Unlearning per configuration</h2><p class=\"meta\">Forget accuracy / retain accuracy per configuration; the score is " +
                      "1 − the lowest forget accuracy (◀) among configurations meeting the retain cut. ✗ below the cut; ? the cut lies inside the " +
                      "retain accuracy's 95 % interval.</p>");
        foreach (var group in tables.GroupBy(t => string.Join(";", t.Rows.Select(UnlearningTable.Label))))
        {
            sb.Append("<div class=\"table-wrap\"><table class=\"unlearning\"><thead><tr><th>Checkpoint</th><th>Score</th>");
            foreach (var r in group.First().Rows) sb.Append($"<th>{Escape(UnlearningTable.Label(r))}</th>");
            sb.AppendLine("</tr></thead><tbody>");
            foreach (var (checkpoint, score, minRetain, rows) in group)
            {
                var scoring = UnlearningTable.Scoring(rows, minRetain);
                sb.Append($"<tr><td>{Escape(checkpoint)}</td><td class=\"num\">{Escape(SummaryMarkdown.Format(score))}</td>");
                foreach (var r in rows) sb.Append($"<td class=\"num\">{Escape(UnlearningTable.Cell(r, minRetain, ReferenceEquals(r, scoring)))}</td>");
                sb.AppendLine("</tr>");
            }
            sb.AppendLine("</tbody></table></div>");
        }
    }

    private static void Checkboxes(StringBuilder sb, string filter, string legend, List<string> values)
    {
        sb.Append($"<fieldset><legend>{Escape(legend)}</legend>");
        foreach (var v in values)
            sb.Append($"<label><input type=\"checkbox\" data-filter=\"{filter}\" value=\"{Escape(v)}\" checked> {Escape(v)}</label>");
        sb.AppendLine("</fieldset>");
    }

    private static void MetricSelect(StringBuilder sb, ResultSet results, string id, string label, List<MetricKey> keys, MetricKey selected)
    {
        sb.Append($"<label>{label}: <select id=\"{id}\">");
        foreach (var group in keys.GroupBy(k => k.EvalTypeId))
        {
            sb.Append($"<optgroup label=\"{Escape(group.Key)}\">");
            foreach (var k in group)
                sb.Append($"<option value=\"{Escape(k.ToString())}\"{(k == selected ? " selected" : "")}>{Escape(VegaLiteWriter.Title(results, k))}</option>");
            sb.Append("</optgroup>");
        }
        sb.AppendLine("</select></label>");
    }

    private static string Resource(string name)
    {
        using var s = typeof(HtmlReport).Assembly.GetManifestResourceStream("html/" + name)
            ?? throw new InvalidOperationException($"embedded resource html/{name} is missing");
        using var r = new StreamReader(s);
        return r.ReadToEnd();
    }
}
