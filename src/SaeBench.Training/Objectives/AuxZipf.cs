namespace SaeBench.Training.Objectives;

/// <summary>
/// <c>aux_zipf_loss</c> — the one place it is defined. The Feature/Mutual Choice paper describes it as generalising
/// AuxK "to dead and under-utilised latents" and publishes no code; this is the project's reconstruction
/// (ARCHITECTURES.md):
/// <list type="number">
/// <item>Sort the running densities ρ descending (ties: lower index first); latent j gets rank r_j (0-based).</item>
/// <item>Fit a Zipf curve <c>log ρ = a − s·log(r + c)</c> by least squares over the latents with ρ &gt; 0.</item>
/// <item>Weight <c>w_j = clip(1 − ρ_j·γ/ρ_zipf(r_j), 0, 1)</c>; dead latents get w_j = 1. A latent is under-utilised when w_j &gt; 0,
/// i.e. ρ_j &lt; ρ_zipf(r_j)/γ.</item>
/// <item>The loss is <see cref="AuxiliaryReconstruction"/> over the under-utilised latents with these weights, k_aux and
/// the coefficient from the options.</item>
/// </list>
/// Knobs: γ (<see cref="AuxZipfOptions.Gamma"/>), c (<see cref="AuxZipfOptions.Offset"/>), the coefficient.
/// </summary>
public static class AuxZipf
{
    /// <summary>The fitted curve: <c>ρ_zipf(r) = exp(Intercept − Slope·log(r + c))</c>.</summary>
    public readonly record struct ZipfFit(double Intercept, double Slope, double Offset)
    {
        public double At(int rank) => Math.Exp(Intercept - Slope * Math.Log(rank + Offset));
    }

    /// <summary>Ranks by density, descending (rank 0 = densest); ties broken by the lower index.</summary>
    public static int[] Ranks(ReadOnlySpan<double> density)
    {
        var order = new int[density.Length];
        for (int i = 0; i < order.Length; i++) order[i] = i;
        var d = density.ToArray();
        Array.Sort(order, (a, b) => d[a] != d[b] ? d[b].CompareTo(d[a]) : a.CompareTo(b));
        var rank = new int[order.Length];
        for (int r = 0; r < order.Length; r++) rank[order[r]] = r;
        return rank;
    }

    /// <summary>Least-squares fit of log ρ on log(r + c) over positive densities; null with fewer than two.</summary>
    public static ZipfFit? Fit(ReadOnlySpan<double> density, ReadOnlySpan<int> rank, double offset)
    {
        double sx = 0, sy = 0, sxx = 0, sxy = 0;
        int n = 0;
        for (int j = 0; j < density.Length; j++)
        {
            if (!(density[j] > 0)) continue;
            double x = Math.Log(rank[j] + offset), y = Math.Log(density[j]);
            sx += x; sy += y; sxx += x * x; sxy += x * y; n++;
        }
        if (n < 2) return null;
        double vx = sxx - sx * sx / n;
        double slope = vx > 1e-300 ? -(sxy - sx * sy / n) / vx : 0;
        double intercept = (sy + slope * sx) / n;
        return new ZipfFit(intercept, slope, offset);
    }

    /// <summary>
    /// The under-utilised latents (ascending) and their weights w_j. <paramref name="dead"/> marks latents counted as
    /// dead (always included with weight 1).
    /// </summary>
    public static (int[] Latents, float[] Weights) UnderUtilised(ReadOnlySpan<double> density, ReadOnlySpan<bool> dead, AuxZipfOptions options)
    {
        var rank = Ranks(density);
        var fit = Fit(density, rank, options.Offset);
        var latents = new List<int>();
        var weights = new List<float>();
        for (int j = 0; j < density.Length; j++)
        {
            double w;
            if (dead[j] || !(density[j] > 0)) w = 1;
            else if (fit is { } f) w = Math.Clamp(1 - density[j] * options.Gamma / f.At(rank[j]), 0, 1);
            else w = 0;
            if (w > 0)
            {
                latents.Add(j);
                weights.Add((float)w);
            }
        }
        return ([.. latents], [.. weights]);
    }

    /// <summary>The aux_zipf_loss for a batch (see the class summary); gradients as in <see cref="AuxiliaryReconstruction.Evaluate"/>.</summary>
    public static double Evaluate(
        Compute.Backends.ComputeBackend backend, Compute.Tensors.HostMatrix pre, ObjectiveState state, TrainingOptions options,
        int kAux, Compute.Tensors.HostMatrix residual, Optimization.ParameterSet live, Optimization.ParameterSet? grads,
        Compute.Tensors.HostMatrix? dPre, ref ulong support, List<(Compute.Tensors.SparseRows, float[])>? sparseDPre = null)
    {
        var dead = new bool[state.TokensSinceFire.Length];
        for (int j = 0; j < dead.Length; j++) dead[j] = state.TokensSinceFire[j] >= options.DeadWindowTokens;
        var (latents, weights) = UnderUtilised(state.Density, dead, options.AuxZipf);
        return AuxiliaryReconstruction.Evaluate(backend, pre, latents, weights, kAux, options.AuxZipf.Coefficient,
            residual, live, grads, dPre, ref support, sparseDPre);
    }
}
