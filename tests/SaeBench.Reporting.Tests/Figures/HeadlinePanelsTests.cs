using SaeBench.Reporting.Figures;
using SaeBench.Reporting.Results;
using SaeBench.Reporting.Tests.Fixtures;
using SaeBench.TestKit;

namespace SaeBench.Reporting.Tests.Figures;

public class HeadlinePanelsTests
{
    private static IReadOnlyList<string> Panels(params string[] absorptionEvals)
    {
        using var tmp = new TempDirectory();
        var c = new Ckpt("topk-a", "topk", 64, 8);
        ResultFiles.Write(tmp.Path, "core", c, [ResultFiles.L0(8), ResultFiles.ExplainedVariance(0.9)]);
        foreach (var e in absorptionEvals) ResultFiles.Write(tmp.Path, e, c, [ResultFiles.Absorption(0.2)]);
        return HeadlinePanels.For(ResultReader.Load(tmp.Path)).Select(p => p.Slug).ToList();
    }

    [Fact]
    public void The_hierarchy_panel_stands_in_for_first_letters_only_when_they_are_missing()
    {
        Assert.Contains("absorption", Panels("absorption_first_letter"));
        Assert.DoesNotContain("absorption_hierarchy", Panels("absorption_first_letter"));
        Assert.Contains("absorption_hierarchy", Panels("absorption_hierarchy"));
        Assert.DoesNotContain("absorption", Panels("absorption_hierarchy"));
        Assert.Contains("absorption", Panels()); // neither measured: the primary is listed (and noted as not measured)
        Assert.DoesNotContain("absorption_hierarchy", Panels());
    }
}
