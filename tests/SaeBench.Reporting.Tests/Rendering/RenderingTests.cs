using System.Buffers.Binary;
using System.Globalization;
using System.Text.RegularExpressions;
using SaeBench.Reporting.Figures;
using SaeBench.Reporting.Rendering;
using SaeBench.TestKit;

namespace SaeBench.Reporting.Tests.Rendering;

[Collection("report")]
public class RenderingTests(ReportFixture report)
{
    [Fact]
    public void Every_figure_has_an_svg_6_5_inches_wide_and_a_300_dpi_png_of_the_same_size()
    {
        Assert.True(report.Outcome.ImagesRendered, string.Join("; ", report.Outcome.Warnings));
        var specs = Directory.GetFiles(Path.Combine(report.Output, "figures"), "*.vl.json");
        Assert.Contains(specs, s => s.EndsWith("architecture_comparison.vl.json", StringComparison.Ordinal));
        Assert.Contains(specs, s => s.EndsWith("width_scaling.vl.json", StringComparison.Ordinal));
        foreach (var spec in specs)
        {
            var stem = spec[..^".vl.json".Length];
            var svg = File.ReadAllText(stem + ".svg");
            var png = File.ReadAllBytes(stem + ".png");
            Assert.Equal([0x89, (byte)'P', (byte)'N', (byte)'G'], png[..4]);
            int pngWidth = BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(16, 4));
            int pngHeight = BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(20, 4));
            var m = Regex.Match(svg, "<svg[^>]*\\bwidth=\"([0-9.]+)\"[^>]*\\bheight=\"([0-9.]+)\"");
            Assert.True(m.Success, $"no size in {stem}.svg");
            double svgWidth = double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture), svgHeight = double.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture);
            Assert.Equal(FigureStyle.Width, svgWidth, 0.5);
            Assert.Equal(svgWidth * ScottPlotRenderer.PngScale, pngWidth, 1.0);
            Assert.Equal(svgHeight * ScottPlotRenderer.PngScale, pngHeight, 1.0);
            Assert.Equal(11811u, PngPixels.PixelsPerMetre(png));   // 300 dpi: prints 6.5 inches wide
        }
    }

    [Fact]
    public void The_architecture_figure_svg_has_titles_units_legend_and_the_mdl_label()
    {
        var svg = File.ReadAllText(Path.Combine(report.Output, "figures", "architecture_comparison.svg"));
        foreach (var text in new[] { "Loss recovered", "Mean absorption fraction", "log scale", "bits/token", "Architecture", "jumprelu",
                                     "Width (latents)", "Baseline", "identity", "PCA", "MDL-optimal", "↓ better" })
            Assert.Contains(text, svg);
    }

    [Fact]
    public void Png_text_is_drawn_with_a_font()
    {
        // Draw the same one-panel figure twice, once with a long title: the title's text must add dark pixels.
        using var tmp = new TempDirectory();
        var axis = new Axis("", ScaleKind.Linear, 0, 1, Scales.NiceTicks(0, 1));
        Figure Make(string title) => new("t", title, "", [new XyPanel("p", null, axis, axis, [], [], [])], 1, [], null, []);
        using var fonts = FigureFonts.Load();
        var renderer = new ScottPlotRenderer(fonts);
        renderer.Render(Make("HELLO WORLD"), Path.Combine(tmp.Path, "a.svg"), Path.Combine(tmp.Path, "a.png"));
        renderer.Render(Make(""), Path.Combine(tmp.Path, "b.svg"), Path.Combine(tmp.Path, "b.png"));
        int withText = PngPixels.CountDark(File.ReadAllBytes(Path.Combine(tmp.Path, "a.png")));
        int without = PngPixels.CountDark(File.ReadAllBytes(Path.Combine(tmp.Path, "b.png")));
        Assert.True(withText - without > 500, $"the title added only {withText - without} dark pixels: text was not drawn (no font?)");
    }

    [Fact]
    public void Report_html_inlines_vega_and_works_offline()
    {
        var html = File.ReadAllText(Path.Combine(report.Output, "report.html"));
        Assert.Contains("id=\"chart\"", html);
        Assert.DoesNotContain("src=\"http", html);
        Assert.DoesNotContain("<script src=", html);
        Assert.True(html.Length > 500_000, "vega, vega-lite and vega-embed are inlined");
    }

    [Fact]
    public void A_rebuild_leaves_no_temporary_files()
    {
        Assert.Empty(Directory.GetFiles(report.Output, "*.tmp", SearchOption.AllDirectories));
    }
}
