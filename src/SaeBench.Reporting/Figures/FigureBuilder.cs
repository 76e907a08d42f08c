using System.Globalization;
using SaeBench.Core.Results;
using SaeBench.Reporting.Results;

namespace SaeBench.Reporting.Figures;

/// <summary>
/// Builds every figure of a report as a <see cref="Figure"/> description (the one place that decides what is drawn).
/// Rules every figure follows: a line only ever joins checkpoints of one architecture (and one width, or one L0 target
/// in the width-scaling figure); checkpoints that differ only in their seed are one point at their mean with ±1 sample
/// standard deviation as error bars; baselines are drawn only for metrics where they apply; small multiples of one
/// metric share both scales; domains are padded so no mark is clipped; every architecture has its own colour and marker
/// (<see cref="Palette"/>). A metric nobody measured leaves its figure or panel out; it is never an error.
/// </summary>
public static class FigureBuilder
{
    /// <summary>Tag that tells seeds apart; checkpoints equal in every other tag are one configuration.</summary>
    public const string SeedTag = "seed";

    private const string ArchitectureTitle = "Architecture";
    private const string WidthTitle = "Width (latents)";
    private const string TargetL0Title = "Target L0";
    private const string BaselineTitle = "Baseline";

    /// <summary>All figures in a fixed order: the architecture figure, L0 frontiers, width scaling, per-evaluator summaries.</summary>
    public static IReadOnlyList<Figure> All(ResultSet results, FigureOptions options)
    {
        var figures = new List<Figure>();
        if (ArchitectureComparison(results, options) is { } a) figures.Add(a);
        foreach (var m in HeadlinePanels.For(results))
            if (L0Frontier(results, m) is { } f) figures.Add(f);
        if (WidthScaling(results) is { } w) figures.Add(w);
        figures.AddRange(EvaluatorSummaries(results));
        return figures;
    }

    /// <summary>SAEBench's multi-panel figure: L0 (log x, shared by every panel) vs each headline metric, colour and
    /// marker = architecture, marker size = width, a line through the checkpoints of one architecture and width, the
    /// baselines that apply as reference lines, the MDL-optimal checkpoint ringed. Null when no headline metric has data.</summary>
    public static Figure? ArchitectureComparison(ResultSet results, FigureOptions options)
    {
        var configs = Configurations(results);
        var all = HeadlinePanels.For(results).Select(m => (Metric: m, Points: L0Points(results, configs, m.Key))).Where(t => t.Points.Count > 0).ToList();
        if (all.Count == 0) return null;
        var optimal = MdlSelection.Optimal(results, options.MdlFvuTarget);
        var architectures = Palette.Order(all.SelectMany(t => t.Points).Select(p => p.Config.Architecture));
        var widths = SortWidths(all.SelectMany(t => t.Points).Select(p => p.Config.Width));
        var x = Scales.Log("", all.SelectMany(t => t.Points).Select(p => p.X), ScaleKind.Log10);
        var baselineStyles = BaselineStyles(results, all.Where(t => t.Metric.BaselinesApply).Select(t => t.Metric.Key));

        var panels = new List<Panel>();
        string? optimalAt = null;
        foreach (var (metric, points) in all)
        {
            var refs = metric.BaselinesApply ? References(results, metric.Key) : [];
            var highlights = new List<Highlight>();
            if (optimal is not null && points.FirstOrDefault(p => p.Config.Members.Any(m => m.Id == optimal)) is { } best)
            {
                highlights.Add(new Highlight(best.X, best.Y, "MDL-optimal", optimal));
                optimalAt = optimal;
            }
            var y = Scales.Linear(UnitTitle(results, metric.Key), points.SelectMany(p => p.YExtent).Concat(refs.Select(r => r.Y)));
            panels.Add(new XyPanel(metric.PanelTitle, PanelNote(results, metric), x, y,
                SeriesOf(points, p => p.Config.Architecture + "\u0001" + p.Config.Width, p => $"{p.Config.Architecture}, width {p.Config.Width}",
                    p => p.Config.Width, widths.Count > 1),
                refs, highlights));
        }

        var legend = new List<LegendGroup> { ColorGroup(architectures) };
        if (widths.Count > 1) legend.Add(SizeGroup(WidthTitle, widths));
        if (baselineStyles.Count > 0) legend.Add(new LegendGroup(BaselineTitle, LegendKind.Reference, baselineStyles));
        var target = options.MdlFvuTarget.ToString("R", CultureInfo.InvariantCulture);
        if (optimalAt is not null)
            legend.Add(new LegendGroup("MDL", LegendKind.Highlight, [new LegendEntry(optimalAt, $"MDL-optimal: {optimalAt}", FigureStyle.Ink)]));

        var subtitle = new List<string> { "Lines join the checkpoints of one architecture and width, in L0 order." };
        if (HasErrorBars(panels)) subtitle.Add("Error bars: ±1 s.d. over seeds.");
        if (baselineStyles.Count > 0) subtitle.Add("Baselines: " + DescribeBaselines(baselineStyles) + ".");
        subtitle.Add(optimalAt is null
            ? $"No checkpoint has MDL results with FVU ≤ {target}."
            : $"Ringed: the MDL-optimal checkpoint (smallest description length with FVU ≤ {target}).");
        var notes = new List<string>();
        var missing = HeadlinePanels.For(results).Where(m => all.All(t => t.Metric != m)).Select(m => m.PanelTitle).ToList();
        if (missing.Count > 0) notes.Add("Not measured in this run: " + string.Join(", ", missing) + ".");
        if (baselineStyles.Count > 0)
            notes.Add("Baselines are drawn where they apply: " + string.Join(", ", all.Where(t => t.Metric.BaselinesApply).Select(t => t.Metric.PanelTitle)) + ".");
        return new Figure("architecture_comparison", "SAE architectures: L0 vs headline metrics", string.Join(" ", subtitle),
            panels, Columns(panels.Count), legend, L0Title(results), notes.Concat(JudgeNotes(results, all.Select(t => t.Metric))).ToList());
    }

    /// <summary>L0 (log x) vs one metric: one panel per SAE architecture (all panels on the same x and y scales), one
    /// line per dictionary width, the baselines that apply as reference lines. Null when no checkpoint has both values.</summary>
    public static Figure? L0Frontier(ResultSet results, HeadlineMetric metric)
    {
        var points = L0Points(results, Configurations(results), metric.Key);
        if (points.Count == 0) return null;
        var widths = SortWidths(points.Select(p => p.Config.Width));
        var refs = metric.BaselinesApply ? References(results, metric.Key) : [];
        var x = Scales.Log("", points.Select(p => p.X), ScaleKind.Log10);
        var y = Scales.Linear(UnitTitle(results, metric.Key), points.SelectMany(p => p.YExtent).Concat(refs.Select(r => r.Y)));
        var architectures = Palette.Order(points.Select(p => p.Config.Architecture));
        var panels = architectures.Select(arch => (Panel)new XyPanel(arch, null, x, y,
            SeriesOf(points.Where(p => p.Config.Architecture == arch).ToList(), p => p.Config.Width, p => $"{arch}, width {p.Config.Width}",
                p => p.Config.Width, widths.Count > 1),
            refs, [])).ToList();
        var baselineStyles = BaselineStyles(results, metric.BaselinesApply ? [metric.Key] : []);
        var legend = new List<LegendGroup> { ColorGroup(architectures) };
        if (widths.Count > 1) legend.Add(SizeGroup(WidthTitle, widths));
        if (baselineStyles.Count > 0) legend.Add(new LegendGroup(BaselineTitle, LegendKind.Reference, baselineStyles));
        var subtitle = $"{metric.PanelTitle} ({Direction(results, metric.Key)}) per architecture; lines join the checkpoints of one width, in L0 order. " +
                       "Every panel has the same scales." + (HasErrorBars(panels) ? " Error bars: ±1 s.d. over seeds." : "") +
                       (baselineStyles.Count > 0 ? " Baselines: " + DescribeBaselines(baselineStyles) + "." : "");
        var notes = (metric.Variant is { } v ? [$"{metric.PanelTitle}: {v}."] : new List<string>()).Concat(JudgeNotes(results, [metric])).ToList();
        return new Figure("l0_vs_" + metric.Slug, $"L0 vs {metric.PanelTitle}", subtitle, panels, Columns(panels.Count), legend, L0Title(results), notes);
    }

    /// <summary>Dictionary width (log₂ x, shared) vs each headline metric: one line per architecture and target L0 (never
    /// across L0 targets). Null when fewer than two widths have a headline metric: one width scales nothing.</summary>
    public static Figure? WidthScaling(ResultSet results)
    {
        var configs = Configurations(results);
        var perMetric = new List<(HeadlineMetric Metric, List<ConfigPoint> Points)>();
        foreach (var metric in HeadlinePanels.For(results))
        {
            var points = new List<ConfigPoint>();
            foreach (var c in configs)
            {
                if (c.WidthValue is not { } w || w <= 0) continue;
                var ys = Values(results, c, metric.Key);
                if (ys.Count == 0) continue;
                points.Add(new ConfigPoint(c, w, Mean(ys), StdDev(ys), ys.Count));
            }
            if (points.Count > 0) perMetric.Add((metric, points));
        }
        if (perMetric.SelectMany(p => p.Points).Select(p => p.X).Distinct().Count() < 2) return null;
        var architectures = Palette.Order(perMetric.SelectMany(p => p.Points).Select(p => p.Config.Architecture));
        var targets = SortWidths(perMetric.SelectMany(p => p.Points).Select(p => p.Config.TargetL0));
        var x = Scales.Log(WidthTitle, perMetric.SelectMany(p => p.Points).Select(p => p.X), ScaleKind.Log2);
        var panels = new List<Panel>();
        foreach (var (metric, points) in perMetric)
        {
            var refs = metric.BaselinesApply ? References(results, metric.Key) : [];
            var y = Scales.Linear(UnitTitle(results, metric.Key), points.SelectMany(p => p.YExtent).Concat(refs.Select(r => r.Y)));
            panels.Add(new XyPanel(metric.PanelTitle, PanelNote(results, metric), x, y,
                SeriesOf(points, p => p.Config.Architecture + "\u0001" + p.Config.TargetL0, p => $"{p.Config.Architecture}, target L0 {p.Config.TargetL0}",
                    p => p.Config.TargetL0, targets.Count > 1),
                refs, []));
        }
        var baselineStyles = BaselineStyles(results, perMetric.Where(t => t.Metric.BaselinesApply).Select(t => t.Metric.Key));
        var legend = new List<LegendGroup> { ColorGroup(architectures) };
        if (targets.Count > 1) legend.Add(SizeGroup(TargetL0Title, targets));
        if (baselineStyles.Count > 0) legend.Add(new LegendGroup(BaselineTitle, LegendKind.Reference, baselineStyles));
        var subtitle = "Lines join the checkpoints of one architecture and one target L0, in width order." +
                       (HasErrorBars(panels) ? " Error bars: ±1 s.d. over seeds." : "") +
                       (baselineStyles.Count > 0 ? " Baselines: " + DescribeBaselines(baselineStyles) + "." : "");
        return new Figure("width_scaling", "Dictionary-width scaling", subtitle, panels, Columns(panels.Count), legend, "Dictionary width (latents), log scale",
            JudgeNotes(results, perMetric.Select(p => p.Metric)).ToList());
    }

    /// <summary>One figure per evaluator: a dot plot per metric (every checkpoint, full id, colour = architecture), on
    /// the data's own range. Metrics with the same value for every checkpoint are listed in a note instead of drawn.</summary>
    public static IReadOnlyList<Figure> EvaluatorSummaries(ResultSet results)
    {
        var figures = new List<Figure>();
        foreach (var eval in results.EvalTypeIds)
        {
            var keys = results.MetricKeys.Where(k => k.EvalTypeId == eval && results.HasValues(k)).ToList();
            var checkpoints = OrderCheckpoints(results.Checkpoints.Where(c => keys.Any(k => Finite(results.Value(c.Id, k)))));
            if (keys.Count == 0 || checkpoints.Count == 0) continue;
            var constant = new List<string>();
            var drawn = new List<MetricKey>();
            foreach (var k in keys)
            {
                var vs = checkpoints.Select(c => results.Value(c.Id, k)).Where(Finite).Select(v => v!.Value).ToList();
                if (checkpoints.Count > 1 && vs.Count == checkpoints.Count && vs.Max() - vs.Min() <= 1e-12 * Math.Max(1, Math.Abs(vs.Max())))
                    constant.Add($"{Display(results, k)} = {Number(vs[0])}");
                else drawn.Add(k);
            }
            if (drawn.Count == 0) continue;
            var titles = drawn.ToDictionary(k => k, k => Display(results, k));
            foreach (var dup in titles.GroupBy(t => t.Value).Where(g => g.Count() > 1).SelectMany(g => g).ToList())
                titles[dup.Key] = $"{dup.Value} [{dup.Key.MetricId}]";
            var categories = checkpoints.Select(c => c.Id).ToList();
            var panels = new List<Panel>();
            foreach (var k in drawn)
            {
                var dots = new List<Dot>();
                for (int i = 0; i < checkpoints.Count; i++)
                    if (results.Value(checkpoints[i].Id, k) is { } v && double.IsFinite(v))
                        dots.Add(new Dot(i, v, Arch(checkpoints[i]), checkpoints[i].Id));
                var axis = Scales.Linear(Unit(results, k), dots.Select(d => d.Value));
                panels.Add(new DotPanel(titles[k], Direction(results, k), axis, categories, dots));
            }
            var architectures = Palette.Order(checkpoints.Select(Arch));
            var notes = new List<string>();
            if (constant.Count > 0) notes.Add("Same for every checkpoint (not drawn): " + string.Join("; ", constant) + ".");
            notes.AddRange(JudgeNotes(results, eval));
            figures.Add(new Figure("summary_" + Slug(eval), $"Evaluator {eval}: every metric per checkpoint",
                "One row per checkpoint, in the same order in every panel; each panel's axis spans its own data (not from zero).",
                panels, Columns(panels.Count), [ColorGroup(architectures)], null, notes));
        }
        return figures;
    }

    /// <summary>A file-name-safe form of an evaluator id.</summary>
    public static string Slug(string s) => new(s.Select(ch => char.IsAsciiLetterOrDigit(ch) || ch is '_' or '-' ? ch : '_').ToArray());

    /// <summary>Panels per row: three at most, and chosen so that the legend fills the cells a last, partly filled row
    /// would leave empty (with one or two panels the legend sits in the same row).</summary>
    public static int Columns(int panels) => panels <= 2 ? panels + 1 : 3;

    /// <summary>Widths (or L0 targets) in numeric order (non-numeric last, by text).</summary>
    public static List<string> SortWidths(IEnumerable<string> widths) => widths.Distinct()
        .OrderBy(w => double.TryParse(w, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) ? d : double.MaxValue)
        .ThenBy(w => w, StringComparer.Ordinal).ToList();

    // ---- configurations (checkpoints that differ only in their seed) ----

    /// <summary>Checkpoints equal in architecture, width, target L0 and every tag but the seed.</summary>
    internal sealed record Config(string Key, string Architecture, string Width, string TargetL0, IReadOnlyList<ResultCheckpoint> Members)
    {
        /// <summary>The width tag as a number; null when it is not a finite one (a tag "NaN" or "1e999" once reached the figure
        /// JSON, which cannot hold it).</summary>
        public double? WidthValue => double.TryParse(Width, NumberStyles.Float, CultureInfo.InvariantCulture, out var w) && double.IsFinite(w) ? w : null;
    }

    /// <summary>A configuration at one (x, y): the mean over its seeds, with the standard deviation when there are several.</summary>
    internal sealed record ConfigPoint(Config Config, double X, double Y, double? YError, int N)
    {
        public IEnumerable<double> YExtent => YError is { } e ? [Y - e, Y + e] : [Y];
    }

    internal static List<Config> Configurations(ResultSet results) => results.Checkpoints.Where(c => !c.IsBaseline)
        .GroupBy(c => Arch(c) + "\u0001" + (c.Width ?? "") + "\u0001" + (c.TargetL0 ?? "") + "\u0001" +
                      string.Join("\u0002", c.Tags.Where(t => t.Key != SeedTag).OrderBy(t => t.Key, StringComparer.Ordinal).Select(t => t.Key + "=" + t.Value)))
        .Select(g => new Config(g.Key, Arch(g.First()), g.First().Width ?? "unknown", g.First().TargetL0 ?? "unknown",
            g.OrderBy(c => c.Id, StringComparer.Ordinal).ToList()))
        .OrderBy(c => c.Key, StringComparer.Ordinal)
        .ToList();

    /// <summary>Per configuration: mean L0 (positive, for the log axis) and mean metric over the members that have both.</summary>
    private static List<ConfigPoint> L0Points(ResultSet results, List<Config> configs, MetricKey metric)
    {
        var list = new List<ConfigPoint>();
        foreach (var c in configs)
        {
            var pairs = c.Members
                .Select(m => (L0: results.Value(m.Id, HeadlineMetrics.L0), V: results.Value(m.Id, metric)))
                .Where(p => p.L0 is { } l && l > 0 && double.IsFinite(l) && Finite(p.V))
                .Select(p => (L0: p.L0!.Value, V: p.V!.Value)).ToList();
            if (pairs.Count == 0) continue;
            var ys = pairs.Select(p => p.V).ToList();
            list.Add(new ConfigPoint(c, Mean(pairs.Select(p => p.L0).ToList()), Mean(ys), StdDev(ys), ys.Count));
        }
        return list;
    }

    private static List<double> Values(ResultSet results, Config c, MetricKey key) =>
        c.Members.Select(m => results.Value(m.Id, key)).Where(Finite).Select(v => v!.Value).ToList();

    private static List<Series> SeriesOf(List<ConfigPoint> points, Func<ConfigPoint, string> group, Func<ConfigPoint, string> label,
        Func<ConfigPoint, string> sizeKey, bool sized)
    {
        var series = new List<Series>();
        foreach (var g in points.GroupBy(group).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            var sorted = g.OrderBy(p => p.X).ToList();
            var first = sorted[0];
            series.Add(new Series(label(first), first.Config.Architecture, sized ? sizeKey(first) : null,
                sorted.Select(p => new DataPoint(p.X, p.Y, p.YError, p.Config.Members.Select(m => m.Id).ToList())).ToList(),
                Connect: sorted.Count > 1));
        }
        return series;
    }

    // ---- baselines ----

    /// <summary>The PCA/identity checkpoints' values of a metric as reference lines (label: the baseline's kind, with its
    /// id when there are several of that kind).</summary>
    private static List<ReferenceLine> References(ResultSet results, MetricKey metric)
    {
        var baselines = results.Checkpoints.Where(c => c.IsBaseline).ToList();
        var list = new List<ReferenceLine>();
        foreach (var c in baselines)
            if (results.Value(c.Id, metric) is { } v && double.IsFinite(v))
                list.Add(new ReferenceLine(v, BaselineLabel(c, baselines), c.Id));
        return list;
    }

    private static string BaselineLabel(ResultCheckpoint c, List<ResultCheckpoint> baselines)
    {
        var kind = c.Architecture!.Equals("pca", StringComparison.OrdinalIgnoreCase) ? "PCA" : c.Architecture!.ToLowerInvariant();
        return baselines.Count(b => b.Architecture!.Equals(c.Architecture, StringComparison.OrdinalIgnoreCase)) > 1 ? $"{kind} ({c.Id})" : kind;
    }

    /// <summary>One line pattern per baseline that has a value in any of <paramref name="metrics"/>: identity solid, the
    /// others dashed, then dotted.</summary>
    private static List<LegendEntry> BaselineStyles(ResultSet results, IEnumerable<MetricKey> metrics)
    {
        var labels = metrics.SelectMany(m => References(results, m)).Select(r => r.Label).Distinct().ToList();
        var entries = new List<LegendEntry>();
        int other = 0;
        foreach (var label in labels.OrderBy(l => l.StartsWith("identity", StringComparison.Ordinal) ? 0 : 1).ThenBy(l => l, StringComparer.Ordinal))
        {
            var pattern = label.StartsWith("identity", StringComparison.Ordinal) ? LinePattern.Solid
                : other++ % 2 == 0 ? LinePattern.Dashed : LinePattern.Dotted;
            entries.Add(new LegendEntry(label, label, FigureStyle.Ink, Line: pattern));
        }
        return entries;
    }

    private static string DescribeBaselines(List<LegendEntry> styles) =>
        string.Join(", ", styles.Select(s => $"{s.Label} ({s.Line.ToString().ToLowerInvariant()})"));

    // ---- legends, titles, notes ----

    private static LegendGroup ColorGroup(IReadOnlyList<string> architectures)
    {
        var styles = Palette.For(architectures);
        return new LegendGroup(ArchitectureTitle, LegendKind.Color,
            architectures.Select(a => new LegendEntry(a, a, styles[a].Color, styles[a].Marker)).ToList());
    }

    private static LegendGroup SizeGroup(string title, List<string> keys)
    {
        var entries = new List<LegendEntry>();
        for (int i = 0; i < keys.Count; i++)
        {
            double size = keys.Count == 1 ? FigureStyle.MarkerSize : 4 + 5.0 * i / (keys.Count - 1);
            entries.Add(new LegendEntry(keys[i], keys[i], "#777777", MarkerShape.Circle, size));
        }
        return new LegendGroup(title, LegendKind.Size, entries);
    }

    private static string L0Title(ResultSet results)
    {
        var d = results.Descriptor(HeadlineMetrics.L0);
        var name = d?.DisplayName ?? "L0";
        // "L0 (active latents per token)" already says its unit: add only the scale, never a second parenthesis.
        return name.Contains('(', StringComparison.Ordinal) || d?.Unit is not { Length: > 0 } unit ? $"{name}, log scale" : $"{name} ({unit}, log scale)";
    }

    /// <summary>The unit as the y-axis title (the panel title names the metric; the unit is said once, here).</summary>
    private static string UnitTitle(ResultSet results, MetricKey key) => Unit(results, key);

    private static string Unit(ResultSet results, MetricKey key) => results.Descriptor(key)?.Unit ?? "";

    private static string Display(ResultSet results, MetricKey key) => results.Descriptor(key)?.DisplayName ?? key.MetricId;

    private static string Direction(ResultSet results, MetricKey key) => results.Descriptor(key)?.HigherIsBetter switch
    {
        true => "higher is better",
        false => "lower is better",
        null => "no better direction",
    };

    private static string PanelNote(ResultSet results, HeadlineMetric metric)
    {
        var arrow = results.Descriptor(metric.Key)?.HigherIsBetter switch { true => "↑ better", false => "↓ better", null => null };
        return string.Join(" · ", new[] { arrow, metric.Variant }.OfType<string>());
    }

    /// <summary>"Autointerp judge: …" for the headline metrics whose evaluator records a judge, and the evaluator's variant.</summary>
    private static IEnumerable<string> JudgeNotes(ResultSet results, IEnumerable<HeadlineMetric> metrics)
    {
        foreach (var m in metrics)
            foreach (var note in JudgeNotes(results, m.Key.EvalTypeId))
                yield return note;
    }

    /// <summary>Which judge (and model) produced an evaluator's numbers, from the result files' <c>eval_config</c>, with
    /// the number of checkpoints per judge when they differ.</summary>
    private static IEnumerable<string> JudgeNotes(ResultSet results, string evalTypeId)
    {
        var judges = results.Results.Where(r => r.EvalTypeId == evalTypeId && r.Status == JobStatus.Done)
            .Select(r => r.EvalConfig?["judge"]?.GetValueKind() == System.Text.Json.JsonValueKind.String
                ? (string)r.EvalConfig!["judge"]! + (r.EvalConfig["model"]?.GetValueKind() == System.Text.Json.JsonValueKind.String ? $" (model {(string)r.EvalConfig["model"]!})" : "")
                : null)
            .OfType<string>().GroupBy(j => j).ToList();
        if (judges.Count == 1) yield return $"{evalTypeId} judge: {judges[0].Key}.";
        else if (judges.Count > 1) yield return $"{evalTypeId} judges differ: " + string.Join(", ", judges.Select(g => $"{g.Key} ({g.Count()} checkpoints)")) + ".";
    }

    private static bool HasErrorBars(IEnumerable<Panel> panels) =>
        panels.OfType<XyPanel>().Any(p => p.Series.Any(s => s.Points.Any(pt => pt.YError is not null)));

    private static List<ResultCheckpoint> OrderCheckpoints(IEnumerable<ResultCheckpoint> checkpoints)
    {
        var list = checkpoints.ToList();
        var order = Palette.Order(list.Select(Arch)).Select((a, i) => (a, i)).ToDictionary(t => t.a, t => t.i);
        return list.OrderBy(c => c.IsBaseline ? 1 : 0).ThenBy(c => order[Arch(c)]).ThenBy(c => c.WidthValue ?? double.MaxValue)
            .ThenBy(c => double.TryParse(c.TargetL0, NumberStyles.Float, CultureInfo.InvariantCulture, out var t) ? t : double.MaxValue)
            .ThenBy(c => c.Id, StringComparer.Ordinal).ToList();
    }

    /// <summary>Four significant digits; whole numbers in full (10000, not 1E+04).</summary>
    private static string Number(double v) =>
        v == Math.Round(v) && Math.Abs(v) < 1e15 ? v.ToString("F0", CultureInfo.InvariantCulture) : v.ToString("G4", CultureInfo.InvariantCulture);

    private static string Arch(ResultCheckpoint c) => c.Architecture ?? "unknown";

    private static bool Finite(double? v) => v is { } d && double.IsFinite(d);

    private static double Mean(List<double> v) => v.Sum() / v.Count;

    /// <summary>Sample standard deviation; null for fewer than two values (no error bar from one seed).</summary>
    private static double? StdDev(List<double> v)
    {
        if (v.Count < 2) return null;
        double m = Mean(v);
        return Math.Sqrt(v.Sum(x => (x - m) * (x - m)) / (v.Count - 1));
    }
}
