using System.Text.Json.Nodes;
using SaeBench.Compute.Tensors;
using SaeBench.Core.Evaluation;
using SaeBench.Core.Running;
using SaeBench.Core.Autoencoders;
using SaeBench.Evals.Tests.Fixtures;
using SaeBench.Models.Synthetic;
using SaeBench.TestKit;

namespace SaeBench.Evals.Tests.Golden;

/// <summary>
/// Every built-in evaluator, with its default options, on a small synthetic world and two SAEs with known structure
/// (an absorbing ReLU SAE and a TopK SAE on the true directions), compared with golden files written before the
/// restructuring. They catch any unintended change of a number; a deliberate one re-writes them
/// (<c>SAEBENCH_UPDATE_GOLDEN=1</c>) in a commit that says why.
/// </summary>
public class GoldenResultTests
{
    public static TheoryData<string, string> Cases()
    {
        var data = new TheoryData<string, string>();
        foreach (var evaluator in EvaluatorRegistry.BuiltIn())
        foreach (var sae in new[] { "absorbing_relu", "topk" })
            data.Add(evaluator.Info.Id, sae);
        return data;
    }

    /// <summary>Numbers from iterative solvers (probes, L-BFGS) get a looser tolerance than closed-form ones.</summary>
    private static readonly GoldenTolerance Tolerance = new GoldenTolerance(Relative: 1e-6, Absolute: 1e-9)
        .With("**probe**", 1e-4, 1e-6)
        .With("metrics.sparse_probing**", 1e-4, 1e-6)
        .With("metrics.absorption**", 1e-4, 1e-6)
        .With("metrics.scr_metrics**", 1e-4, 1e-6)
        .With("metrics.tpp_metrics**", 1e-4, 1e-6)
        .With("unstructured.runs**", 1e-4, 1e-6)
        .With("unstructured.synthetic/classes**", 1e-4, 1e-6)
        .With("details**", 1e-5, 1e-7);

    [Theory]
    [MemberData(nameof(Cases))]
    public void Result_matches_the_golden_file(string evaluatorId, string saeName)
    {
        var world = EvalFixtures.World(EvalFixtures.SmallWorld with { NoiseStd = 0.01 });
        var sae = saeName == "topk" ? TopK(world, k: 6) : EvalFixtures.Absorbing(world);
        var evaluator = EvaluatorRegistry.Find(EvaluatorRegistry.BuiltIn(), evaluatorId);
        JsonObject actual;
        try
        {
            actual = ToJson(SingleJob.Run(evaluator, evaluator.ParseOptions([]), EvalFixtures.Context(sae, world, seed: 3, batchRows: 700, clock: new FrozenClock())));
        }
        catch (NotApplicableException e)
        {
            actual = new JsonObject { ["not_applicable"] = e.Message }; // e.g. first-letter absorption needs a language model
        }

        var path = Path.Combine(TestKit.Golden.SourceDirectory(), "Files", $"{evaluatorId}.{saeName}.json");
        TestKit.Golden.AssertMatches(path, actual, Tolerance);
    }

    /// <summary>TopK SAE whose encoder is the pseudo-inverse of the true directions and whose decoder is the directions.</summary>
    private static Sae TopK(SyntheticWorld world, int k)
    {
        var oracle = EvalFixtures.Oracle(world);
        var p = oracle.Parameters.Clone();
        p.K = k;
        p.BEnc = new float[p.DSae];
        return new Sae(SaeArchitectures.TopK, p);
    }

    private static JsonObject ToJson(EvalResult result)
    {
        var metrics = new JsonObject();
        foreach (var m in result.Metrics) metrics[m.Descriptor.Id] = m.Value is { } v ? JsonValue.Create(v) : null;
        var details = new JsonArray();
        foreach (var d in result.Details) details.Add(d.DeepClone());
        return new JsonObject
        {
            ["metrics"] = metrics,
            ["details"] = details,
            ["unstructured"] = result.Unstructured?.DeepClone(),
        };
    }

    /// <summary>A clock that never moves, so timings that evaluators report as metrics (meta_structure's
    /// <c>train_time_seconds</c>) are 0 and the files stay comparable.</summary>
    private sealed class FrozenClock : TimeProvider
    {
        public override long GetTimestamp() => 0;
        public override DateTimeOffset GetUtcNow() => DateTimeOffset.UnixEpoch;
    }
}
