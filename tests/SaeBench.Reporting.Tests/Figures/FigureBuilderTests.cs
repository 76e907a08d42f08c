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

    private static IEnumerable<JsonObject> Panels(Figure f) => f.Spec["concat"]!.AsArray().Select(p => p!.AsObject());

    private static JsonArray Layers(JsonObject panel) => panel["layer"]!.AsArray();

    private static JsonObject LayerWithMark(JsonObject panel, string mark) =>
        Layers(panel).Select(l => l!.AsObject()).First(l => (l["mark"] is JsonObject m ? (string?)m["type"] : (string?)l["mark"]) == mark);

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
        var actual = figure.ToJson().ReplaceLineEndings("\n") + "\n";
        if (Environment.GetEnvironmentVariable("SAEBENCH_UPDATE_GOLDEN") == "1") File.WriteAllText(golden, actual);
        Assert.True(File.Exists(golden), $"golden file missing: {golden}");
        Assert.Equal(File.ReadAllText(golden).ReplaceLineEndings("\n"), actual);
    }

    // ---- structural assertions, independent of the golden files ----

    [Fact]
    public void L0_frontier_has_a_log_x_axis_titles_with_units_and_one_line_per_width()
    {
        var f = FigureBuilder.L0Frontier(_set, Headline("loss_recovered"), new FigureOptions())!;
        var panels = Panels(f).ToList();
        Assert.Equal(["relu", "topk"], panels.Select(p => (string)p["title"]!));   // baselines are not a panel
        foreach (var p in panels)
        {
            var line = LayerWithMark(p, "line");
            var enc = line["encoding"]!.AsObject();
            Assert.Equal("log", (string)enc["x"]!["scale"]!["type"]!);
            Assert.Equal("L0 (latents)", (string)enc["x"]!["title"]!);
            Assert.Equal("Loss recovered (fraction)", (string)enc["y"]!["title"]!);
            Assert.Equal("width", (string)enc["color"]!["field"]!);
            Assert.Equal(["256", "1024"], enc["color"]!["scale"]!["domain"]!.AsArray().Select(n => (string)n!));
            // one line per width: the panel's rows split by width into two series of two points, each of one architecture
            var rows = p["data"]!["values"]!.AsArray().Select(r => r!.AsObject()).ToList();
            Assert.Equal(4, rows.Count);
            Assert.All(rows.GroupBy(r => (string)r["width"]!), g => Assert.Equal(2, g.Count()));
            Assert.All(rows, r => Assert.Equal((string)p["title"]!, (string)r["architecture"]!));
        }
        // values come from the files: topk-1024-l32 has L0 32 and loss recovered 0.96
        var topk = panels[1]["data"]!["values"]!.AsArray().Single(r => (string)r!["checkpoint_id"]! == "topk-1024-l32")!;
        Assert.Equal((32.0, 0.96), ((double)topk["x"]!, (double)topk["y"]!));
    }

    [Fact]
    public void Baselines_are_dashed_reference_rules_at_their_values()
    {
        var f = FigureBuilder.L0Frontier(_set, Headline("loss_recovered"), new FigureOptions())!;
        var rule = LayerWithMark(Panels(f).First(), "rule");
        var row = Assert.Single(rule["data"]!["values"]!.AsArray())!;
        Assert.Equal(("pca", 0.75), ((string)row["baseline"]!, (double)row["y"]!));
        Assert.Equal("baseline", (string)rule["encoding"]!["strokeDash"]!["field"]!);
    }

    [Fact]
    public void Architecture_figure_omits_missing_metrics_and_rings_the_mdl_optimal_checkpoint()
    {
        var f = FigureBuilder.ArchitectureComparison(_set, new FigureOptions())!;
        var panels = Panels(f).ToList();
        // no absorption, unlearning or autointerp results in the fixture → those panels are left out
        Assert.Equal(["Loss recovered", "Explained variance", "Sparse probing (top-1)", "MDL (description length)"], panels.Select(p => (string)p["title"]!));
        foreach (var p in panels)
        {
            var point = LayerWithMark(p, "point");
            Assert.Equal("log", (string)point["encoding"]!["x"]!["scale"]!["type"]!);
            Assert.Equal("architecture", (string)point["encoding"]!["color"]!["field"]!);
            var marker = Layers(p).Select(l => l!.AsObject()).Single(l => l["mark"]!["type"]!.ToString() == "point" && l["mark"]!["filled"]!.GetValue<bool>() == false);
            Assert.Equal("topk-1024-l32", (string)marker["data"]!["values"]![0]!["checkpoint_id"]!);
        }
        Assert.Equal("Description length (bits/token)", (string)LayerWithMark(panels[3], "point")["encoding"]!["y"]!["title"]!);
        // PCA has no MDL result: no reference rule in the MDL panel, one in the others
        Assert.DoesNotContain(Layers(panels[3]), l => l!["mark"]!["type"]?.ToString() == "rule");
        Assert.Contains(Layers(panels[2]), l => l!["mark"]!["type"]?.ToString() == "rule");
        Assert.Contains("topk-1024-l32", f.Spec["title"]!["subtitle"]!.ToString());
    }

    [Fact]
    public void Mdl_target_is_an_option()
    {
        var f = FigureBuilder.ArchitectureComparison(_set, new FigureOptions(MdlFvuTarget: 0.2))!;
        var marker = Layers(Panels(f).First()).Select(l => l!.AsObject()).Single(l => l["mark"]!["type"]!.ToString() == "point" && l["mark"]!["filled"]!.GetValue<bool>() == false);
        Assert.Equal("topk-256-l8", (string)marker["data"]!["values"]![0]!["checkpoint_id"]!);
    }

    [Fact]
    public void Width_scaling_uses_a_log2_width_axis_and_a_mean_line_per_architecture()
    {
        var f = FigureBuilder.WidthScaling(_set, new FigureOptions())!;
        var p = Panels(f).First();
        var line = LayerWithMark(p, "line")["encoding"]!.AsObject();
        Assert.Equal("log", (string)line["x"]!["scale"]!["type"]!);
        Assert.Equal(2, (int)line["x"]!["scale"]!["base"]!);
        Assert.Equal("Dictionary width (latents)", (string)line["x"]!["title"]!);
        Assert.Equal("mean", (string)line["y"]!["aggregate"]!);
        Assert.Equal("architecture", (string)line["color"]!["field"]!);
    }

    [Fact]
    public void One_width_gives_no_width_scaling_figure()
    {
        using var tmp = new TempDirectory();
        foreach (var c in SmallRun.Saes.Where(c => c.Width == 256))
            ResultFiles.Write(tmp.Path, "core", c, [ResultFiles.L0(8), ResultFiles.ExplainedVariance(0.9), ResultFiles.LossRecovered(0.95)]);
        var oneWidth = ResultReader.Load(tmp.Path);
        Assert.True(oneWidth.Checkpoints.Count(c => !c.IsBaseline) >= 2);
        Assert.Null(FigureBuilder.WidthScaling(oneWidth, new FigureOptions()));
        Assert.DoesNotContain(FigureBuilder.All(oneWidth, new FigureOptions()), f => f.Name == "width_scaling");
        Assert.NotNull(FigureBuilder.WidthScaling(_set, new FigureOptions()));
    }

    [Fact]
    public void A_metric_nobody_measured_gives_no_figure_rather_than_an_error()
    {
        Assert.Null(FigureBuilder.L0Frontier(_set, Headline("absorption"), new FigureOptions()));
        var names = FigureBuilder.All(_set, new FigureOptions()).Select(f => f.Name).ToList();
        Assert.Equal(
            ["architecture_comparison", "l0_vs_loss_recovered", "l0_vs_explained_variance", "l0_vs_sparse_probing_top1", "l0_vs_mdl",
             "width_scaling", "summary_core", "summary_mdl", "summary_sparse_probing"],
            names);
    }

    [Fact]
    public void Evaluator_summary_has_a_panel_per_metric_with_units()
    {
        var f = FigureBuilder.EvaluatorSummaries(_set, new FigureOptions()).Single(x => x.Name == "summary_core");
        Assert.Equal(["L0 (latents)", "Explained variance (fraction)", "Loss recovered (fraction)"], f.Spec["facet"]!["sort"]!.AsArray().Select(n => (string)n!));
        Assert.Equal(9 * 3, f.Spec["data"]!["values"]!.AsArray().Count);
        Assert.Equal("independent", (string)f.Spec["resolve"]!["scale"]!["x"]!);
    }

    private static string SourceDir([CallerFilePath] string path = "") => Path.GetDirectoryName(path)!;
}
