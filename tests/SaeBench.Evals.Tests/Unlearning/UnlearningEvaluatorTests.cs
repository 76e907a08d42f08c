using SaeBench.TestKit;
using System.Numerics.Tensors;
using System.Text.Json.Nodes;
using SaeBench.Compute.Backends;
using SaeBench.Compute.Tensors;
using SaeBench.Core.Configuration;
using SaeBench.Core.Evaluation;
using SaeBench.Core.Models;
using SaeBench.Core.Running;
using SaeBench.Core.Autoencoders;
using SaeBench.Evals.Unlearning;
using SaeBench.Models;
using Xunit.Abstractions;

namespace SaeBench.Evals.Tests.Unlearning;

/// <summary>The default model (trained once, cached under .saebench-cache) and per-class statistics of its hook.</summary>
public sealed class MlpFixture
{
    public MlpFixture()
    {
        Model = ModelCatalog.Create("fashion-mnist-mlp", new ModelOptions { CacheDirectory = TestCache.Directory });
        Forget = Model.Capability<ILabelledTasks>()!.Tasks.ForgetConcept!.Value;
        int d = Model.Info.DModel;
        var sumForget = new double[d];
        var sumOther = new double[d];
        long nForget = 0, nOther = 0;
        var rows = new List<(float[] X, bool IsForget)>();
        foreach (var batch in Model.Activations(Split.Train).Batches(4096))
        {
            using (batch)
            {
                for (int r = 0; r < batch.Rows; r++)
                {
                    bool isForget = batch.Label[r] == Forget;
                    var x = batch.Activations.Row(r);
                    var sum = isForget ? sumForget : sumOther;
                    for (int i = 0; i < d; i++) sum[i] += x[i];
                    if (isForget) nForget++; else nOther++;
                    if (!isForget) rows.Add((x.ToArray(), false));
                }
            }
        }
        ForgetMean = sumForget.Select(v => (float)(v / nForget)).ToArray();
        OtherMean = sumOther.Select(v => (float)(v / nOther)).ToArray();
        // Detector direction and a threshold above 99.5% of the other classes' training projections.
        Direction = ForgetMean.Zip(OtherMean, (a, b) => a - b).ToArray();
        float norm = MathF.Sqrt(TensorPrimitives.Dot<float>(Direction, Direction));
        TensorPrimitives.Divide(Direction, norm, Direction);
        var projections = rows.Select(r => TensorPrimitives.Dot<float>(r.X, Direction)).OrderBy(p => p).ToArray();
        Threshold = projections[(int)(0.995 * (projections.Length - 1))];
    }

    public IModelUnderStudy Model { get; }
    public int Forget { get; }
    public float[] ForgetMean { get; }
    public float[] OtherMean { get; }
    public float[] Direction { get; }
    public float Threshold { get; }

    /// <summary>
    /// d_model identity latents (ReLU; the hook is post-ReLU, so they reconstruct it exactly) and, with
    /// <paramref name="withDetector"/>, one more latent that fires only on the forget class (encoder = the unit
    /// difference of class means, bias = −threshold) and decodes to the unit forget-class mean direction.
    /// </summary>
    public Sae Sae(bool withDetector)
    {
        int d = Model.Info.DModel, f = d + (withDetector ? 1 : 0);
        var wEnc = new HostMatrix(d, f);
        var wDec = new HostMatrix(f, d);
        var bEnc = new float[f];
        for (int i = 0; i < d; i++) { wEnc[i, i] = 1f; wDec[i, i] = 1f; }
        if (withDetector)
        {
            for (int i = 0; i < d; i++) wEnc[i, d] = Direction[i];
            bEnc[d] = -Threshold;
            float norm = MathF.Sqrt(TensorPrimitives.Dot<float>(ForgetMean, ForgetMean));
            for (int i = 0; i < d; i++) wDec[d, i] = ForgetMean[i] / norm;
        }
        return new Sae("relu", new SaeParameters { WEnc = wEnc, BEnc = bEnc, WDec = wDec, BDec = new float[d] });
    }
}

[Trait(Category.Name, Category.Slow)]
public class UnlearningEvaluatorTests(MlpFixture mlp, ITestOutputHelper output) : IClassFixture<MlpFixture>
{
    private static EvaluationContext Context(Sae sae, IModelUnderStudy model) =>
        new(sae, "id", new Dictionary<string, string>(), model, CpuBackend.Create(), 5, 1024, TimeProvider.System);

    private EvalResult Run(Sae sae, JsonObject? options = null)
    {
        var evaluator = new UnlearningEvaluator();
        var r = SingleJob.Run(evaluator, evaluator.ParseOptions(options ?? new JsonObject()), Context(sae, mlp.Model));
        foreach (var row in r.Details) output.WriteLine(row.ToJsonString());
        output.WriteLine(r.Unstructured!.ToJsonString());
        return r;
    }

    [Fact]
    public void A_latent_dedicated_to_the_forget_class_unlearns_it_while_retain_accuracy_holds()
    {
        var r = Run(mlp.Sae(withDetector: true));
        int detector = mlp.Model.Info.DModel;

        double score = r.Get("unlearning.unlearning_score")!.Value;
        Assert.True(score > 0.8, $"score {score}");
        // The best configuration clamps the detector and keeps retain accuracy ≥ 0.99.
        var best = r.Details.Where(d => (double)d["retain_accuracy"]! >= 0.99).MinBy(d => (double)d["forget_accuracy"]!)!;
        Assert.Equal(1 - score, (double)best["forget_accuracy"]!, 12);
        Assert.Contains(detector, best["latents"]!.AsArray().Select(j => (int)j!));
        // Baseline: the sets are restricted to correctly classified examples, so with nothing clamped both are 1.
        Assert.True((int)r.Unstructured!["forget_examples_correct_used"]! > 500);
        // Every correctly classified retain example of the test split (≈ 88 % of its 9,000 non-Bag examples), not a sample.
        Assert.True((int)r.Unstructured!["retain_examples_correct_used"]! > 7000);
        Assert.Equal(best["tau"]!.GetValue<double>(), r.Unstructured!["scoring_configuration"]!["tau"]!.GetValue<double>());
        Assert.All(r.Details, d => Assert.Equal(2, d["retain_accuracy_ci95"]!.AsArray().Count));
        Assert.Equal(2 * 2 * 3, r.Details.Count); // τ × n × the default multipliers (0.25, 0.5, 1)
    }

    [Fact]
    public void Without_the_dedicated_latent_the_same_sae_unlearns_far_less()
    {
        double with = Run(mlp.Sae(withDetector: true)).Get("unlearning.unlearning_score")!.Value;
        double without = Run(mlp.Sae(withDetector: false)).Get("unlearning.unlearning_score")!.Value;
        Assert.True(without < with - 0.3, $"without {without}, with {with}");
    }

    [Fact]
    public void Configurations_without_qualifying_latents_change_nothing()
    {
        // τ so small that no latent qualifies: the edit is empty and both accuracies stay exactly 1.
        var r = Run(mlp.Sae(withDetector: true), new JsonObject { ["retain_thresholds"] = new JsonArray(1e-9), ["n_features_list"] = new JsonArray(5), ["multipliers"] = new JsonArray(1.0) });
        var row = Assert.Single(r.Details);
        Assert.Empty(row["latents"]!.AsArray());
        Assert.Equal(1.0, (double)row["forget_accuracy"]!);
        Assert.Equal(1.0, (double)row["retain_accuracy"]!);
        Assert.Equal(0.0, r.Get("unlearning.unlearning_score"));
    }

    [Fact]
    public void Without_a_forward_pass_it_is_not_applicable()
    {
        var x = new float[4, 2];
        var model = FakeModelBuilder.Create(2).WithClasses("a", "b").WithSplit(Split.Train, x, new int[4]).WithSplit(Split.Test, x, new int[4]).Build();
        var evaluator = new UnlearningEvaluator();
        var e = Assert.Throws<NotApplicableException>(() => evaluator.Start(Context(Sae.Identity(2), model), evaluator.ParseOptions(new JsonObject())));
        Assert.Contains("forward", e.Message);
    }

    [Theory]
    [InlineData("{\"retain_thresholds\":[]}", "retain_thresholds")]
    [InlineData("{\"n_features_list\":[0]}", "n_features_list")]
    [InlineData("{\"multipliers\":[-1]}", "multipliers")]
    [InlineData("{\"min_retain_accuracy\":2}", "min_retain_accuracy")]
    public void Invalid_options_name_the_field(string json, string field)
    {
        var e = Assert.Throws<ConfigException>(() => new UnlearningEvaluator().ParseOptions(JsonNode.Parse(json)!.AsObject()));
        Assert.Contains(field, e.Message);
    }
}
