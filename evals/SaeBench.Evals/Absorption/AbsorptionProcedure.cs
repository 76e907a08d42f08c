using System.Text.Json.Nodes;
using SaeBench.Compute.Tensors;
using SaeBench.Core.Autoencoders;
using SaeBench.Evals.Shared;

namespace SaeBench.Evals.Absorption;

/// <summary>One concept's probe data: the model's activations and the SAE's (decoder-norm-scaled) codes of the train and
/// test examples, and whether each example has the concept.</summary>
internal sealed record ProbeData(HostMatrix ActTrain, HostMatrix LatTrain, bool[] YTrain, HostMatrix ActTest, HostMatrix LatTest, bool[] YTest);

internal sealed record ProcedureSettings(double MinProbeF1, double L1Coefficient, int MaxK, double F1Jump, bool BalancedGroundTruthProbe);

/// <summary>What the procedure found for one concept: why it does not qualify, or its split latents and every scored test
/// example (its row in the test data, and its absorption).</summary>
internal sealed record ConceptOutcome(string? NotQualifying, int[] Split, IReadOnlyList<(int TestRow, ExampleAbsorption Absorption)> Examples);

/// <summary>
/// SAEBench's absorption procedure for one concept (a first letter, or a parent concept), shared by both absorption
/// evaluators: (1) a ground-truth logistic probe on the model's activations, whose test F1 must exceed the minimum;
/// (2) k-sparse probes on the latents ranked by an L1 probe's signed weights, and the feature split by the F1 jump rule;
/// (3) every test example that has the concept and that the probe calls positive, scored by <see cref="AbsorptionMath.Example"/>.
/// Fills <paramref name="row"/> with the probe F1, the k-sparse F1s and the split latents.
/// </summary>
internal static class AbsorptionProcedure
{
    public static ConceptOutcome Evaluate(ProbeData d, Sae sae, ProcedureSettings settings, JsonObject row)
    {
        // 1. Ground-truth probe on the model's activations.
        // Solved to convergence: its direction p̂ enters every projection, and its intercept decides which examples are
        // scored (sklearn's stopping rule left the footwear probe's intercept at 0.15 where the optimum is 1.07).
        var probe = LogisticRegression.Fit(d.ActTrain, d.YTrain, LogisticOptions.Converged with { ClassBalanced = settings.BalancedGroundTruthProbe });
        double probeF1 = probe.F1(d.ActTest, d.YTest);
        row["probe_f1"] = probeF1;
        row["probe_gradient_max_norm"] = probe.Fit.GradientInfNorm;
        row["probe_iterations"] = probe.Fit.Iterations;
        if (!(probeF1 > settings.MinProbeF1)) return new ConceptOutcome($"probe test F1 {probeF1:F3} ≤ min_probe_f1 {settings.MinProbeF1}", [], []);
        var direction = new float[probe.Features];
        for (int i = 0; i < direction.Length; i++) direction[i] = (float)probe.Weights[i];
        if (direction.All(v => v == 0)) return new ConceptOutcome("the probe's weights are all zero", [], []);

        // 2. k-sparse probes on latents ranked by an L1 probe's weights.
        var l1 = LogisticRegression.FitL1(d.LatTrain, d.YTrain, new L1LogisticOptions { Lambda = settings.L1Coefficient });
        int maxK = Math.Min(settings.MaxK, d.LatTrain.Cols);
        var ranked = FeatureRanking.TopK(l1.Weights, maxK);
        var f1ByK = new double[maxK];
        var balanced = new LogisticOptions { ClassBalanced = true };
        for (int k = 1; k <= maxK; k++)
        {
            var cols = ranked[..k];
            using var tr = FeatureRanking.SelectColumns(d.LatTrain.Span, d.LatTrain.Rows, d.LatTrain.Cols, cols);
            using var te = FeatureRanking.SelectColumns(d.LatTest.Span, d.LatTest.Rows, d.LatTest.Cols, cols);
            f1ByK[k - 1] = LogisticRegression.Fit(tr, d.YTrain, balanced).F1(te, d.YTest);
        }
        int splitSize = AbsorptionMath.SelectFeatureSplit(f1ByK, settings.F1Jump);
        var split = ranked[..splitSize];
        row["k_sparse_f1"] = new JsonArray(f1ByK.Select(v => (JsonNode)v).ToArray());
        row["split_latents"] = new JsonArray(split.Select(v => (JsonNode)v).ToArray());

        // 3. Every test example with the concept that the probe calls positive.
        var cosines = AbsorptionMath.ProbeCosines(direction, sae.Parameters.WDec);
        var examples = new List<(int, ExampleAbsorption)>();
        for (int i = 0; i < d.ActTest.Rows; i++)
        {
            if (!d.YTest[i]) continue;
            var x = d.ActTest.Row(i);
            if (!probe.Predict(x)) continue;
            double p = AbsorptionMath.ProbeProjection(x, direction);
            examples.Add((i, AbsorptionMath.Example(d.LatTest.Row(i), cosines, p, split)));
        }
        return new ConceptOutcome(null, split, examples);
    }

    /// <summary>
    /// Multiplies each code by its decoder-row norm (and undoes the input scale): exactly the code of the
    /// decoder-norm-folded SAE, for every architecture, including top-k where folding would change the selection.
    /// </summary>
    public static void ScaleToUnitDecoder(Sae sae, params HostMatrix[] codes)
    {
        var scale = sae.DecoderNorms();
        float inputScale = sae.Parameters.InputScale;
        for (int j = 0; j < scale.Length; j++) scale[j] = (scale[j] > 0 && float.IsFinite(scale[j]) ? scale[j] : 1f) / inputScale;
        foreach (var m in codes)
            for (int r = 0; r < m.Rows; r++) System.Numerics.Tensors.TensorPrimitives.Multiply(m.Row(r), scale, m.Row(r));
    }
}
