using SaeBench.TestKit;
using System.Buffers.Binary;
using System.Globalization;
using System.Text.RegularExpressions;

namespace SaeBench.Reporting.Tests.Rendering;

[Collection("node")]
public class RenderingTests(NodeReportFixture report)
{
    [RequiresFact(Requirement.Node)]
    [Trait(Category.Name, Category.Slow)]
    public void Every_figure_has_an_svg_and_a_png_at_twice_the_svg_size()
    {
        report.RequireImages();
        var specs = Directory.GetFiles(Path.Combine(report.Output, "figures"), "*.vl.json");
        Assert.Contains(specs, s => s.EndsWith("architecture_comparison.vl.json", StringComparison.Ordinal));
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
            Assert.Equal(2 * double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture), pngWidth, 1.0);
            Assert.Equal(2 * double.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture), pngHeight, 1.0);
        }
    }

    [RequiresFact(Requirement.Node)]
    [Trait(Category.Name, Category.Slow)]
    public void The_architecture_figure_svg_has_axis_titles_with_units_legends_and_the_mdl_label()
    {
        report.RequireImages();
        var svg = File.ReadAllText(Path.Combine(report.Output, "figures", "architecture_comparison.svg"));
        foreach (var text in new[] { "L0 (latents)", "Explained variance (fraction)", "Description length (bits/token)",
                                     "Architecture", "Width (latents)", "Baseline", "MDL-optimal", "Absorption score (fraction)" })
            Assert.Contains(text, svg);
    }

    [RequiresFact(Requirement.Node)]
    [Trait(Category.Name, Category.Slow)]
    public void Png_text_is_drawn_with_a_font()
    {
        report.RequireImages();
        // resvg silently drops text it has no font for: render a spec that is nothing but a word, and one
        // with the same word in white, and count the dark pixels of each.
        using var tmp = new TempDirectory();
        string Spec(string color) => """
            {"$schema":"https://vega.github.io/schema/vega-lite/v6.json","background":"white","width":120,"height":40,
             "config":{"font":"DejaVu Sans","view":{"stroke":null}},"data":{"values":[{"t":"Hello"}]},
             "mark":{"type":"text","fontSize":24,"color":"COLOR"},"encoding":{"text":{"field":"t"}}}
            """.Replace("COLOR", color);
        File.WriteAllText(Path.Combine(tmp.Path, "text.vl.json"), Spec("black"));
        File.WriteAllText(Path.Combine(tmp.Path, "blank.vl.json"), Spec("white"));
        Assert.True(Reporting.Rendering.NodeToolchain.TryPrepare(new(), TextWriter.Null, out var packages, out var reason), reason);
        var jobs = new[] { "text", "blank" }.Select(n => new Reporting.Rendering.RenderJob(
            Path.Combine(tmp.Path, n + ".vl.json"), Path.Combine(tmp.Path, n + ".svg"), Path.Combine(tmp.Path, n + ".png"))).ToList();
        Assert.Empty(Reporting.Rendering.FigureRenderer.Render(packages!, jobs, null, TextWriter.Null));
        int dark = PngPixels.CountDark(File.ReadAllBytes(Path.Combine(tmp.Path, "text.png")));
        int blank = PngPixels.CountDark(File.ReadAllBytes(Path.Combine(tmp.Path, "blank.png")));
        Assert.Equal(0, blank);
        Assert.True(dark > 200, $"only {dark} dark pixels: text was not drawn (no font?) — {NodeReportFixture.SetupHint}");
    }

    [RequiresFact(Requirement.Node)]
    [Trait(Category.Name, Category.Slow)]
    public void Report_html_inlines_vega_and_works_offline()
    {
        report.RequireImages();
        var html = File.ReadAllText(Path.Combine(report.Output, "report.html"));
        Assert.Contains("id=\"chart\"", html);
        Assert.DoesNotContain("src=\"http", html);
        Assert.DoesNotContain("<script src=", html);
        Assert.True(html.Length > 500_000, "vega, vega-lite and vega-embed are inlined");
    }
}
