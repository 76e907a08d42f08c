using SaeBench.Reporting.Figures;
using SaeBench.Reporting.Results;
using SaeBench.Reporting.Tables;
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

    [Fact]
    public void Ravel_is_a_headline_panel_read_from_its_result_files()
    {
        using var tmp = new TempDirectory();
        var c = new Ckpt("topk-a", "topk", 64, 8);
        ResultFiles.Write(tmp.Path, "core", c, [ResultFiles.L0(8), ResultFiles.ExplainedVariance(0.9)]);
        ResultFiles.Write(tmp.Path, "ravel", c, [ResultFiles.Ravel(0.7)]);
        var set = ResultReader.Load(tmp.Path);
        var panel = Assert.Single(HeadlinePanels.For(set), p => p.Slug == "ravel");
        Assert.True(set.HasValues(panel.Key));
    }

    /// <summary>SmallRun plus SCR, TPP and meta-structure results written as the evaluators describe them: SAEs with
    /// hand-picked values, the PCA baseline with SCR and TPP only (meta_structure of a baseline is not drawn).</summary>
    private static ResultSet WithScrTppMeta(string root)
    {
        SmallRun.Write(root);
        int i = 0;
        foreach (var c in SmallRun.Saes)
        {
            ResultFiles.Write(root, "scr", c, [ResultFiles.Scr(2, 0.05 * i), ResultFiles.Scr(20, 0.3 + 0.01 * i)]);
            ResultFiles.Write(root, "tpp", c, [ResultFiles.Tpp(20, 0.1 + 0.01 * i)]);
            ResultFiles.Write(root, "meta_structure_decoder_variance", c, [ResultFiles.MetaFve(0.4 + 0.01 * i)]);
            i++;
        }
        ResultFiles.Write(root, "scr", SmallRun.Pca, [ResultFiles.Scr(20, 0.123)]);
        ResultFiles.Write(root, "tpp", SmallRun.Pca, [ResultFiles.Tpp(20, 0.0456)]);
        return ResultReader.Load(root);
    }

    [Fact]
    public void Scr_tpp_and_meta_structure_are_panels_with_frontiers_and_summary_columns_when_measured()
    {
        using var tmp = new TempDirectory();
        var set = WithScrTppMeta(tmp.Path);
        var slugs = HeadlinePanels.For(set).Select(p => p.Slug).ToList();
        Assert.Contains("scr_top20", slugs);
        Assert.Contains("tpp_top20", slugs);
        Assert.Contains("meta_structure", slugs);

        var arch = FigureBuilder.ArchitectureComparison(set, new FigureOptions())!;
        var panels = arch.Panels.Cast<XyPanel>().ToDictionary(p => p.Title);
        Assert.Contains("Spurious correlation removal", panels.Keys);
        Assert.Contains("Targeted probe perturbation", panels.Keys);
        Assert.Contains("Meta-SAE variance explained", panels.Keys);
        // The axis titles are the descriptors' units, not names the report knows.
        Assert.Equal("ratio", panels["Spurious correlation removal"].Y.Title);
        Assert.Equal("accuracy", panels["Targeted probe perturbation"].Y.Title);
        // The PCA baseline's SCR/TPP (top 20) is a reference line; the meta-SAE panel has none.
        Assert.Equal([0.123], panels["Spurious correlation removal"].References.Select(r => r.Y));
        Assert.Equal([0.0456], panels["Targeted probe perturbation"].References.Select(r => r.Y));
        Assert.Empty(panels["Meta-SAE variance explained"].References);
        Assert.DoesNotContain(arch.Notes, n => n.Contains("Spurious correlation removal,", StringComparison.Ordinal) && n.StartsWith("Not measured", StringComparison.Ordinal));

        var names = FigureBuilder.All(set, new FigureOptions()).Select(f => f.Name).ToList();
        Assert.Contains("l0_vs_scr_top20", names);
        Assert.Contains("l0_vs_tpp_top20", names);
        Assert.Contains("l0_vs_meta_structure", names);
        Assert.Contains("summary_scr", names);
        Assert.Contains("summary_meta_structure_decoder_variance", names);
        var frontier = FigureBuilder.L0Frontier(set, HeadlineMetrics.All.Single(h => h.Slug == "scr_top20"))!;
        Assert.Contains("Spurious correlation removal: top 20 latents ablated.", frontier.Notes);

        var summary = SummaryMarkdown.Build(set, new FigureOptions());
        Assert.Contains("Spurious correlation removal (ratio)", summary);
        Assert.Contains("Targeted probe perturbation (accuracy)", summary);
        Assert.Contains("Meta-SAE variance explained (fraction)", summary);
    }

    [Fact]
    public void Scr_tpp_and_meta_structure_are_listed_as_not_measured_when_a_run_has_none()
    {
        using var tmp = new TempDirectory();
        SmallRun.Write(tmp.Path);
        var arch = FigureBuilder.ArchitectureComparison(ResultReader.Load(tmp.Path), new FigureOptions())!;
        var note = Assert.Single(arch.Notes, n => n.StartsWith("Not measured", StringComparison.Ordinal));
        Assert.Contains("Spurious correlation removal", note);
        Assert.Contains("Targeted probe perturbation", note);
        Assert.Contains("Meta-SAE variance explained", note);
    }
}
