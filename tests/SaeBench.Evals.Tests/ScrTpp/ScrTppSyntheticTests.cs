using System.Text.Json.Nodes;
using SaeBench.Core.Autoencoders;
using SaeBench.Core.Evaluation;
using SaeBench.Core.Running;
using SaeBench.Evals.ScrTpp;
using SaeBench.Evals.Tests.Fixtures;
using SaeBench.Evals.Tests.Schemas;
using SaeBench.Models.Synthetic;
using SaeBench.TestKit;

namespace SaeBench.Evals.Tests.ScrTpp;

/// <summary>
/// SCR and TPP on the synthetic world, where the right answer is known: the spurious attribute is which of two known
/// features fires, the classes are parents with known directions. Features have equal magnitude scales and no children,
/// so the class and the spurious attribute are equally salient two-direction contrasts and the biased probe leans on both.
/// </summary>
public class ScrTppSyntheticTests
{
    private static readonly Lazy<SyntheticWorld> Shared = new(() => EvalFixtures.World(EvalFixtures.SmallWorld with
    {
        ChildrenPerParent = 0, MagnitudeExponent = 0, NoiseStd = 0.01, TrainExamples = 20000, TestExamples = 12000,
    }));

    private static SyntheticWorld World => Shared.Value;

    private static readonly JsonObject Small = new() { ["train_set_size"] = 800, ["test_set_size"] = 400, ["n_values"] = new JsonArray(2, 5, 10, 20, 50) };

    private static (EvalResult Result, JsonObject File) Run(IEvaluator evaluator, Sae sae, JsonObject? options = null)
    {
        var parsed = evaluator.ParseOptions((JsonObject)(options ?? Small).DeepClone());
        var context = EvalFixtures.Context(sae, World, seed: 5);
        var result = SingleJob.Run(evaluator, parsed, context);
        return (result, ResultFiles.Of(evaluator, parsed, result, context));
    }

    /// <summary>The oracle SAE with the latents of <paramref name="silenced"/> features never firing: their signal stays in the error term.</summary>
    private static Sae Without(IEnumerable<int> silenced)
    {
        int n = World.Directions.Rows;
        var mix = new double[n, n];
        var off = silenced.ToHashSet();
        for (int i = 0; i < n; i++) mix[i, i] = off.Contains(i) ? 0 : 1;
        return EvalFixtures.FromTrueCodes(World.Directions, World.Directions.Clone(), mix);
    }

    [Fact]
    public void Scr_is_high_for_an_sae_with_latents_on_the_spurious_features_and_near_zero_without_them()
    {
        var (with, file) = Run(new ScrEvaluator(), EvalFixtures.Oracle(World));
        var (without, _) = Run(new ScrEvaluator(), Without(World.SpuriousFeatures));
        string Dump(EvalResult r) => string.Join(", ", r.Metrics.Select(m => $"{m.Descriptor.Name}={m.Value:F3}")) + "\n" + r.Unstructured!.ToJsonString();

        // Direction 1 ablates what the spurious probe reads; with the two spurious latents among the top 2 the biased
        // probe reads the class alone again, closing nearly all of its gap to the unbiased class probe.
        Assert.True(with.Get("scr_metrics.scr_dir1_threshold_2") >= 0.8, Dump(with));
        // Without those latents the spurious signal sits in the error term, which ablation keeps: nothing is recovered.
        Assert.InRange(without.Get("scr_metrics.scr_dir1_threshold_2")!.Value, -0.3, 0.3);
        Assert.InRange(without.Get("scr_metrics.scr_dir1_threshold_5")!.Value, -0.3, 0.3);
        // Here the biased probe is worse on the class data than on the spurious data, so SAEBench's metric is direction 1.
        foreach (var run in (JsonArray)with.Unstructured!["runs"]!)
            Assert.True((double)run!["biased_probe_accuracy_on_target"]! < (double)run["biased_probe_accuracy_on_spurious"]!, Dump(with));
        Assert.Equal(with.Get("scr_metrics.scr_dir1_threshold_2"), with.Get("scr_metrics.scr_metric_threshold_2"));

        // n above the width (40 latents) is undefined; details carry one row per class pair with SAEBench's names.
        Assert.Null(with.Get("scr_metrics.scr_metric_threshold_50"));
        Assert.Equal(["synthetic/classes_scr_parent_00_parent_01_results", "synthetic/classes_scr_parent_02_parent_03_results"],
            with.Details.Select(d => (string)d["dataset_name"]!));
        SaeBenchSchemas.AssertValid("scr", file);
    }

    [Fact]
    public void Tpp_is_high_for_an_sae_with_the_class_features_and_near_zero_for_one_without_them()
    {
        var (oracle, file) = Run(new TppEvaluator(), EvalFixtures.Oracle(World));
        // The identity SAE's latents are coordinates: each mixes every feature, none is a class's.
        var (identity, _) = Run(new TppEvaluator(), Sae.Identity(World.Info.DModel));
        // The oracle with the class (parent) latents silenced: every class signal sits in the error term, which ablation keeps.
        var (noClassLatents, _) = Run(new TppEvaluator(), Without(World.Features.Where(f => f.Kind == FeatureKind.Parent).Select(f => f.Id)));
        string Dump(EvalResult r) => string.Join(", ", r.Metrics.Select(m => $"{m.Descriptor.Name}={m.Value:F3}"));

        Assert.True(oracle.Get("tpp_metrics.tpp_threshold_2_total_metric") >= 0.25, Dump(oracle));
        Assert.True(oracle.Get("tpp_metrics.tpp_threshold_2_intended_diff_only") >= 0.25, Dump(oracle));
        Assert.True(oracle.Get("tpp_metrics.tpp_threshold_2_unintended_diff_only") <= 0.05, Dump(oracle));
        Assert.InRange(identity.Get("tpp_metrics.tpp_threshold_2_total_metric")!.Value, -0.05, 0.05);
        Assert.InRange(identity.Get("tpp_metrics.tpp_threshold_5_total_metric")!.Value, -0.05, 0.05);
        Assert.InRange(noClassLatents.Get("tpp_metrics.tpp_threshold_2_total_metric")!.Value, -0.05, 0.05);
        Assert.InRange(noClassLatents.Get("tpp_metrics.tpp_threshold_5_total_metric")!.Value, -0.05, 0.05);
        // total = intended − unintended, at every n
        foreach (int n in new[] { 2, 5, 10, 20 })
            Assert.Equal(oracle.Get($"tpp_metrics.tpp_threshold_{n}_intended_diff_only")!.Value - oracle.Get($"tpp_metrics.tpp_threshold_{n}_unintended_diff_only")!.Value,
                oracle.Get($"tpp_metrics.tpp_threshold_{n}_total_metric")!.Value, 12);
        Assert.Equal("synthetic/classes_tpp_results", (string)Assert.Single(oracle.Details)["dataset_name"]!);
        SaeBenchSchemas.AssertValid("tpp", file);
    }

    [Fact]
    public void The_same_seed_gives_the_same_numbers()
    {
        var options = new JsonObject { ["train_set_size"] = 200, ["test_set_size"] = 100, ["n_values"] = new JsonArray(2, 5) };
        var a = Run(new ScrEvaluator(), EvalFixtures.Oracle(World), options).Result;
        var b = Run(new ScrEvaluator(), EvalFixtures.Oracle(World), options).Result;
        Assert.Equal(a.Metrics.Select(m => m.Value), b.Metrics.Select(m => m.Value));
    }
}
