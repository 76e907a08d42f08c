using SaeBench.TestKit;
using System.Runtime.CompilerServices;
using System.Text.Json.Nodes;
using SaeBench.Reporting.Figures;
using SaeBench.Reporting.Results;
using SaeBench.Reporting.Tests.Fixtures;

namespace SaeBench.Reporting.Tests.Figures;

public class FigureBuilderTests : IDisposable
{
    private readonly TempDirectory _tmp = new();
    private readonly ResultSet _set;

    public FigureBuilderTests()
    {
        SmallRun.Write(_tmp.Path);
        _set = ResultReader.Load(_tmp.Path);
    }

    public void Dispose() => _tmp.Dispose();

    private static HeadlineMetric Headline(string slug) => HeadlineMetrics.All.Single(h => h.Slug == slug);

    private static List<XyPanel> Xy(Figure f) => f.Panels.Cast<XyPanel>().ToList();

    // ---- golden specs: hand-reviewed files under Golden/; SAEBENCH_UPDATE_GOLDEN=1 rewrites them (review the diff!) ----

    [Theory]
    [InlineData("architecture_comparison")]
    [InlineData("l0_vs_loss_recovered")]
    [InlineData("width_scaling")]
    [InlineData("summary_mdl")]
    public void Spec_matches_the_reviewed_golden_file(string name)
    {
        var figure = FigureBuilder.All(_set, new FigureOptions()).Single(f => f.Name == name);
        var golden = Path.Combine(SourceDir(), "..", "Golden", name + ".vl.json");
        var actual = figure.ToVegaLiteJson().ReplaceLineEndings("\n") + "\n";
        if (Environment.GetEnvironmentVariable("SAEBENCH_UPDATE_GOLDEN") == "1") File.WriteAllText(golden, actual);
        Assert.True(File.Exists(golden), $"golden file missing: {golden}");
        Assert.Equal(File.ReadAllText(golden).ReplaceLineEndings("\n"), actual);
    }

    // ---- structural assertions on the figure description, independent of the golden files ----

    [Fact]
    public void L0_frontier_has_one_panel_per_architecture_on_shared_scales_and_one_line_per_width()
    {
        var f = FigureBuilder.L0Frontier(_set, Headline("loss_recovered"))!;
        var panels = Xy(f);
        Assert.Equal(["relu", "topk"], panels.Select(p => p.Title));   // baselines are not a panel
        Assert.Equal("L0 (latents, log scale)", f.SharedXTitle);
        foreach (var p in panels)
        {
            Assert.Equal(ScaleKind.Log10, p.X.Scale);
            Assert.Equal("fraction", p.Y.Title);                          // the unit, said once
            Assert.Equal((panels[0].X, panels[0].Y), (p.X, p.Y));        // small multiples share both scales
            Assert.Equal(2, p.Series.Count);                              // one line per width …
            Assert.All(p.Series, s => Assert.Equal(p.Title, s.ColorKey)); // … never across architectures
            Assert.All(p.Series, s => Assert.True(s.Connect && s.Points.Count == 2));
            Assert.All(p.Series.SelectMany(s => s.Points), pt => Assert.True(pt.X > p.X.Min && pt.X < p.X.Max && pt.Y > p.Y.Min && pt.Y < p.Y.Max));
        }
        // values come from the files: topk-1024-l32 has L0 32 and loss recovered 0.96
        var topk = panels[1].Series.SelectMany(s => s.Points).Single(pt => pt.Checkpoints.SequenceEqual(["topk-1024-l32"]));
        Assert.Equal((32.0, 0.96), (topk.X, topk.Y));
    }

    [Fact]
    public void Baselines_are_reference_lines_at_their_values_and_only_where_they_apply()
    {
        var f = FigureBuilder.L0Frontier(_set, Headline("loss_recovered"))!;
        var line = Assert.Single(Xy(f)[0].References);
        Assert.Equal(("PCA", 0.75), (line.Label, line.Y));
        var legend = f.Legend.Single(g => g.Kind == LegendKind.Reference);
        Assert.Equal(LinePattern.Dashed, Assert.Single(legend.Entries).Line);
        Assert.Contains("PCA (dashed)", f.Subtitle);
        // MDL: no baseline line even where a baseline has a value
        Assert.Empty(Xy(FigureBuilder.L0Frontier(_set, Headline("mdl"))!).SelectMany(p => p.References));
    }

    [Fact]
    public void Architecture_figure_omits_missing_metrics_rings_the_mdl_optimal_checkpoint_and_fills_its_grid()
    {
        var f = FigureBuilder.ArchitectureComparison(_set, new FigureOptions())!;
        var panels = Xy(f);
        // no absorption, unlearning or autointerp results in the fixture → those panels are left out (and said so)
        Assert.Equal(["Loss recovered", "Explained variance", "Sparse probing accuracy", "MDL description length"], panels.Select(p => p.Title));
        Assert.Contains(f.Notes, n => n.Contains("Not measured in this run: Mean absorption fraction, Unlearning score, Autointerp score", StringComparison.Ordinal));
        Assert.All(panels, p => Assert.Equal("topk-1024-l32", Assert.Single(p.Highlights).CheckpointId));
        Assert.All(panels, p => Assert.Equal(panels[0].X, p.X));       // one L0 axis for all panels
        Assert.Equal("bits/token", panels[3].Y.Title);
        Assert.Empty(panels[3].References);                             // MDL: no baseline
        Assert.Single(panels[2].References);
        Assert.Equal(3, f.Columns);                                     // 4 panels: 3 + 1, the legend fills the last row's two cells
        Assert.Contains("MDL-optimal", f.Legend.Single(g => g.Kind == LegendKind.Highlight).Entries.Single().Label);
        // every series is one architecture at one width
        Assert.All(panels.SelectMany(p => p.Series), s => Assert.Matches("^(relu|topk), width (256|1024)$", s.Label));
    }

    [Fact]
    public void Mdl_target_is_an_option()
    {
        var f = FigureBuilder.ArchitectureComparison(_set, new FigureOptions(MdlFvuTarget: 0.2))!;
        Assert.Equal("topk-256-l8", Assert.Single(Xy(f)[0].Highlights).CheckpointId);
    }

    [Fact]
    public void Width_scaling_uses_a_log2_width_axis_and_a_line_per_architecture_and_l0_target()
    {
        var f = FigureBuilder.WidthScaling(_set)!;
        var p = Xy(f)[0];
        Assert.Equal(ScaleKind.Log2, p.X.Scale);
        Assert.Equal("Dictionary width (latents), log scale", f.SharedXTitle);
        Assert.Equal([256.0, 512.0, 1024.0], p.X.Ticks!.Select(t => t.Value));
        // relu at L0 16 and 64, topk at 8 and 32: four lines of two widths each, never across L0 targets
        Assert.Equal(4, p.Series.Count);
        Assert.All(p.Series, s => Assert.Equal(2, s.Points.Count));
        Assert.Contains(p.Series, s => s.Label == "topk, target L0 32");
        Assert.Equal(["8", "16", "32", "64"], f.Legend.Single(g => g.Kind == LegendKind.Size).Entries.Select(e => e.Key));
    }

    [Fact]
    public void Seeds_of_one_configuration_are_one_point_with_an_error_bar()
    {
        using var tmp = new TempDirectory();
        double[] evs = [0.80, 0.84, 0.88];
        for (int s = 0; s < 3; s++)
        {
            var c = new Ckpt($"topk-256-l8-s{s}", "topk", 256, 8, Seed: s);
            ResultFiles.Write(tmp.Path, "core", c, [ResultFiles.L0(8 + s), ResultFiles.ExplainedVariance(evs[s]), ResultFiles.LossRecovered(0.9)]);
        }
        var set = ResultReader.Load(tmp.Path);
        var panel = Xy(FigureBuilder.L0Frontier(set, Headline("explained_variance"))!).Single();
        var point = Assert.Single(Assert.Single(panel.Series).Points);
        Assert.Equal(3, point.Checkpoints.Count);
        Assert.Equal(0.84, point.Y, 9);
        Assert.Equal(0.04, point.YError!.Value, 9);                     // sample s.d.
        Assert.Equal(9.0, point.X, 9);
        Assert.True(panel.Y.Min < 0.80 && panel.Y.Max > 0.88);          // the error bar is not clipped
    }

    [Fact]
    public void Every_architecture_has_its_own_colour_and_marker_pair_in_every_figure()
    {
        string[] archs = ["relu", "topk", "batchtopk", "jumprelu", "gated", "p_anneal", "matryoshka_batchtopk", "feature_choice", "mutual_choice", "other_a", "other_b"];
        var styles = Palette.For(archs);
        Assert.Equal(archs.Length, styles.Values.Select(s => s.Color).Distinct().Count());
        Assert.Equal(styles["topk"], Palette.For(["topk"])["topk"]);     // fixed, whatever else a run has
    }

    [Fact]
    public void One_width_gives_no_width_scaling_figure()
    {
        using var tmp = new TempDirectory();
        foreach (var c in SmallRun.Saes.Where(c => c.Width == 256))
            ResultFiles.Write(tmp.Path, "core", c, [ResultFiles.L0(8), ResultFiles.ExplainedVariance(0.9), ResultFiles.LossRecovered(0.95)]);
        var oneWidth = ResultReader.Load(tmp.Path);
        Assert.True(oneWidth.Checkpoints.Count(c => !c.IsBaseline) >= 2);
        Assert.Null(FigureBuilder.WidthScaling(oneWidth));
        Assert.DoesNotContain(FigureBuilder.All(oneWidth, new FigureOptions()), f => f.Name == "width_scaling");
        Assert.NotNull(FigureBuilder.WidthScaling(_set));
    }

    [Fact]
    public void A_metric_nobody_measured_gives_no_figure_rather_than_an_error()
    {
        Assert.Null(FigureBuilder.L0Frontier(_set, Headline("absorption")));
        var names = FigureBuilder.All(_set, new FigureOptions()).Select(f => f.Name).ToList();
        Assert.Equal(
            ["architecture_comparison", "l0_vs_loss_recovered", "l0_vs_explained_variance", "l0_vs_sparse_probing_top1", "l0_vs_mdl",
             "width_scaling", "summary_core", "summary_mdl", "summary_sparse_probing"],
            names);
    }

    [Fact]
    public void Evaluator_summary_is_a_dot_plot_per_metric_with_full_ids_and_data_range_axes()
    {
        var f = FigureBuilder.EvaluatorSummaries(_set).Single(x => x.Name == "summary_core");
        var panels = f.Panels.Cast<DotPanel>().ToList();
        Assert.Equal(["L0", "Explained variance", "Loss recovered"], panels.Select(p => p.Title));
        Assert.Equal(SmallRun.Saes.Length + 1, panels[0].Categories.Count);  // every checkpoint, its full id
        Assert.Contains("pca-128", panels[0].Categories);
        // values between PCA's 0.70 and 0.94: the axis spans them (padded), it does not start at 0
        Assert.InRange(panels[1].Value.Min, 0.6, 0.70);
    }

    [Fact]
    public void Summary_drops_a_metric_that_is_the_same_for_every_checkpoint_and_says_so()
    {
        using var tmp = new TempDirectory();
        foreach (var c in SmallRun.Saes)
            ResultFiles.Write(tmp.Path, "core", c, [ResultFiles.L0(SmallRun.Values[c.Id].L0), ResultFiles.LossRecovered(0.5)]);
        var f = FigureBuilder.EvaluatorSummaries(ResultReader.Load(tmp.Path)).Single();
        Assert.Equal(["L0"], f.Panels.Select(p => p.Title));
        Assert.Contains(f.Notes, n => n.Contains("Loss recovered = 0.5", StringComparison.Ordinal));
    }

    [Fact]
    public void The_autointerp_judge_is_named()
    {
        using var tmp = new TempDirectory();
        foreach (var c in SmallRun.Saes.Take(2))
        {
            ResultFiles.Write(tmp.Path, "core", c, [ResultFiles.L0(SmallRun.Values[c.Id].L0)]);
            ResultFiles.Write(tmp.Path, "autointerp", c, [ResultFiles.Autointerp(0.8)], config: new JsonObject { ["judge"] = "openai-chat", ["model"] = "m1" });
        }
        var f = FigureBuilder.ArchitectureComparison(ResultReader.Load(tmp.Path), new FigureOptions())!;
        Assert.Contains("autointerp judge: openai-chat (model m1).", f.Notes);
    }

    private static string SourceDir([CallerFilePath] string path = "") => Path.GetDirectoryName(path)!;
}
