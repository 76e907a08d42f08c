using SaeBench.Compute.Tensors;

namespace SaeBench.Evals.Mdl;

/// <summary>Writes decode(codes) — the SAE's reconstruction, decoder bias included — into destination (rows × d).</summary>
public delegate void CodeDecoder(HostMatrix codes, HostMatrix destination);

/// <summary>
/// Scalar pieces of the MDL evaluator (see README.md): uniform quantisation, entropies, description lengths and
/// precision selection. All entropies are in bits.
/// </summary>
public static class MdlMath
{
    /// <summary>The precision grid of METRICS.md: 2, 4, …, 128 bins.</summary>
    public static IReadOnlyList<int> DefaultBinGrid { get; } = [2, 4, 8, 16, 32, 64, 128];

    /// <summary>Bins tried for the raw-activation baseline: 2¹ … 2²⁰.</summary>
    public static IReadOnlyList<int> DefaultRawBinGrid { get; } = Enumerable.Range(1, 20).Select(k => 1 << k).ToArray();

    /// <summary>H_b(p) = −p log₂ p − (1 − p) log₂(1 − p); 0 at p ∈ {0, 1}.</summary>
    public static double BinaryEntropy(double p)
    {
        if (!(p >= 0 && p <= 1)) throw new ArgumentOutOfRangeException(nameof(p), p, "A probability must be in [0, 1].");
        if (p == 0 || p == 1) return 0;
        return -(p * Math.Log2(p) + (1 - p) * Math.Log2(1 - p));
    }

    /// <summary>Entropy of the empirical distribution of a histogram, −Σ (c/N) log₂(c/N); 0 for an empty histogram.</summary>
    public static double HistogramEntropy(ReadOnlySpan<long> counts)
    {
        long total = 0;
        foreach (long c in counts)
        {
            if (c < 0) throw new ArgumentException("Histogram counts must be ≥ 0.", nameof(counts));
            total += c;
        }
        if (total == 0) return 0;
        double h = 0;
        foreach (long c in counts)
            if (c > 0) { double p = (double)c / total; h -= p * Math.Log2(p); }
        return h;
    }

    /// <summary>Bin of a positive value on B uniform bins over [0, max]: min(⌊v/max·B⌋, B − 1).</summary>
    public static int BinIndex(float value, float max, int bins)
    {
        if (!(max > 0)) return 0;
        double t = (double)value / max * bins;
        return t >= bins ? bins - 1 : t <= 0 ? 0 : (int)t;
    }

    /// <summary>The midpoint of bin <paramref name="index"/>: (index + ½)·max/B.</summary>
    public static float BinMidpoint(int index, float max, int bins) => (float)((index + 0.5) * max / bins);

    /// <summary>
    /// Quantised code value on symmetric bins: 0 stays 0 (inactive); any other value goes to the midpoint of its
    /// magnitude's bin on [0, max], with its sign (max = the latent's largest |f|).
    /// </summary>
    public static float QuantiseCode(float value, float max, int bins)
    {
        if (value == 0 || !(max > 0)) return 0f;
        float mid = BinMidpoint(BinIndex(Math.Abs(value), max, bins), max, bins);
        return value < 0 ? -mid : mid;
    }

    /// <summary>
    /// Uniform quantiser on [min, max] with B bins and midpoint reconstruction (raw activations, any sign).
    /// A constant dimension (max = min) reconstructs exactly.
    /// </summary>
    public static float QuantiseRange(float value, float min, float max, int bins)
    {
        if (!(max > min)) return min;
        double t = ((double)value - min) / ((double)max - min) * bins;
        int index = t >= bins ? bins - 1 : t <= 0 ? 0 : (int)t;
        return (float)(min + (index + 0.5) * ((double)max - min) / bins);
    }

    /// <summary>DL per token = Σ_j [H_b(ρ_j) + ρ_j·H_j] bits (ρ_j firing rate, H_j entropy of its quantised values).</summary>
    public static double DescriptionLengthPerToken(ReadOnlySpan<double> firingRates, ReadOnlySpan<double> valueEntropies)
    {
        if (firingRates.Length != valueEntropies.Length)
            throw new ArgumentException($"{firingRates.Length} firing rates for {valueEntropies.Length} value entropies.");
        double dl = 0;
        for (int j = 0; j < firingRates.Length; j++) dl += BinaryEntropy(firingRates[j]) + firingRates[j] * valueEntropies[j];
        return dl;
    }

    /// <summary>Naive bound: each active latent sends its index and its bin, L0·(log₂ F + log₂ B) bits per token.</summary>
    public static double NaiveDescriptionLength(double l0, int latents, int bins)
    {
        if (latents < 1 || bins < 1) throw new ArgumentOutOfRangeException(nameof(latents), "Need at least one latent and one bin.");
        return l0 * (Math.Log2(latents) + Math.Log2(bins));
    }

    /// <summary>Raw baseline: d values of log₂ B bits each (a fixed-width code; B may be an interpolated precision).</summary>
    public static double RawDescriptionLength(int dimensions, double bins) => dimensions * Math.Log2(bins);

    /// <summary>
    /// Where along a precision grid the FVU first reaches <paramref name="target"/>: at grid index i (the first with
    /// FVU ≤ target), a fraction t ∈ (0, 1] of the way from grid[i − 1] (whose FVU is above target) to grid[i], with t
    /// from linear interpolation of the FVU: t = (FVU[i−1] − target) / (FVU[i−1] − FVU[i]). At i = 0 (the coarsest
    /// precision already meets the target) t = 1. Null when no precision meets it.
    /// </summary>
    public static GridPoint? AtTarget(IReadOnlyList<int> grid, ReadOnlySpan<double> fvuPerPrecision, double target)
    {
        int i = SelectPrecision(grid, fvuPerPrecision, target);
        if (i < 0) return null;
        if (i == 0) return new GridPoint(0, 1, grid[0]);
        double above = fvuPerPrecision[i - 1], below = fvuPerPrecision[i];
        double t = above > below ? (above - target) / (above - below) : 1;
        t = Math.Clamp(t, 0, 1);
        double log2 = Math.Log2(grid[i - 1]) + t * (Math.Log2(grid[i]) - Math.Log2(grid[i - 1]));
        return new GridPoint(i, t, Math.Pow(2, log2));
    }

    /// <summary>A point between grid precisions <see cref="Index"/> − 1 and <see cref="Index"/> (see <see cref="AtTarget"/>).</summary>
    /// <param name="Bins">The precision there, interpolated in log₂ B.</param>
    public readonly record struct GridPoint(int Index, double Fraction, double Bins)
    {
        /// <summary>Linear interpolation of a per-precision quantity at this point.</summary>
        public double Interpolate(IReadOnlyList<double> values) =>
            Index == 0 ? values[0] : values[Index - 1] + Fraction * (values[Index] - values[Index - 1]);
    }

    /// <summary>The dictionary's cost per token: the decoder's F·d parameters at <paramref name="bitsPerParameter"/> bits,
    /// amortised over <paramref name="tokens"/> tokens.</summary>
    public static double DictionaryBitsPerToken(int latents, int dimensions, double bitsPerParameter, long tokens) =>
        tokens > 0 ? (double)latents * dimensions * bitsPerParameter / tokens : double.NaN;

    /// <summary>
    /// Index into <paramref name="grid"/> (ascending) of the first precision whose FVU is ≤ target, or −1 when none is.
    /// </summary>
    public static int SelectPrecision(IReadOnlyList<int> grid, ReadOnlySpan<double> fvuPerPrecision, double target)
    {
        ArgumentNullException.ThrowIfNull(grid);
        if (fvuPerPrecision.Length != grid.Count) throw new ArgumentException($"{fvuPerPrecision.Length} FVU values for a grid of {grid.Count}.");
        for (int i = 0; i < grid.Count; i++)
            if (fvuPerPrecision[i] <= target) return i;
        return -1;
    }

    internal static int[] CheckGrid(IReadOnlyList<int> grid, string name)
    {
        ArgumentNullException.ThrowIfNull(grid, name);
        if (grid.Count == 0) throw new ArgumentException("The bin grid is empty.", name);
        var g = grid.ToArray();
        for (int i = 0; i < g.Length; i++)
        {
            if (g[i] < 1) throw new ArgumentOutOfRangeException(name, g[i], "Bin counts must be ≥ 1.");
            if (i > 0 && g[i] <= g[i - 1]) throw new ArgumentException($"The bin grid must be strictly increasing; got {string.Join(", ", g)}.", name);
        }
        return g;
    }
}
