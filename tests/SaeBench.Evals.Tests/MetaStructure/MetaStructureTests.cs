using System.Text.Json.Nodes;
using SaeBench.Compute.Backends;
using SaeBench.Compute.Tensors;
using SaeBench.Core.Autoencoders;
using SaeBench.Core.Evaluation;
using SaeBench.Core.Models;
using SaeBench.Evals.MetaStructure;
using SaeBench.Evals.Tests.Fixtures;
using SaeBench.Evals.Tests.Schemas;
using SaeBench.TestKit;

namespace SaeBench.Evals.Tests.MetaStructure;

public class MetaStructureTests
{
    private const int DIn = 64, Rows = 256, Shared = 12;

    /// <summary>Decoder rows that are sparse non-negative combinations (1–3 terms) of a few shared unit directions.</summary>
    private static HostMatrix Structured(int seed)
    {
        var rng = new Random(seed);
        var basis = RandomRows(Shared, rng);
        var w = new HostMatrix(Rows, DIn);
        for (int r = 0; r < Rows; r++)
        {
            int terms = 1 + rng.Next(3);
            for (int t = 0; t < terms; t++)
            {
                int b = rng.Next(Shared);
                float c = (float)(0.5 + rng.NextDouble());
                for (int k = 0; k < DIn; k++) w[r, k] += c * basis[b, k];
            }
        }
        return w;
    }

    private static HostMatrix RandomRows(int rows, Random rng)
    {
        var m = new HostMatrix(rows, DIn);
        for (int r = 0; r < rows; r++)
        {
            double norm = 0;
            for (int k = 0; k < DIn; k++)
            {
                double g = Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());
                m[r, k] = (float)g;
                norm += g * g;
            }
            for (int k = 0; k < DIn; k++) m[r, k] /= (float)Math.Sqrt(norm);
        }
        return m;
    }

    private static MetaStructureOptions Options => new() { TrainSteps = 600 };

    [Fact]
    public void A_decoder_built_from_a_few_shared_directions_is_explained_almost_entirely_and_random_rows_much_less()
    {
        var backend = CpuBackend.Create();
        var structured = MetaStructureEvaluator.Fit(Structured(1), Options, backend, seed: 3, TimeProvider.System);
        var random = MetaStructureEvaluator.Fit(RandomRows(Rows, new Random(2)), Options, backend, seed: 3, TimeProvider.System);
        Assert.True(structured.FractionVarianceExplained > 0.95, $"structured FVE {structured.FractionVarianceExplained}");
        // Unstructured rows: a width-64, k = 4 meta-SAE can only memorise part of 256 random directions in 64 dimensions.
        Assert.True(random.FractionVarianceExplained < 0.7 && structured.FractionVarianceExplained - random.FractionVarianceExplained > 0.3,
            $"structured FVE {structured.FractionVarianceExplained}, random FVE {random.FractionVarianceExplained}");
        Assert.True(structured.ReconstructionMse < random.ReconstructionMse / 10, $"MSE {structured.ReconstructionMse} vs {random.ReconstructionMse}");
        Assert.Equal(64, structured.MetaWidth); // ⌈256 · 0.25⌉
    }

    [Fact]
    public void It_needs_no_model_and_its_result_file_validates_against_saebench_schema()
    {
        var decoder = Structured(4);
        var p = new SaeParameters { WEnc = decoder.Transpose(), BEnc = new float[Rows], WDec = decoder, BDec = new float[DIn] };
        var context = EvalFixtures.Context(new Sae("relu", p), new UntouchableModel(DIn));
        var evaluator = new MetaStructureEvaluator();
        var options = evaluator.ParseOptions(new JsonObject { ["train_steps"] = 200 });
        var job = evaluator.Start(context, options);
        var result = job.Complete(CancellationToken.None);
        Assert.InRange(result.Get("meta_structure.decoder_fraction_variance_explained")!.Value, 0.5, 1.0);
        Assert.NotNull(result.Get("meta_structure.train_time_seconds"));
        SaeBenchSchemas.AssertValid("meta_structure_decoder_variance", ResultFiles.Of(evaluator, options, result, context));
    }

    [Fact]
    public void Options_are_checked_with_clear_messages()
    {
        var e = Assert.ThrowsAny<Exception>(() => new MetaStructureEvaluator().ParseOptions(new JsonObject { ["k"] = 0, ["width_ratio"] = -1 }));
        Assert.Contains("k: 0", e.Message);
        Assert.Contains("width_ratio", e.Message);
    }

    [Fact]
    public void Training_does_not_reference_the_evaluators()
    {
        var references = typeof(Training.SaeTrainer).Assembly.GetReferencedAssemblies().Select(a => a.Name);
        Assert.DoesNotContain("SaeBench.Evals", references);
    }

    /// <summary>A model whose every member throws: the evaluator must never touch it.</summary>
    private sealed class UntouchableModel(int d) : IModelUnderStudy
    {
        public ModelInfo Info { get; } = new("untouchable", "none", d, 1, "hash", "a model nobody may use");
        public IActivationSource Activations(Split split) => throw new InvalidOperationException("meta_structure read activations");
        public T? Capability<T>() where T : class => throw new InvalidOperationException("meta_structure asked the model for a capability");
    }
}
