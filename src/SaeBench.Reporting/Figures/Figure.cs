using SaeBench.Core.Results;

namespace SaeBench.Reporting.Figures;

/// <summary>
/// One figure, described once and drawn by two renderers: <see cref="VegaLiteWriter"/> (the <c>.vl.json</c> spec) and
/// <see cref="Rendering.ScottPlotRenderer"/> (SVG and print-resolution PNG). Everything that decides what a reader
/// sees — which points, which lines join which points, scales and their domains, ticks, colours, markers, titles,
/// legend and notes — is decided here by <see cref="FigureBuilder"/>; a renderer only translates.
/// </summary>
/// <param name="Name">File name stem: <c>figures/NAME.vl.json</c>, <c>.svg</c>, <c>.png</c>.</param>
/// <param name="Title">Figure title.</param>
/// <param name="Subtitle">One or two sentences that say how to read the figure (generated from the same legend entries
/// the legend shows, so the two cannot disagree).</param>
/// <param name="Panels">The panels in reading order.</param>
/// <param name="Columns">Panels per row.</param>
/// <param name="Legend">Legend groups, shown once for the whole figure.</param>
/// <param name="SharedXTitle">When every panel has the same x axis, its title, drawn once under the grid; null when each
/// panel titles its own x axis.</param>
/// <param name="Notes">Footnotes: which judge or variant produced a metric, what was left out and why.</param>
public sealed record Figure(
    string Name,
    string Title,
    string Subtitle,
    IReadOnlyList<Panel> Panels,
    int Columns,
    IReadOnlyList<LegendGroup> Legend,
    string? SharedXTitle,
    IReadOnlyList<string> Notes)
{
    /// <summary>The Vega-Lite spec of this figure as indented JSON.</summary>
    public string ToVegaLiteJson() => VegaLiteWriter.Write(this).ToJsonString(ResultJson.Indented);
}

/// <summary>What the figure builders may be told.</summary>
/// <param name="MdlFvuTarget">The MDL-optimal checkpoint is chosen among those with <c>mdl.fvu</c> ≤ this.</param>
public sealed record FigureOptions(double MdlFvuTarget = MdlSelection.DefaultFvuTarget);

/// <summary>How an axis maps values to positions.</summary>
public enum ScaleKind
{
    /// <summary>Linear.</summary>
    Linear,
    /// <summary>Logarithmic, base 10 (L0).</summary>
    Log10,
    /// <summary>Logarithmic, base 2 (dictionary widths).</summary>
    Log2,
}

/// <summary>An axis with its domain and ticks fixed by the builder, so that small multiples share scales and no point
/// or error bar is clipped.</summary>
/// <param name="Title">Axis title (with the unit, said once); empty for none.</param>
/// <param name="Min">Lower end of the domain (data units, already padded).</param>
/// <param name="Max">Upper end of the domain.</param>
/// <param name="Ticks">Tick positions (data units) with their labels; null lets a renderer choose (linear axes only).</param>
public sealed record Axis(string Title, ScaleKind Scale, double Min, double Max, IReadOnlyList<Tick>? Ticks = null);

/// <summary>A tick at a value with its label.</summary>
public sealed record Tick(double Value, string Label);

/// <summary>Marker shapes both renderers can draw.</summary>
public enum MarkerShape
{
    /// <summary>Filled circle.</summary>
    Circle,
    /// <summary>Filled square.</summary>
    Square,
    /// <summary>Filled diamond.</summary>
    Diamond,
    /// <summary>Filled triangle pointing up.</summary>
    TriangleUp,
    /// <summary>Filled triangle pointing down.</summary>
    TriangleDown,
    /// <summary>A plus-shaped cross.</summary>
    Cross,
}

/// <summary>Line patterns of reference lines.</summary>
public enum LinePattern
{
    /// <summary>Solid.</summary>
    Solid,
    /// <summary>Dashed.</summary>
    Dashed,
    /// <summary>Dotted.</summary>
    Dotted,
}

/// <summary>How the marks of one colour key look: the colour (<c>#rrggbb</c>) and marker shape.</summary>
public sealed record MarkStyle(string Color, MarkerShape Marker);

/// <summary>One panel of a figure.</summary>
/// <param name="Title">Panel title (metric name and, where it has one, its better direction).</param>
/// <param name="Note">A short second line under the title (which judge or variant), or null.</param>
public abstract record Panel(string Title, string? Note);

/// <summary>A numeric x/y panel: series of points (optionally joined by a line, with error bars), horizontal
/// reference lines (baselines) and ringed highlights.</summary>
public sealed record XyPanel(
    string Title,
    string? Note,
    Axis X,
    Axis Y,
    IReadOnlyList<Series> Series,
    IReadOnlyList<ReferenceLine> References,
    IReadOnlyList<Highlight> Highlights) : Panel(Title, Note);

/// <summary>A dot plot: one row per category (a checkpoint), a dot at its value. Categories and their order are the
/// same in every dot panel of a figure, so their labels are drawn once per row of panels.</summary>
public sealed record DotPanel(
    string Title,
    string? Note,
    Axis Value,
    IReadOnlyList<string> Categories,
    IReadOnlyList<Dot> Dots) : Panel(Title, Note);

/// <summary>Points drawn alike: <see cref="ColorKey"/> (e.g. the architecture) picks colour and marker from the legend's
/// colour group, <see cref="SizeKey"/> (e.g. the width) the marker size from its size group. When <see cref="Connect"/>
/// is set, a line joins the points in x order — the builder only ever connects points of one architecture and one value
/// of the grouping that defines the series.</summary>
/// <param name="Label">What the series is, for tooltips (e.g. <c>topk, width 1024</c>).</param>
public sealed record Series(string Label, string ColorKey, string? SizeKey, IReadOnlyList<DataPoint> Points, bool Connect);

/// <summary>One point: a checkpoint, or the mean over the seeds of one configuration with the sample standard deviation
/// as <see cref="YError"/>.</summary>
/// <param name="Checkpoints">The checkpoint id(s) behind the point.</param>
public sealed record DataPoint(double X, double Y, double? YError, IReadOnlyList<string> Checkpoints);

/// <summary>A horizontal reference line at a baseline's value; its pattern comes from the legend's baseline group.</summary>
public sealed record ReferenceLine(double Y, string Label, string CheckpointId);

/// <summary>A point ringed in black (the MDL-optimal checkpoint).</summary>
public sealed record Highlight(double X, double Y, string Label, string CheckpointId);

/// <summary>A dot of a <see cref="DotPanel"/>: the category's index, its value and colour key.</summary>
public sealed record Dot(int Category, double Value, string ColorKey, string CheckpointId);

/// <summary>A legend group: a title and its entries.</summary>
public sealed record LegendGroup(string Title, LegendKind Kind, IReadOnlyList<LegendEntry> Entries);

/// <summary>What a legend group maps.</summary>
public enum LegendKind
{
    /// <summary>Colour and marker of a series' <see cref="Series.ColorKey"/>.</summary>
    Color,
    /// <summary>Marker size of a series' <see cref="Series.SizeKey"/>.</summary>
    Size,
    /// <summary>Line pattern of a <see cref="ReferenceLine"/>'s label.</summary>
    Reference,
    /// <summary>The ring of a <see cref="Highlight"/>.</summary>
    Highlight,
}

/// <summary>A legend entry. <see cref="Key"/> is what series or reference lines refer to; <see cref="Label"/> is shown.</summary>
public sealed record LegendEntry(string Key, string Label, string Color, MarkerShape Marker = MarkerShape.Circle, double Size = FigureStyle.MarkerSize,
    LinePattern Line = LinePattern.Solid);

/// <summary>Sizes shared by both renderers, in CSS pixels of a figure laid out 6.5 inches wide (96 px per inch).</summary>
public static class FigureStyle
{
    /// <summary>Figure width: 6.5 inches, the text width of a US-letter paper with 1-inch margins.</summary>
    public const double Width = 624;
    /// <summary>PNG resolution: 300 dots per inch.</summary>
    public const double PngDpi = 300;
    /// <summary>Default marker diameter.</summary>
    public const double MarkerSize = 6;
    /// <summary>Font family; DejaVu Sans is installed by scripts/setup.sh.</summary>
    public const string Font = "DejaVu Sans";
    /// <summary>Figure title size (10 pt when printed at 6.5 in).</summary>
    public const double TitleSize = 13;
    /// <summary>Subtitle, panel title and legend size.</summary>
    public const double TextSize = 10;
    /// <summary>Axis titles, tick labels and notes (6.75 pt: the smallest text on the page).</summary>
    public const double SmallSize = 9;
    /// <summary>Colour of baselines, highlights and secondary text.</summary>
    public const string Ink = "#222222";
}
