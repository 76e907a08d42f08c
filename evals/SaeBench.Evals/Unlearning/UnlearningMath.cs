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

    /// <summary>The configuration that sets the score (the lowest forget accuracy among those passing the retain cut; ties →
    /// the first), or null when none passes.</summary>
    public static UnlearningConfiguration? ScoringConfiguration(IReadOnlyList<UnlearningOutcome> outcomes, double minRetainAccuracy = 0.99)
    {
        UnlearningOutcome? best = null;
        foreach (var o in outcomes)
            if (o.RetainAccuracy >= minRetainAccuracy && (best is null || o.ForgetAccuracy < best.ForgetAccuracy)) best = o;
        return best?.Configuration;
    }

    /// <summary>
    /// The Wilson score interval of a proportion <paramref name="successes"/>/<paramref name="trials"/> at normal quantile
    /// <paramref name="z"/> (1.96: 95 %); (NaN, NaN) with no trials. Stays inside [0, 1] and is not degenerate at 0 or 1
    /// successes, unlike the normal approximation.
    /// </summary>
    public static (double Low, double High) Wilson(long successes, long trials, double z = 1.96)
    {
        if (trials < 0 || successes < 0 || successes > trials) throw new ArgumentOutOfRangeException(nameof(successes), $"{successes} of {trials}.");
        if (trials == 0) return (double.NaN, double.NaN);
        double n = trials, p = successes / n, z2 = z * z;
        double centre = (p + z2 / (2 * n)) / (1 + z2 / n);
        double half = z / (1 + z2 / n) * Math.Sqrt(p * (1 - p) / n + z2 / (4 * n * n));
        return (Math.Max(0, centre - half), Math.Min(1, centre + half));
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
