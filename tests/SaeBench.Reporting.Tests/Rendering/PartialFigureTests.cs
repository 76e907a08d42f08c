using SaeBench.Reporting.Tests.Fixtures;
using SaeBench.TestKit;

namespace SaeBench.Reporting.Tests.Rendering;

/// <summary>
/// No partial figures (issue 19): figures are drawn in process and written atomically, so a report killed mid-way leaves
/// at most temp files, never half an image where a figure belongs; the next build removes the temp files a dead report
/// left (and never a live one's).
/// </summary>
public sealed class PartialFigureTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Temp_images_a_killed_report_left_are_removed_and_figures_are_whole()
    {
        var run = _dir.Directory("run");
        RichRun.Write(run);
        var figures = _dir.Directory("report", ReportBuilder.FiguresFolder);
        // What a report killed while writing would leave: a temp image (here of the older naming, untouched for two days).
        var stale = Path.Combine(figures, ".architecture_comparison.svg.abcd1234.tmp");
        File.WriteAllText(stale, "<svg partial");
        File.SetLastWriteTimeUtc(stale, DateTime.UtcNow.AddDays(-2));
        // A temp image of the same name pattern, fresh: its writer may be alive, so it stays.
        var fresh = Path.Combine(figures, ".architecture_comparison.png.0123abcd.tmp");
        File.WriteAllText(fresh, "in flight");

        var outcome = ReportBuilder.Build(run, _dir.File("report"), new ReportOptions(), TextWriter.Null);

        Assert.True(outcome.ImagesRendered, outcome.ImageNote);
        Assert.False(File.Exists(stale));
        Assert.True(File.Exists(fresh));
        Assert.DoesNotContain(outcome.Files, f => f.EndsWith(".tmp", StringComparison.Ordinal));
        foreach (var svg in Directory.GetFiles(figures, "*.svg"))
            Assert.EndsWith("</svg>", File.ReadAllText(svg).TrimEnd());
    }
}
