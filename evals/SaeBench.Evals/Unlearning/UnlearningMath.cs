using SaeBench.Compute.Kernels;
using SaeBench.Compute.Tensors;

namespace SaeBench.Evals.Unlearning;

/// <summary>One point of the unlearning grid: retain threshold τ, latent count n, clamp multiplier m.</summary>
public sealed record UnlearningConfiguration(double RetainThreshold, int Count, double Multiplier);

/// <summary>Accuracies measured under one configuration.</summary>
public sealed record UnlearningOutcome(UnlearningConfiguration Configuration, double ForgetAccuracy, double RetainAccuracy);

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
