using SaeBench.Compute.Backends;
using SaeBench.Compute.Tensors;
using SaeBench.Core.Autoencoders;
using SaeBench.Training.Data;

namespace SaeBench.Training.Objectives;

/// <summary>
/// Inference thresholds of a trained feature-choice SAE, calibrated so that its inference L0 is the target. During
/// training latent j keeps its m_j largest activations of each batch of B tokens (Σ m_j = k·B); at inference it fires
/// where its activation exceeds θ_j. The EMA of the smallest kept activation (the training-time estimate of θ_j) fires
/// less often than m_j/B (on the quick suite the inference L0 came out 7–8 % below k), so after training θ_j is set to
/// the activation that latent j exceeds on exactly the share m_j/B of a calibration sample: its firing rate is then the
/// one training gave it, and the L0 on the sample is Σ_j m_j/B = k.
/// </summary>
public static class FeatureChoiceCalibration
{
    /// <summary>
    /// Per column j of <paramref name="activations"/> (rows × F, already ReLU'd: 0 = not active), the threshold θ_j such that
    /// exactly c_j = round(rate_j·rows) entries are &gt; θ_j when the column has no ties there: the (c_j + 1)-th largest
    /// entry (0 when that entry is 0, so that only positive activations fire; <see cref="float.MaxValue"/> when c_j = 0).
    /// </summary>
    public static float[] Thresholds(HostMatrix activations, ReadOnlySpan<double> rate)
    {
        ArgumentNullException.ThrowIfNull(activations);
        int n = activations.Rows, cols = activations.Cols;
        if (rate.Length != cols) throw new ArgumentException($"{rate.Length} rates for {cols} latents.", nameof(rate));
        var theta = new float[cols];
        var column = new float[n];
        for (int j = 0; j < cols; j++)
        {
            int c = (int)Math.Clamp(Math.Round(rate[j] * n), 0, n);
            if (c == 0) { theta[j] = float.MaxValue; continue; }
            if (c == n) { theta[j] = 0f; continue; }
            for (int r = 0; r < n; r++) column[r] = activations[r, j];
            Array.Sort(column);                       // ascending: the (c + 1)-th largest is at n − 1 − c
            theta[j] = Math.Max(0f, column[n - 1 - c]);
        }
        return theta;
    }

    /// <summary>
    /// Re-sets the thresholds of <paramref name="sae"/> on the next <paramref name="rows"/> rows of <paramref name="stream"/>
    /// (rounded up to whole batches), with target rates m_j / <paramref name="batchRows"/> from the last training batch's
    /// capacities.
    /// </summary>
    public static Sae Calibrate(ComputeBackend backend, Sae sae, ShuffledBatchStream stream, ReadOnlySpan<int> capacities, int batchRows, int rows)
    {
        ArgumentNullException.ThrowIfNull(sae);
        if (sae.Architecture != SaeArchitectures.FeatureChoice) throw new ArgumentException($"{sae.Architecture} is not feature_choice.", nameof(sae));
        int batches = Math.Max(1, (rows + batchRows - 1) / batchRows);
        var rate = new double[sae.DSae];
        for (int j = 0; j < rate.Length; j++) rate[j] = capacities[j] / (double)batchRows;

        // The same SAE with every threshold 0: its codes are ReLU of the pre-activations.
        var open = sae.Parameters.Clone();
        open.Threshold = new float[sae.DSae];
        var relu = new Sae(sae.Architecture, open, sae.Config.Clone());
        using var x = new HostMatrix(batchRows, sae.DIn);
        using var all = new HostMatrix(batches * batchRows, sae.DSae);
        using var f = new HostMatrix(batchRows, sae.DSae);
        for (int i = 0; i < batches; i++)
        {
            stream.Next(x);                          // raw rows: the SAE applies its own input scale
            relu.Encode(backend, x, f);
            f.Span.CopyTo(all.Span.Slice(i * batchRows * sae.DSae, batchRows * sae.DSae));
        }
        var calibrated = sae.Parameters.Clone();
        calibrated.Threshold = Thresholds(all, rate);
        return new Sae(sae.Architecture, calibrated, sae.Config.Clone());
    }
}
