using System.Buffers.Binary;
using SaeBench.Core.Results;
using SaeBench.Reporting.Figures;
using ScottPlot;
using SkiaSharp;
using SpLinePattern = ScottPlot.LinePattern;
using SpMarker = ScottPlot.MarkerShape;

namespace SaeBench.Reporting.Rendering;

/// <summary>
/// Draws a <see cref="Figure"/> in process: SVG (vector, 6.5 inches wide) and PNG at 300 dpi, both from the same
/// drawing code. ScottPlot draws each panel's axes, grid and marks into a rectangle this class lays out; titles, the
/// legend, the shared axis title and the notes are drawn here with the same fonts, so that panel titles sit at one
/// height in each row, every panel of a figure has the same plot-area size, and no text is truncated (long titles and
/// legends wrap). No Node.js, no browser, no external process.
/// </summary>
public sealed class ScottPlotRenderer(FigureFonts fonts)
{
    /// <summary>PNG pixels per CSS pixel: 300 dpi over 96.</summary>
    public const double PngScale = FigureStyle.PngDpi / 96.0;

    private const float Margin = 10, Gap = 10, LineHeight = 1.3f;

    /// <summary>Writes the SVG and the PNG, each atomically (a reader never sees half a file).</summary>
    public void Render(Figure figure, string svgPath, string pngPath)
    {
        var layout = Lay(figure);
        AtomicFile.Write(svgPath, stream =>
        {
            using var canvas = SKSvgCanvas.Create(SKRect.Create(layout.Width, layout.Height), stream);
            Draw(canvas, figure, layout);
        });
        AtomicFile.Write(pngPath, stream =>
        {
            int w = (int)Math.Ceiling(layout.Width * PngScale), h = (int)Math.Ceiling(layout.Height * PngScale);
            using var surface = SKSurface.Create(new SKImageInfo(w, h, SKColorType.Rgba8888, SKAlphaType.Premul))
                ?? throw new InvalidOperationException($"could not allocate a {w}×{h} image for {figure.Name}");
            surface.Canvas.Scale((float)PngScale);
            Draw(surface.Canvas, figure, layout);
            using var image = surface.Snapshot();
            using var data = image.Encode(SKEncodedImageFormat.Png, 100);
            var png = WithResolution(data.ToArray(), FigureStyle.PngDpi);
            stream.Write(png);
        });
    }

    // ---------------------------------------------------------------- layout

    private sealed record Cell(Panel Panel, SKRect Box, SKRect Plot);

    private sealed record LegendBox(SKRect Box, List<(LegendGroup Group, List<(LegendEntry Entry, SKPoint At)> Entries, SKPoint TitleAt)> Groups);

    private sealed record Layout(float Width, float Height, List<(string Text, float Y, bool Bold, float Size)> Header,
        List<Cell> Cells, List<(float Y, int TitleLines)> RowTitles, float LabelColumn, LegendBox? Legend,
        (string Text, float X, float Y)? SharedX, List<(string Text, float Y)> Notes, Padding Pad);

    private sealed record Padding(float Left, float Right, float Bottom, float Top);

    private Layout Lay(Figure figure)
    {
        float width = (float)FigureStyle.Width;
        float inner = width - 2 * Margin;
        float y = Margin;
        var header = new List<(string, float, bool, float)>();
        foreach (var line in Wrap(figure.Title, true, (float)FigureStyle.TitleSize, inner))
        {
            y += (float)FigureStyle.TitleSize * LineHeight;
            header.Add((line, y - 3, true, (float)FigureStyle.TitleSize));
        }
        foreach (var line in Wrap(figure.Subtitle, false, (float)FigureStyle.TextSize, inner))
        {
            y += (float)FigureStyle.TextSize * LineHeight;
            header.Add((line, y - 3, false, (float)FigureStyle.TextSize));
        }
        y += Gap;

        bool dots = figure.Panels.All(p => p is DotPanel);
        float small = (float)FigureStyle.SmallSize;
        float labelColumn = dots
            ? figure.Panels.OfType<DotPanel>().SelectMany(p => p.Categories).Select(c => Measure(c, false, small)).DefaultIfEmpty(0).Max() + 8
            : 0;
        int cols = Math.Max(1, figure.Columns);
        float cellW = (inner - labelColumn) / cols;

        // One padding for every panel, so that all plot areas have the same size and line up.
        var xy = figure.Panels.OfType<XyPanel>().ToList();
        float tickH = small * LineHeight + 6;
        float yTitle = figure.Panels.Any(p => AxisOf(p, y: true).Title.Length > 0) ? small * LineHeight + 2 : 0;
        float xTitle = figure.Panels.Any(p => AxisOf(p, y: false).Title.Length > 0) && figure.SharedXTitle is null ? small * LineHeight + 2 : 0;
        float yTicks = xy.SelectMany(p => p.Y.Ticks ?? []).Select(t => Measure(t.Label, false, small)).DefaultIfEmpty(0).Max();
        var pad = dots
            ? new Padding(6, 12, tickH + small * LineHeight + 2, 6)
            : new Padding(yTitle + yTicks + 8, 12, tickH + xTitle, 8);

        var cells = new List<Cell>();
        var rowTitles = new List<(float, int)>();
        int rows = (figure.Panels.Count + cols - 1) / cols;
        float lastRowTop = y, lastRowBottom = y;
        for (int r = 0; r < rows; r++)
        {
            var rowPanels = figure.Panels.Skip(r * cols).Take(cols).ToList();
            int titleLines = rowPanels.Max(p => Wrap(p.Title, true, (float)FigureStyle.TextSize, cellW - 4).Count);
            float noteLines = rowPanels.Max(p => p.Note is { Length: > 0 } n ? Wrap(n, false, small, cellW - 4).Count : 0);
            float titleH = titleLines * (float)FigureStyle.TextSize * LineHeight + noteLines * small * LineHeight + 3;
            float plotH = dots
                ? figure.Panels.OfType<DotPanel>().First().Categories.Count * 12f + pad.Top + pad.Bottom
                : cellW * 0.62f + pad.Top + pad.Bottom;
            rowTitles.Add((y, titleLines));
            lastRowTop = y;
            for (int c = 0; c < rowPanels.Count; c++)
            {
                float x0 = Margin + labelColumn + c * cellW;
                var box = new SKRect(x0, y, x0 + cellW, y + titleH + plotH);
                cells.Add(new Cell(rowPanels[c], box, new SKRect(x0, y + titleH, x0 + cellW, y + titleH + plotH)));
            }
            y += titleH + plotH + Gap;
            lastRowBottom = y - Gap;
        }

        // Legend: in the cells a partly filled last row leaves empty, when it fits there; else under the grid.
        LegendBox? legend = null;
        int empty = rows * cols - figure.Panels.Count;
        (string, float, float)? shared = null;
        if (figure.Legend.Count > 0 && empty > 0)
        {
            float x0 = Margin + labelColumn + (cols - empty) * cellW + 8;
            var box = FlowLegend(figure.Legend, new SKRect(x0, lastRowTop + 4, width - Margin, lastRowBottom));
            if (box.Box.Bottom <= lastRowBottom + 0.5f) legend = box;
        }
        if (figure.SharedXTitle is { } sx)
        {
            // Centred under the plot areas of the grid.
            float left = Margin + labelColumn + pad.Left, right = Margin + labelColumn + cols * cellW - pad.Right;
            y += small * LineHeight - Gap + 2;
            shared = (sx, (left + right) / 2, y);
            y += Gap;
        }
        if (figure.Legend.Count > 0 && legend is null)
        {
            legend = FlowLegend(figure.Legend, new SKRect(Margin, y, width - Margin, float.MaxValue));
            y = legend.Box.Bottom + Gap;
        }
        var notes = new List<(string, float)>();
        foreach (var note in figure.Notes)
            foreach (var line in Wrap(note, false, small, inner))
            {
                y += small * LineHeight;
                notes.Add((line, y - 2));
            }
        return new Layout(width, MathF.Ceiling(y + Margin), header, cells, rowTitles, labelColumn, legend, shared, notes, pad);
    }

    /// <summary>Lays the legend out in <paramref name="area"/>: each group's title, then its entries in columns as wide as
    /// its widest entry (as many columns as fit), so that no label is cut and entries line up.</summary>
    private LegendBox FlowLegend(IReadOnlyList<LegendGroup> groups, SKRect area)
    {
        float small = (float)FigureStyle.SmallSize, line = small * LineHeight + 2;
        float y = area.Top, right = area.Left;
        var placed = new List<(LegendGroup, List<(LegendEntry, SKPoint)>, SKPoint)>();
        foreach (var g in groups)
        {
            var titleAt = new SKPoint(area.Left, y + small);
            right = Math.Max(right, area.Left + Measure(g.Title, true, small));
            y += line;
            float colW = g.Entries.Select(e => 20 + Measure(e.Label, false, small) + 10).DefaultIfEmpty(0).Max();
            int perRow = Math.Max(1, (int)((area.Width + 10) / colW));
            var entries = new List<(LegendEntry, SKPoint)>();
            for (int i = 0; i < g.Entries.Count; i++)
            {
                float x = area.Left + (i % perRow) * colW;
                float ey = y + (i / perRow) * line;
                entries.Add((g.Entries[i], new SKPoint(x, ey + small)));
                right = Math.Max(right, x + colW - 10);
            }
            y += (g.Entries.Count + perRow - 1) / perRow * line + 3;
            placed.Add((g, entries, titleAt));
        }
        return new LegendBox(new SKRect(area.Left, area.Top, Math.Min(right, area.Right), y - 3), placed);
    }

    // ---------------------------------------------------------------- drawing

    private void Draw(SKCanvas canvas, Figure figure, Layout layout)
    {
        using (var white = new SKPaint { Color = SKColors.White, Style = SKPaintStyle.Fill })
            canvas.DrawRect(SKRect.Create(layout.Width, layout.Height), white);
        foreach (var (line, y, bold, size) in layout.Header)
            Text(canvas, line, Margin, y, bold, size, bold ? SKColors.Black : Ink);

        var styles = figure.Legend.FirstOrDefault(g => g.Kind == LegendKind.Color)?.Entries.ToDictionary(e => e.Key) ?? [];
        var sizes = figure.Legend.FirstOrDefault(g => g.Kind == LegendKind.Size)?.Entries.ToDictionary(e => e.Key) ?? [];
        var dashes = figure.Legend.FirstOrDefault(g => g.Kind == LegendKind.Reference)?.Entries.ToDictionary(e => e.Key) ?? [];
        float small = (float)FigureStyle.SmallSize, textSize = (float)FigureStyle.TextSize;
        int cols = Math.Max(1, figure.Columns);
        for (int i = 0; i < layout.Cells.Count; i++)
        {
            var cell = layout.Cells[i];
            // Every title of a row ends on the same baseline (a wrapped one grows upwards), so titles and notes line up.
            var (rowY, rowLines) = layout.RowTitles[i / cols];
            var titleLines = Wrap(cell.Panel.Title, true, textSize, cell.Box.Width - 4);
            float ty = rowY + (rowLines - titleLines.Count) * textSize * LineHeight;
            float cx = cell.Box.Left + (cell.Box.Width + layout.Pad.Left - layout.Pad.Right) / 2;
            foreach (var line in titleLines)
            {
                ty += textSize * LineHeight;
                Text(canvas, line, cx, ty - 3, true, textSize, SKColors.Black, SKTextAlign.Center);
            }
            if (cell.Panel.Note is { Length: > 0 } note)
                foreach (var line in Wrap(note, false, small, cell.Box.Width - 4))
                {
                    ty += small * LineHeight;
                    Text(canvas, line, cx, ty - 3, false, small, Ink, SKTextAlign.Center);
                }

            var plot = cell.Panel switch
            {
                XyPanel p => XyPlot(p, figure, styles, sizes, dashes, layout.Pad),
                DotPanel d => DotPlot(d, styles, layout.Pad),
                _ => throw new NotSupportedException(cell.Panel.GetType().Name),
            };
            plot.Render(canvas, new PixelRect(new Pixel(cell.Plot.Left, cell.Plot.Top), new PixelSize(cell.Plot.Width, cell.Plot.Height)));

            // Category labels once per row of dot panels, in the label column.
            if (cell.Panel is DotPanel dp && i % cols == 0)
            {
                float top = cell.Plot.Top + layout.Pad.Top, bottom = cell.Plot.Bottom - layout.Pad.Bottom;
                float step = (bottom - top) / dp.Categories.Count;
                for (int k = 0; k < dp.Categories.Count; k++)
                    Text(canvas, dp.Categories[k], cell.Plot.Left - 4, top + step * (k + 0.5f) + small * 0.35f, false, small, SKColors.Black, SKTextAlign.Right);
            }
        }

        if (layout.SharedX is { } sx) Text(canvas, sx.Text, sx.X, sx.Y, false, small, SKColors.Black, SKTextAlign.Center);
        if (layout.Legend is { } legend) DrawLegend(canvas, legend);
        foreach (var (note, y) in layout.Notes) Text(canvas, note, Margin, y, false, small, Ink);
    }

    private Plot XyPlot(XyPanel p, Figure figure, Dictionary<string, LegendEntry> styles, Dictionary<string, LegendEntry> sizes,
        Dictionary<string, LegendEntry> dashes, Padding pad)
    {
        var plot = NewPlot(pad);
        double X(double v) => p.X.Scale == ScaleKind.Linear ? v : Math.Log10(v);
        foreach (var s in p.Series)
        {
            var style = styles.GetValueOrDefault(s.ColorKey);
            var color = Color.FromHex(style?.Color ?? "#333333");
            float size = (float)(s.SizeKey is { } k && sizes.TryGetValue(k, out var se) ? se.Size : FigureStyle.MarkerSize);
            var xs = s.Points.Select(pt => X(pt.X)).ToArray();
            var ys = s.Points.Select(pt => pt.Y).ToArray();
            if (s.Connect)
            {
                var line = plot.Add.ScatterLine(xs, ys, color.WithAlpha(0.85));
                line.LineWidth = 1.2f;
            }
            if (s.Points.Any(pt => pt.YError is not null))
            {
                var bars = plot.Add.ErrorBar(xs, ys, s.Points.Select(pt => pt.YError ?? 0).ToArray());
                bars.Color = color;
                bars.LineWidth = 1;
                bars.CapSize = 3;
            }
            var markers = plot.Add.Markers(xs, ys, Shape(style?.Marker ?? Figures.MarkerShape.Circle), size, color);
            markers.MarkerStyle.LineWidth = 1.5f;
        }
        foreach (var r in p.References)
        {
            var hl = plot.Add.HorizontalLine(r.Y, 1, Color.FromHex(FigureStyle.Ink), Pattern(dashes.GetValueOrDefault(r.Label)?.Line ?? Figures.LinePattern.Dashed));
            hl.LabelText = "";
        }
        foreach (var h in p.Highlights)
        {
            var ring = plot.Add.Marker(X(h.X), h.Y, SpMarker.OpenCircle, 14, Color.FromHex(FigureStyle.Ink));
            ring.MarkerStyle.LineWidth = 1.5f;
        }
        plot.Axes.SetLimits(X(p.X.Min), X(p.X.Max), p.Y.Min, p.Y.Max);
        Ticks(plot.Axes.Bottom, p.X, X);
        Ticks(plot.Axes.Left, p.Y, v => v);
        plot.Axes.Left.Label.Text = p.Y.Title;
        plot.Axes.Bottom.Label.Text = figure.SharedXTitle is null ? p.X.Title : "";
        return plot;
    }

    private Plot DotPlot(DotPanel p, Dictionary<string, LegendEntry> styles, Padding pad)
    {
        var plot = NewPlot(pad);
        int n = p.Categories.Count;
        foreach (var g in p.Dots.GroupBy(d => d.ColorKey))
        {
            var style = styles.GetValueOrDefault(g.Key);
            plot.Add.Markers(g.Select(d => d.Value).ToArray(), g.Select(d => (double)(n - 1 - d.Category)).ToArray(),
                Shape(style?.Marker ?? Figures.MarkerShape.Circle), (float)FigureStyle.MarkerSize, Color.FromHex(style?.Color ?? "#333333"))
                .MarkerStyle.LineWidth = 1.5f;
        }
        plot.Axes.SetLimits(p.Value.Min, p.Value.Max, -0.5, n - 0.5);
        Ticks(plot.Axes.Bottom, p.Value, v => v);
        // Horizontal guide lines at every category; their labels are drawn once per row of panels.
        plot.Axes.Left.TickGenerator = new ScottPlot.TickGenerators.NumericManual(
            Enumerable.Range(0, n).Select(i => (double)i).ToArray(), Enumerable.Repeat("", n).ToArray());
        plot.Axes.Left.MajorTickStyle.Length = 0;
        plot.Axes.Bottom.Label.Text = p.Value.Title;
        return plot;
    }

    private Plot NewPlot(Padding pad)
    {
        var plot = new Plot();
        // Panels share one canvas: ScottPlot must not clear what the others drew.
        plot.RenderManager.ClearCanvasBeforeEachRender = false;
        plot.FigureBackground.Color = Colors.White;
        plot.DataBackground.Color = Colors.White;
        plot.Layout.Fixed(new PixelPadding(pad.Left, pad.Right, pad.Bottom, pad.Top));
        plot.Grid.MajorLineColor = Color.FromHex("#e8e8e8");
        foreach (var axis in new ScottPlot.IAxis[] { plot.Axes.Bottom, plot.Axes.Left })
        {
            axis.TickLabelStyle.FontName = fonts.Family;
            axis.TickLabelStyle.FontSize = (float)FigureStyle.SmallSize;
            axis.TickLabelStyle.ForeColor = Colors.Black;
            axis.Label.FontName = fonts.Family;
            axis.Label.FontSize = (float)FigureStyle.SmallSize;
            axis.Label.Bold = false;
            axis.MajorTickStyle.Length = 3;
            axis.MinorTickStyle.Length = 0;
        }
        foreach (var axis in new ScottPlot.IAxis[] { plot.Axes.Bottom, plot.Axes.Left, plot.Axes.Top, plot.Axes.Right })
            axis.FrameLineStyle.Color = Color.FromHex("#888888");
        return plot;
    }

    private static void Ticks(ScottPlot.IAxis axis, Figures.Axis spec, Func<double, double> transform)
    {
        if (spec.Ticks is not { Count: > 0 } ticks) return;
        axis.TickGenerator = new ScottPlot.TickGenerators.NumericManual(
            ticks.Select(t => transform(t.Value)).ToArray(), ticks.Select(t => t.Label).ToArray());
    }

    private void DrawLegend(SKCanvas canvas, LegendBox legend)
    {
        float small = (float)FigureStyle.SmallSize;
        foreach (var (group, entries, titleAt) in legend.Groups)
        {
            Text(canvas, group.Title, titleAt.X, titleAt.Y, true, small, SKColors.Black);
            foreach (var (e, at) in entries)
            {
                var mid = new SKPoint(at.X + 8, at.Y - small * 0.35f);
                var color = SKColor.Parse(e.Color);
                switch (group.Kind)
                {
                    case LegendKind.Reference:
                        using (var paint = Stroke(color, 1.2f))
                        {
                            if (e.Line != Figures.LinePattern.Solid)
                                paint.PathEffect = SKPathEffect.CreateDash(e.Line == Figures.LinePattern.Dashed ? [4f, 3f] : [1.5f, 2f], 0);
                            canvas.DrawLine(mid.X - 8, mid.Y, mid.X + 8, mid.Y, paint);
                        }
                        break;
                    case LegendKind.Highlight:
                        using (var paint = Stroke(color, 1.5f)) canvas.DrawCircle(mid, 6, paint);
                        break;
                    default:
                        DrawMarker(canvas, e.Marker, mid, (float)e.Size, color);
                        break;
                }
                Text(canvas, e.Label, at.X + 20, at.Y, false, small, SKColors.Black);
            }
        }
    }

    private static void DrawMarker(SKCanvas canvas, Figures.MarkerShape shape, SKPoint c, float size, SKColor color)
    {
        float r = size / 2;
        using var fill = new SKPaint { Color = color, Style = SKPaintStyle.Fill, IsAntialias = true };
        using var path = new SKPath();
        switch (shape)
        {
            case Figures.MarkerShape.Square: canvas.DrawRect(c.X - r, c.Y - r, size, size, fill); return;
            case Figures.MarkerShape.Diamond:
                path.MoveTo(c.X, c.Y - r * 1.2f); path.LineTo(c.X + r * 1.2f, c.Y); path.LineTo(c.X, c.Y + r * 1.2f); path.LineTo(c.X - r * 1.2f, c.Y); break;
            case Figures.MarkerShape.TriangleUp:
                path.MoveTo(c.X, c.Y - r * 1.15f); path.LineTo(c.X + r * 1.15f, c.Y + r * 0.85f); path.LineTo(c.X - r * 1.15f, c.Y + r * 0.85f); break;
            case Figures.MarkerShape.TriangleDown:
                path.MoveTo(c.X, c.Y + r * 1.15f); path.LineTo(c.X + r * 1.15f, c.Y - r * 0.85f); path.LineTo(c.X - r * 1.15f, c.Y - r * 0.85f); break;
            case Figures.MarkerShape.Cross:
                using (var stroke = Stroke(color, 1.5f))
                {
                    canvas.DrawLine(c.X - r, c.Y, c.X + r, c.Y, stroke);
                    canvas.DrawLine(c.X, c.Y - r, c.X, c.Y + r, stroke);
                }
                return;
            default: canvas.DrawCircle(c, r, fill); return;
        }
        path.Close();
        canvas.DrawPath(path, fill);
    }

    private static SKPaint Stroke(SKColor color, float width) =>
        new() { Color = color, Style = SKPaintStyle.Stroke, StrokeWidth = width, IsAntialias = true };

    private static SpMarker Shape(Figures.MarkerShape m) => m switch
    {
        Figures.MarkerShape.Square => SpMarker.FilledSquare,
        Figures.MarkerShape.Diamond => SpMarker.FilledDiamond,
        Figures.MarkerShape.TriangleUp => SpMarker.FilledTriangleUp,
        Figures.MarkerShape.TriangleDown => SpMarker.FilledTriangleDown,
        Figures.MarkerShape.Cross => SpMarker.Cross,
        _ => SpMarker.FilledCircle,
    };

    private static SpLinePattern Pattern(Figures.LinePattern p) => p switch
    {
        Figures.LinePattern.Dashed => SpLinePattern.Dashed,
        Figures.LinePattern.Dotted => SpLinePattern.Dotted,
        _ => SpLinePattern.Solid,
    };

    private static Figures.Axis AxisOf(Panel p, bool y) => p switch
    {
        XyPanel xy => y ? xy.Y : xy.X,
        DotPanel d => y ? new Figures.Axis("", ScaleKind.Linear, 0, 1) : d.Value,
        _ => throw new NotSupportedException(p.GetType().Name),
    };

    private static readonly SKColor Ink = SKColor.Parse(FigureStyle.Ink);

    private void Text(SKCanvas canvas, string text, float x, float y, bool bold, float size, SKColor color, SKTextAlign align = SKTextAlign.Left)
    {
        using var font = new SKFont(bold ? fonts.Bold : fonts.Regular, size) { Subpixel = true };
        using var paint = new SKPaint { Color = color, IsAntialias = true };
        canvas.DrawText(text, x, y, align, font, paint);
    }

    private float Measure(string text, bool bold, float size)
    {
        using var font = new SKFont(bold ? fonts.Bold : fonts.Regular, size);
        return font.MeasureText(text);
    }

    /// <summary>Greedy word wrap to <paramref name="width"/>; a single word longer than the width keeps its own line
    /// (never cut).</summary>
    private List<string> Wrap(string text, bool bold, float size, float width)
    {
        var lines = new List<string>();
        var current = "";
        foreach (var word in text.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = current.Length == 0 ? word : current + " " + word;
            if (current.Length > 0 && Measure(candidate, bold, size) > width)
            {
                lines.Add(current);
                current = word;
            }
            else current = candidate;
        }
        if (current.Length > 0) lines.Add(current);
        return lines;
    }

    /// <summary>Adds a pHYs chunk (pixels per metre) after IHDR so that the PNG prints at <paramref name="dpi"/>.</summary>
    internal static byte[] WithResolution(byte[] png, double dpi)
    {
        const int ihdrEnd = 8 + 4 + 4 + 13 + 4;
        uint ppm = (uint)Math.Round(dpi / 0.0254);
        var chunk = new byte[4 + 4 + 9 + 4];
        BinaryPrimitives.WriteInt32BigEndian(chunk, 9);
        "pHYs"u8.CopyTo(chunk.AsSpan(4));
        BinaryPrimitives.WriteUInt32BigEndian(chunk.AsSpan(8), ppm);
        BinaryPrimitives.WriteUInt32BigEndian(chunk.AsSpan(12), ppm);
        chunk[16] = 1;
        BinaryPrimitives.WriteUInt32BigEndian(chunk.AsSpan(17), Crc32(chunk.AsSpan(4, 13)));
        var result = new byte[png.Length + chunk.Length];
        png.AsSpan(0, ihdrEnd).CopyTo(result);
        chunk.CopyTo(result.AsSpan(ihdrEnd));
        png.AsSpan(ihdrEnd).CopyTo(result.AsSpan(ihdrEnd + chunk.Length));
        return result;
    }

    private static uint Crc32(ReadOnlySpan<byte> data)
    {
        uint crc = 0xFFFFFFFF;
        foreach (var b in data)
        {
            crc ^= b;
            for (int k = 0; k < 8; k++) crc = (crc & 1) != 0 ? 0xEDB88320 ^ (crc >> 1) : crc >> 1;
        }
        return ~crc;
    }
}
