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
}
