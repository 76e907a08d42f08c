using SaeBench.TestKit;
using System.Text.Json.Nodes;
using SaeBench.Compute.Tensors;
using SaeBench.Core.Configuration;
using SaeBench.Core.Evaluation;
using SaeBench.Core.Models;
using SaeBench.Core.Running;
using SaeBench.Core.Autoencoders;
using SaeBench.Evals.SparseProbing;
using SaeBench.Evals.Tests.Fixtures;

namespace SaeBench.Evals.Tests.SparseProbing;

public class SparseProbingEvaluatorTests
{
    private static readonly SparseProbingEvaluator Evaluator = new();

    private static EvalResult Run(EvaluationContext context, string options = "{}") =>
        SingleJob.Run(Evaluator, Evaluator.ParseOptions((JsonObject)JsonNode.Parse(options)!), context);

    private static JsonArray Classes(EvalResult r) => (JsonArray)r.Unstructured!["datasets"]![0]!["classes"]!;

    [Fact]
    public void PlanSamplesPositivesOfTheClassAndNegativesFromOtherLabelledClasses()
    {
        // Classes of sizes 10, 1000 and 100, plus unlabelled examples (−1) that must never be drawn.
        var classes = Enumerable.Repeat(0, 10).Concat(Enumerable.Repeat(1, 1000)).Concat(Enumerable.Repeat(2, 100))
            .Concat(Enumerable.Repeat(-1, 50)).ToArray();
        new Random(4).Shuffle(classes);
        var plan = SparseProbingEvaluator.Plan(classes, classes, 3, trainSize: 100, testSize: 40, seed: 9);

        Assert.Equal(3, plan.Length);
        int[] expectedPositives = [10, 50, 50];
        for (int c = 0; c < 3; c++)
        {
            var t = plan[c];
            Assert.Equal(expectedPositives[c], t.TrainPositives.Length);
            Assert.Equal(t.TrainPositives.Length, t.TrainNegatives.Length);
            Assert.Equal(Math.Min(expectedPositives[c], 20), t.TestPositives.Length);
            Assert.Equal(t.TestPositives.Length, t.TestNegatives.Length);
            Assert.All(t.TrainPositives, e => Assert.Equal(c, classes[e]));
            Assert.All(t.TrainNegatives, e => Assert.True(classes[e] >= 0 && classes[e] != c));
            Assert.Equal(t.TrainNegatives.Length, t.TrainNegatives.Distinct().Count());
            Assert.Equal(t.TrainPositives.Length, t.TrainPositives.Distinct().Count());
        }
    }

    [Fact]
    public void NegativesFollowTheOtherClassesFrequencies()
    {
        // Class 1's negatives are drawn uniformly from classes 0 (10 examples) and 2 (100): on average 50·10/110 ≈ 4.55
        // from class 0 (a draw uniform over classes would give 25). Class 2's: 50·10/1010 ≈ 0.50 from class 0.
        var classes = Enumerable.Repeat(0, 10).Concat(Enumerable.Repeat(1, 1000)).Concat(Enumerable.Repeat(2, 100)).ToArray();
        double fromZeroForOne = 0, fromZeroForTwo = 0;
        const int seeds = 300;
        for (int seed = 0; seed < seeds; seed++)
        {
            var plan = SparseProbingEvaluator.Plan(classes, classes, 3, 100, 4, seed);
            fromZeroForOne += plan[1].TrainNegatives.Count(e => classes[e] == 0);
            fromZeroForTwo += plan[2].TrainNegatives.Count(e => classes[e] == 0);
        }
        Assert.InRange(fromZeroForOne / seeds, 4.1, 5.0);
        Assert.InRange(fromZeroForTwo / seeds, 0.35, 0.65);
    }

    /// <summary>Two classes in d = 2; position 0 carries the class, position 1 is masked and holds large noise.</summary>
    private static FakeModel MaskedTwoClassModel()
    {
        var model = FakeModelBuilder.Create(2, positions: 2).WithClasses("left", "right");
        foreach (var (split, n, seed) in new[] { (Split.Train, 200, 1), (Split.Test, 100, 2) })
        {
            var rng = new Random(seed);
            var classes = Enumerable.Range(0, n).Select(i => i % 2).ToArray();
            var x = new float[n * 2 * 2];
            var valid = new bool[n * 2];
            for (int e = 0; e < n; e++)
            {
                float jitter = (float)(0.1 * rng.NextDouble());
                x[e * 4 + classes[e]] = 1 + jitter;             // position 0: one-hot class
                x[e * 4 + 2] = (float)(100 * rng.NextDouble()); // position 1: noise, masked
                x[e * 4 + 3] = (float)(100 * rng.NextDouble());
                valid[e * 2] = true;
            }
            model.WithSplit(split, x, classes, valid);
        }
        return model.Build();
    }

    [Fact]
    public void SeparableClassesGiveAccuracyOneAndMaskedPositionsAreIgnored()
    {
        var r = Run(EvalFixtures.Context(Sae.Identity(2), MaskedTwoClassModel()), """{"k_values": [1, 3]}""");

        Assert.Equal(1.0, r.Get("sae.sae_top_1_test_accuracy"));
        Assert.Equal(1.0, r.Get("sae.sae_test_accuracy"));
        Assert.Equal(1.0, r.Get("llm.llm_top_1_test_accuracy"));
        Assert.Equal(1.0, r.Get("llm.llm_test_accuracy"));
        Assert.Null(r.Get("sae.sae_top_3_test_accuracy")); // k larger than the width: undefined
        Assert.Contains(r.Metrics, m => m.Descriptor.Id == "sae.sae_top_3_test_accuracy");
        Assert.Equal(2, Classes(r).Count);
        Assert.Equal(1.0, (double)Classes(r)[0]!["sae_top_1_test_accuracy"]!);
        var detail = Assert.Single(r.Details);
        Assert.Equal("fake/classes", (string)detail["dataset_name"]!);
    }

    [Fact]
    public void ConstantLatentsGiveChanceAccuracyOnBalancedTestSets()
    {
        // W_enc = 0, b_enc = 1: every latent is 1 for every example, so every probe predicts one class for all test
        // examples, which are half positive: accuracy exactly 0.5. The model's own activations stay separable.
        var sae = new Sae("relu", new SaeParameters
        {
            WEnc = new HostMatrix(2, 3), BEnc = [1f, 1f, 1f], WDec = new HostMatrix(3, 2), BDec = new float[2],
        });
        var r = Run(EvalFixtures.Context(sae, MaskedTwoClassModel()), """{"k_values": [1, 2]}""");

        Assert.Equal(0.5, r.Get("sae.sae_top_1_test_accuracy"));
        Assert.Equal(0.5, r.Get("sae.sae_top_2_test_accuracy"));
        Assert.Equal(0.5, r.Get("sae.sae_test_accuracy"));
        Assert.Equal(1.0, r.Get("llm.llm_test_accuracy"));
    }

    [Fact]
    public void OracleSaeOnTheSyntheticWorldFindsEachParentWithOneLatent()
    {
        var world = EvalFixtures.World(EvalFixtures.SmallWorld with { MagnitudeExponent = 0 });
        var r = Run(EvalFixtures.Context(EvalFixtures.Oracle(world), world), """{"train_size": 1000, "test_size": 500}""");

        var rows = Classes(r);
        for (int p = 0; p < world.Config.Parents; p++)
        {
            Assert.Equal($"parent_{p:D2}", (string)rows[p]!["class"]!);
            Assert.InRange((double)rows[p]!["sae_top_1_test_accuracy"]!, 0.95, 1.0);
        }
        Assert.InRange(r.Get("sae.sae_test_accuracy")!.Value, 0.95, 1.0);
    }

    [Fact]
    public void ProbesSeeTheCodeOfTheDecoderNormFoldedSae()
    {
        // The oracle with each latent's decoder row scaled by s_j and its encoder column (and bias) by 1/s_j: the same SAE,
        // with codes f_j/s_j. Folding undoes the scales, so probing it folded must equal probing the oracle (unit rows)
        // itself; unfolded, the scales change the top-k ranking by mean difference and the regularised fits.
        var world = EvalFixtures.World(EvalFixtures.SmallWorld with { MagnitudeExponent = 0 });
        var oracle = EvalFixtures.Oracle(world);
        var p = oracle.Parameters.Clone();
        var rng = new Random(12);
        for (int j = 0; j < p.DSae; j++)
        {
            float s = (float)Math.Exp(3 * (rng.NextDouble() - 0.5));
            var row = p.WDec.Row(j);
            for (int i = 0; i < row.Length; i++) row[i] *= s;
            for (int i = 0; i < p.DIn; i++) p.WEnc[i, j] /= s;
            p.BEnc[j] /= s;
        }
        var rescaled = new Sae(oracle.Architecture, p);
        const string options = """{"train_size": 600, "test_size": 400}""";
        var folded = Run(EvalFixtures.Context(rescaled, world), options);
        var reference = Run(EvalFixtures.Context(oracle, world), """{"train_size": 600, "test_size": 400, "fold_decoder_norms": false}""");
        var unfolded = Run(EvalFixtures.Context(rescaled, world), """{"train_size": 600, "test_size": 400, "fold_decoder_norms": false}""");
        Assert.True(folded.Unstructured!["decoder_norms_folded"]!.GetValue<bool>());
        foreach (var m in reference.Metrics.Where(m => m.Descriptor.Category == "sae"))
            Assert.Equal(m.Value!.Value, folded.Get(m.Descriptor.Id)!.Value, 3);
        Assert.Contains(reference.Metrics.Where(m => m.Descriptor.Category == "sae"),
            m => Math.Abs(m.Value!.Value - unfolded.Get(m.Descriptor.Id)!.Value) > 1e-3);
    }

    [Fact]
    public void MetricNamesAreSaeBenchs()
    {
        var r = Run(EvalFixtures.Context(Sae.Identity(2), MaskedTwoClassModel()));
        string[] expected =
        [
            "llm.llm_test_accuracy", "llm.llm_top_1_test_accuracy", "llm.llm_top_2_test_accuracy", "llm.llm_top_5_test_accuracy",
            "sae.sae_test_accuracy", "sae.sae_top_1_test_accuracy", "sae.sae_top_2_test_accuracy", "sae.sae_top_5_test_accuracy",
        ];
        Assert.Equal(expected, r.Metrics.Select(m => m.Descriptor.Id).Order());
    }

    [Fact]
    public void ModelWithoutLabelsIsNotApplicable()
    {
        var model = FakeModelBuilder.Create(2).WithSplit(Split.Test, [1f, 2f], [0]).Build();
        var e = Assert.Throws<NotApplicableException>(() =>
            Evaluator.Start(EvalFixtures.Context(Sae.Identity(2), model), new SparseProbingOptions()));
        Assert.Contains("labels", e.Message);
    }

    [Theory]
    [InlineData("""{"k_values": [0]}""", "k_values")]
    [InlineData("""{"k_values": [1, 1]}""", "k_values")]
    [InlineData("""{"train_size": 1}""", "train_size")]
    [InlineData("""{"top_k": [1]}""", "top_k")]
    public void BadOptionsNameTheField(string json, string field)
    {
        var e = Assert.Throws<ConfigException>(() => Evaluator.ParseOptions((JsonObject)JsonNode.Parse(json)!));
        Assert.Contains(field, e.Message);
    }
}
