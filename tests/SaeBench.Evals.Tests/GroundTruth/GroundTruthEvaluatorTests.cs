using SaeBench.TestKit;
using System.Text.Json.Nodes;
using SaeBench.Compute.Backends;
using SaeBench.Compute.Tensors;
using SaeBench.Core.Evaluation;
using SaeBench.Core.Models;
using SaeBench.Core.Running;
using SaeBench.Core.Autoencoders;
using SaeBench.Evals.GroundTruth;
using SaeBench.Evals.Tests.Fixtures;

namespace SaeBench.Evals.Tests.GroundTruth;

public class GroundTruthEvaluatorTests
{
    private static readonly GroundTruthEvaluator Evaluator = new();

    private static EvalResult Run(EvaluationContext context) => SingleJob.Run(Evaluator, new GroundTruthOptions(), context);

    [Fact]
    public void MatchingOnAHandCase()
    {
        // True features e0, e1, e2. Latents: 2·e0 (not unit), e0 + e1, −e2.
        // cos rows: f0 → [1, 1/√2, 0], f1 → [0, 1/√2, 0], f2 → [0, 0, −1].
        using var truth = HostMatrix.FromSpan([1, 0, 0, 0, 1, 0, 0, 0, 1], 3, 3);
        using var dec = HostMatrix.FromSpan([2, 0, 0, 1, 1, 0, 0, 0, -1], 3, 3);
        var m = GroundTruthEvaluator.Match(CpuBackend.Create(), truth, dec, blockRows: 2);
        double h = Math.Sqrt(0.5);
        Assert.Equal(new[] { 0, 1, 0 }, m.BestLatent); // f2: all cosines ≤ 0, ties → lowest index
        Assert.Equal(1, m.FeatureMaxCosine[0], 6);
        Assert.Equal(h, m.FeatureMaxCosine[1], 6);
        Assert.Equal(0, m.FeatureMaxCosine[2], 6);
        Assert.Equal(1, m.LatentMaxCosine[0], 6);
        Assert.Equal(h, m.LatentMaxCosine[1], 6);
        Assert.Equal(0, m.LatentMaxCosine[2], 6);
    }

    [Fact]
    public void BlockedMatchingEqualsTheNaiveCosines()
    {
        var rng = new Random(8);
        using var truth = Random(rng, 37, 6);
        using var dec = Random(rng, 23, 6);
        var m = GroundTruthEvaluator.Match(CpuBackend.Create(), truth, dec, blockRows: 5);
        for (int i = 0; i < truth.Rows; i++)
        {
            var cos = Enumerable.Range(0, dec.Rows).Select(j => Cos(truth.Row(i), dec.Row(j))).ToArray();
            Assert.Equal(cos.Max(), m.FeatureMaxCosine[i], 5);
            Assert.Equal(cos.Max(), cos[m.BestLatent[i]], 5);
        }
        for (int j = 0; j < dec.Rows; j++)
            Assert.Equal(Enumerable.Range(0, truth.Rows).Max(i => Cos(truth.Row(i), dec.Row(j))), m.LatentMaxCosine[j], 5);
    }

    [Fact]
    public void OracleSaeRecoversEverythingAndAbsorbsNothing()
    {
        var world = EvalFixtures.World(EvalFixtures.SmallWorld with { TestExamples = 1000 });
        var r = Run(EvalFixtures.Context(EvalFixtures.Oracle(world), world));

        Assert.Equal(1, r.Get("ground_truth.mmcs")!.Value, 5);
        Assert.Equal(1, r.Get("ground_truth.recovered_fraction"));
        Assert.Equal(1, r.Get("ground_truth.latent_precision"));
        Assert.Equal(0, r.Get("ground_truth.true_absorption_rate"));
        Assert.True((long)r.Unstructured!["child_active_pairs"]! > 0);
        Assert.Equal(world.Config.Features, r.Details.Count);
        Assert.All(r.Details, d => Assert.Equal((int)d["feature"]!, (int)d["best_latent"]!));
    }

    [Fact]
    public void AbsorbingSaeAlwaysSilencesTheParentWhereAChildFires()
    {
        var world = EvalFixtures.World(EvalFixtures.SmallWorld with { TestExamples = 1000 });
        var r = Run(EvalFixtures.Context(EvalFixtures.Absorbing(world), world));

        Assert.Equal(1, r.Get("ground_truth.true_absorption_rate"));
        // Child latents point at normalise(child + parent): cosine (1 + c·p)/‖c + p‖ with the child, below 0.9 for
        // near-orthogonal random directions, so exactly the 12 children are not recovered.
        int n = world.Config.Features, children = world.Config.ChildCount;
        var dirs = world.Directions;
        for (int c = world.Config.Parents; c < world.Config.Parents + children; c++)
        {
            var sum = dirs.Row(c).ToArray().Zip(dirs.Row(world.ParentOf[c]).ToArray(), (a, b) => a + b).ToArray();
            Assert.True(Cos(dirs.Row(c), sum) < 0.9);
        }
        Assert.Equal((double)(n - children) / n, r.Get("ground_truth.recovered_fraction")!.Value, 10);
    }

    [Fact]
    public void LatentPrecisionCountsOnlyAliveLatents()
    {
        // Oracle plus two extra latents with a random direction: one never fires (dead, ignored), one always fires
        // (alive, matches nothing) → precision = n / (n + 1).
        var world = EvalFixtures.World(EvalFixtures.SmallWorld with { TestExamples = 500 });
        var oracle = EvalFixtures.Oracle(world).Parameters;
        int n = world.Config.Features, d = world.Config.DModel;
        var wEnc = new HostMatrix(d, n + 2);
        var wDec = new HostMatrix(n + 2, d);
        for (int i = 0; i < d; i++) for (int j = 0; j < n; j++) wEnc[i, j] = oracle.WEnc[i, j];
        oracle.WDec.Span.CopyTo(wDec.Span);
        var rng = new Random(3);
        for (int k = 0; k < d; k++) { wDec[n, k] = (float)rng.NextDouble() - 0.5f; wDec[n + 1, k] = (float)rng.NextDouble() - 0.5f; }
        var bias = oracle.BEnc.Concat([-1e6f, 1f]).ToArray();
        var sae = new Sae("relu", new SaeParameters { WEnc = wEnc, BEnc = bias, WDec = wDec, BDec = new float[d] });
        var r = Run(EvalFixtures.Context(sae, world));

        Assert.Equal((double)n / (n + 1), r.Get("ground_truth.latent_precision")!.Value, 10);
        Assert.Equal(n + 1, (int)r.Unstructured!["alive_latents"]!);
    }

    [Fact]
    public void ModelsWithoutTrueFeaturesAreNotApplicable()
    {
        var model = FakeModelBuilder.Create(2).WithClasses("a").WithSplit(Split.Test, [1f, 2f], [0]).Build();
        var e = Assert.Throws<NotApplicableException>(() =>
            Evaluator.Start(EvalFixtures.Context(Sae.Identity(2), model), new GroundTruthOptions()));
        Assert.Contains("ground-truth", e.Message);
    }

    [Fact]
    public void BadThresholdNamesTheField()
    {
        var e = Assert.Throws<SaeBench.Core.Configuration.ConfigException>(() =>
            Evaluator.ParseOptions(new JsonObject { ["cosine_threshold"] = 2 }));
        Assert.Contains("cosine_threshold", e.Message);
    }

    private static HostMatrix Random(Random rng, int rows, int cols)
    {
        var m = new HostMatrix(rows, cols);
        for (int i = 0; i < m.Span.Length; i++) m.Span[i] = (float)(rng.NextDouble() - 0.5);
        return m;
    }

    private static double Cos(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        double ab = 0, aa = 0, bb = 0;
        for (int i = 0; i < a.Length; i++) { ab += a[i] * b[i]; aa += a[i] * a[i]; bb += b[i] * b[i]; }
        return ab / Math.Sqrt(aa * bb);
    }
}
