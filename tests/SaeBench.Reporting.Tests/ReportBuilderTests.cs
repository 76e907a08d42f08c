using SaeBench.TestKit;
using SaeBench.Reporting.Tests.Fixtures;

namespace SaeBench.Reporting.Tests;

public class ReportBuilderTests
{
    [Fact]
    public void Figure_files_of_an_earlier_build_do_not_survive_a_rebuild()
    {
        using var tmp = new TempDirectory();
        var run = tmp.Directory("run");
        SmallRun.Write(run);
        var figures = Directory.CreateDirectory(Path.Combine(run, ReportBuilder.FiguresFolder)).FullName;
        foreach (var stale in new[] { "gone.vl.json", "gone.svg", "gone.png", "l0_vs_mdl.png" })
            File.WriteAllText(Path.Combine(figures, stale), "old");
        File.WriteAllText(Path.Combine(figures, "notes.txt"), "mine");

        var outcome = ReportBuilder.Build(run, run, new ReportOptions(RenderImages: false));

        Assert.False(File.Exists(Path.Combine(figures, "gone.vl.json")));
        Assert.False(File.Exists(Path.Combine(figures, "gone.svg")));
        Assert.False(File.Exists(Path.Combine(figures, "gone.png")));
        Assert.False(File.Exists(Path.Combine(figures, "l0_vs_mdl.png"))); // not rendered this time: no stale image
        Assert.True(File.Exists(Path.Combine(figures, "l0_vs_mdl.vl.json")));
        Assert.Equal("mine", File.ReadAllText(Path.Combine(figures, "notes.txt")));
        Assert.DoesNotContain(outcome.Files, f => f.Contains("gone"));
    }

    [Theory]
    [InlineData("NaN")]
    [InlineData("Infinity")]
    [InlineData("-1e999")]
    public void A_width_tag_that_is_not_a_finite_number_does_not_break_the_figures(string width)
    {
        // Issue 19 (found by the fuzz tests): such a tag became a NaN in the figure JSON, and writing it threw.
        using var tmp = new TempDirectory();
        var run = tmp.Directory("run");
        ResultFiles.Write(run, "core", new("a", "topk", 64), [ResultFiles.L0(4), ResultFiles.ExplainedVariance(0.9)]);
        ResultFiles.Write(run, "core", new("b", "topk", 128), [ResultFiles.L0(8), ResultFiles.ExplainedVariance(0.95)]);
        var file = Path.Combine(run, "eval_results", "core", "a_eval_results.json");
        File.WriteAllText(file, File.ReadAllText(file).Replace("\"width\": \"64\"", $"\"width\": \"{width}\""));
        var outcome = ReportBuilder.Build(run, run, new ReportOptions());
        Assert.True(outcome.ImagesRendered, outcome.ImageNote);
    }
}
