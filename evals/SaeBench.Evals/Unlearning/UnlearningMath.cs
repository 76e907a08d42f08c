using SaeBench.Compute.Kernels;
using SaeBench.Compute.Tensors;

namespace SaeBench.Evals.Unlearning;

/// <summary>One point of the unlearning grid: retain threshold τ, latent count n, clamp multiplier m.</summary>
public sealed record UnlearningConfiguration(double RetainThreshold, int Count, double Multiplier);

/// <summary>Accuracies measured under one configuration.</summary>
public sealed record UnlearningOutcome(UnlearningConfiguration Configuration, double ForgetAccuracy, double RetainAccuracy);

/// <summary>Counts, per latent, the tokens where f_j &gt; 0, over any number of batches.</summary>
public sealed class FiringCounter
{
    private readonly long[] _positive;
    private readonly long[] _nonZero;

    public FiringCounter(int latents)
    {
        if (latents < 1) throw new ArgumentOutOfRangeException(nameof(latents), latents, "Must be ≥ 1.");
        _positive = new long[latents];
        _nonZero = new long[latents];
    }

    public long Tokens { get; private set; }

    public void Add(HostMatrix codes)
    {
        ArgumentNullException.ThrowIfNull(codes);
        if (codes.Cols != _positive.Length) throw new ArgumentException($"Codes have {codes.Cols} columns; expected {_positive.Length}.", nameof(codes));
        Reductions.ColumnCounts(codes.Span, codes.Rows, codes.Cols, _nonZero, _positive);
        Tokens += codes.Rows;
    }

    /// <summary>ρ_j = #(f_j &gt; 0) / tokens (all zero before any token).</summary>
    public double[] Rates() => _positive.Select(c => Tokens == 0 ? 0.0 : (double)c / Tokens).ToArray();
}

/// <summary>Latent selection, the clamping edit and the score of the unlearning evaluator (see README.md).</summary>
public static class UnlearningMath
{
    /// <summary>
    /// Latents with ρ_retain &lt; τ, sorted by ρ_forget descending (ties → lower index), keeping the first
    /// <paramref name="count"/> with ρ_forget &gt; 0. May return fewer than <paramref name="count"/>.
    /// </summary>
    public static int[] SelectLatents(ReadOnlySpan<double> forgetRates, ReadOnlySpan<double> retainRates, double retainThreshold, int count)
    {
        if (forgetRates.Length != retainRates.Length)
            throw new ArgumentException($"{forgetRates.Length} forget rates for {retainRates.Length} retain rates.", nameof(retainRates));
        if (count < 0) throw new ArgumentOutOfRangeException(nameof(count), count, "Must be ≥ 0.");
        var candidates = new List<int>();
        for (int j = 0; j < forgetRates.Length; j++)
            if (retainRates[j] < retainThreshold && forgetRates[j] > 0) candidates.Add(j);
        var f = forgetRates.ToArray();
        candidates.Sort((a, b) => f[b].CompareTo(f[a]) is var c && c != 0 ? c : a.CompareTo(b));
        return candidates.Take(count).ToArray();
    }

    /// <summary>
    /// 1 − min over configurations of (forget accuracy, or 1 where retain accuracy &lt; <paramref name="minRetainAccuracy"/>).
    /// NaN with no configurations.
    /// </summary>
    public static double Score(IReadOnlyList<UnlearningOutcome> outcomes, double minRetainAccuracy = 0.99)
    {
        ArgumentNullException.ThrowIfNull(outcomes);
        if (outcomes.Count == 0) return double.NaN;
        double min = double.PositiveInfinity;
        foreach (var o in outcomes)
            min = Math.Min(min, o.RetainAccuracy < minRetainAccuracy ? 1.0 : o.ForgetAccuracy);
        return 1 - min;
    }
}
