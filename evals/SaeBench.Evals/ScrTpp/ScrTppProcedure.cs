using SaeBench.Compute.Tensors;
using SaeBench.Core.Autoencoders;
using SaeBench.Core.Evaluation;
using SaeBench.Core.Models;
using SaeBench.Evals.Shared;

namespace SaeBench.Evals.ScrTpp;

/// <summary>
/// The examples of one SCR/TPP dataset: per split, each example's column-1 value (the class) and column-2 value (the
/// second attribute), as text (null = none), and a way to pool the model's activations and the SAE's code of chosen
/// examples (mean over each example's valid positions).
/// </summary>
internal sealed record ProbeDataset(
    string Name,
    string?[] TrainColumn1, string?[] TrainColumn2, string?[] TestColumn1, string?[] TestColumn2,
    Func<Split, int[], CancellationToken, PooledExamples> Encode)
{
    public string?[] Column1(Split split) => split == Split.Train ? TrainColumn1 : TestColumn1;
    public string?[] Column2(Split split) => split == Split.Train ? TrainColumn2 : TestColumn2;
}

/// <summary>A probe's examples: positives then negatives (ids of one split).</summary>
public sealed record ProbeSet(int[] Positives, int[] Negatives)
{
    public int[] All => [.. Positives, .. Negatives];
    public bool[] Labels => ProbeLabels.PositivesThenNegatives(Positives.Length, Negatives.Length);
    public bool Usable => Positives.Length > 0 && Negatives.Length > 0;
}

/// <summary>The shared steps of SCR and TPP (SAEBench's <c>scr_and_tpp/main.py</c>).</summary>
public static class ScrTppProcedure
{
    /// <summary>Trains SAEBench's probe on the pooled model activations of a probe set.</summary>
    public static LinearProbe TrainProbe(PooledExamples train, ProbeSet set, AdamProbeOptions options, int seed)
    {
        using var x = train.Gather(train.Activations!, set.All);
        return AdamProbe.Train(x, set.Labels, options, seed);
    }

    public static double Accuracy(LinearProbe probe, PooledExamples pooled, ProbeSet set)
    {
        using var x = pooled.Gather(pooled.Activations!, set.All);
        return probe.Accuracy(x, set.Labels);
    }

    /// <summary>
    /// SAEBench's attribution of latents to a probe (<c>get_effects_per_class_precomputed_acts</c>): on the probe's training
    /// set, Δ_i = mean pooled latent i over positives − over negatives, and effect_i = Δ_i · (w · d_i) with d_i latent i's
    /// decoder row in the model's units. SCR takes |effect|; TPP clamps Δ at 0 first and keeps the sign.
    /// </summary>
    public static double[] Effects(Sae sae, PooledExamples train, ProbeSet set, LinearProbe probe, bool tpp)
    {
        using var f = train.Gather(train.Latents!, set.All);
        var delta = FeatureRanking.MeanDifferences(f.Span, f.Rows, f.Cols, set.Labels, absolute: false);
        var wDec = sae.Parameters.WDec;
        double inv = 1.0 / sae.Parameters.InputScale;
        var w = probe.Weights;
        var effects = new double[sae.DSae];
        for (int i = 0; i < effects.Length; i++)
        {
            double dot = 0;
            var row = wDec.Row(i);
            for (int k = 0; k < row.Length; k++) dot += w[k] * row[k];
            double d = tpp ? Math.Max(delta[i], 0) : delta[i];
            double e = d * dot * inv;
            effects[i] = tpp ? e : Math.Abs(e);
        }
        return effects;
    }

    /// <summary>Latents by effect, best first (ties → lower index), cut at the number with a non-zero effect: the top n
    /// is the first min(n, that number) (SAEBench's <c>select_top_n_features</c>).</summary>
    public static int[] Ranking(double[] effects)
    {
        int nonzero = effects.Count(e => e != 0 && !double.IsNaN(e));
        return FeatureRanking.TopK(effects, nonzero);
    }

    /// <summary>
    /// For each n of <paramref name="nValues"/>, <paramref name="measure"/>(its index, rows) of the pooled activations of
    /// <paramref name="examples"/> with the top-n latents of <paramref name="ranking"/> zero-ablated, the SAE's error term kept
    /// (<see cref="LatentIntervention.WithErrorTerm"/>; on mean-pooled rows this equals ablating every token and pooling after,
    /// the decoder being affine). n above the SAE's width → null. The top-n sets are nested, so the ablation grows step by step.
    /// </summary>
    public static double?[] AblationSweep(Sae sae, PooledExamples pooled, int[] examples, int[] ranking, int[] nValues,
        Func<int, HostMatrix, double> measure, CancellationToken cancellation)
    {
        var results = new double?[nValues.Length];
        using var x = pooled.Gather(pooled.Activations!, examples);
        using var f = pooled.Gather(pooled.Latents!, examples);
        int applied = 0;
        foreach (int i in Enumerable.Range(0, nValues.Length).OrderBy(i => nValues[i]))
        {
            int n = nValues[i];
            if (n > sae.DSae) continue;
            cancellation.ThrowIfCancellationRequested();
            int k = Math.Min(n, ranking.Length);
            if (k > applied)
            {
                LatentIntervention.WithErrorTerm(sae, x, f, LatentEdit.Ablate(ranking[applied..k]), x);
                applied = k;
            }
            results[i] = measure(i, x);
        }
        return results;
    }

    /// <summary>The rows of <paramref name="x"/> (one per id of ascending <paramref name="examples"/>) of the ids in <paramref name="subset"/>.</summary>
    public static HostMatrix Rows(HostMatrix x, int[] examples, int[] subset)
    {
        var result = new HostMatrix(subset.Length, x.Cols);
        for (int i = 0; i < subset.Length; i++)
        {
            int row = Array.BinarySearch(examples, subset[i]);
            if (row < 0) throw new ArgumentException($"Example {subset[i]} is not among the rows.", nameof(subset));
            x.Row(row).CopyTo(result.Row(i));
        }
        return result;
    }

    /// <summary>A seed for one probe or sample: the evaluator's seed mixed with what it is for.</summary>
    public static int Seed(int seed, string purpose) => Sampling.Derive(seed, purpose);

    /// <summary>The mean of the defined values, or null when there is none.</summary>
    public static double? Mean(IEnumerable<double?> values)
    {
        var v = values.OfType<double>().Where(double.IsFinite).ToList();
        return v.Count > 0 ? v.Average() : null;
    }
}
