using SaeBench.Compute.Backends;
using SaeBench.Compute.Tensors;
using SaeBench.Core.Autoencoders;
using SaeBench.Core.Models;
using SaeBench.Training.Optimization;

namespace SaeBench.Evals.Ravel;

/// <summary>
/// What MDBM needs from the model for one batch of base prompts: given the edited hook rows (one per base, at its entity
/// position), each base's cross-entropy against its target token at its last position and ∂loss_b/∂row_b.
/// </summary>
public interface IEditedRowLoss
{
    HookRowGradient Evaluate(HostMatrix editedRows);
}

/// <summary>One training batch: the clean hook rows of the bases (at their entity positions) and of the sources (at theirs),
/// and the loss of the edited base rows.</summary>
public sealed record MdbmBatch(HostMatrix BaseRows, HostMatrix SourceRows, IEditedRowLoss Loss);

/// <summary>The trained mask and how training went.</summary>
/// <param name="Mask">The mask logits (latent i is swapped when <c>Mask[i] &gt; 0</c>).</param>
/// <param name="Steps">Adam steps taken.</param>
/// <param name="FirstLoss">Mean loss of the first step (NaN without steps).</param>
/// <param name="LastLoss">Mean loss of the last step (NaN without steps).</param>
public sealed record MdbmResult(float[] Mask, int Steps, double FirstLoss, double LastLoss)
{
    /// <summary>The latents the hard mask swaps.</summary>
    public int[] Selected => Enumerable.Range(0, Mask.Length).Where(i => Mask[i] > 0).ToArray();
}

/// <summary>
/// SAEBench's MDBM (differentiable binary mask, <c>mdbm.py</c>): a mask over the SAE's latents, initialised at 0
/// (σ = 0.5); at the base's entity position the hook row becomes <c>decode((1 − m)·f_base + m·f_source)</c> with
/// <c>m = σ(mask / T)</c> (no SAE error term); the loss is the cross-entropy of the last position against the target
/// token, averaged over the batch; Adam (lr 1e-3) on the mask only; T log-spaced from 1 to 1e-4 over all steps.
/// </summary>
public static class Mdbm
{
    public const double InitialTemperature = 1, FinalTemperature = 1e-4;

    /// <summary><c>torch.logspace(log10 1, log10 1e-4, steps)</c>: step k of n has T = 10^(−4k/(n−1)) (T = 1 for one step).</summary>
    public static double Temperature(int step, int steps) =>
        steps <= 1 ? InitialTemperature : Math.Pow(10, Math.Log10(InitialTemperature) + (Math.Log10(FinalTemperature) - Math.Log10(InitialTemperature)) * step / (steps - 1));

    /// <summary>Trains the mask over <paramref name="batches"/> for <paramref name="epochs"/> epochs (batches in the given order).</summary>
    public static MdbmResult Train(Sae sae, ComputeBackend backend, IReadOnlyList<MdbmBatch> batches, int epochs, double learningRate, CancellationToken cancellation = default)
    {
        int dSae = sae.DSae;
        // The mask is one d_sae vector; the trainer's Adam works on a ParameterSet, whose b_enc has exactly that shape.
        var parameters = new ParameterSet(sae.DIn, dSae);
        var mask = parameters.Add(ParameterSet.BEnc);
        var gradients = parameters.ZerosLike();
        var adam = new Adam(parameters);
        int steps = epochs * batches.Count;
        double first = double.NaN, last = double.NaN;
        int step = 0;
        for (int epoch = 0; epoch < epochs; epoch++)
        foreach (var batch in batches)
        {
            cancellation.ThrowIfCancellationRequested();
            double t = Temperature(step, steps);
            double loss = Step(sae, backend, batch, mask.Span, t, gradients[ParameterSet.BEnc].Span);
            adam.Step(parameters, gradients, learningRate);
            if (step == 0) first = loss;
            last = loss;
            step++;
        }
        return new MdbmResult(mask.Span.ToArray(), steps, first, last);
    }

    /// <summary>The mean loss of one batch at the soft mask and, into <paramref name="gradient"/>, its gradient with respect to the mask.</summary>
    public static double Step(Sae sae, ComputeBackend backend, MdbmBatch batch, ReadOnlySpan<float> mask, double temperature, Span<float> gradient)
    {
        int n = batch.BaseRows.Rows;
        using var fBase = HostMatrix.Rent(n, sae.DSae, clear: false);
        using var fSource = HostMatrix.Rent(n, sae.DSae, clear: false);
        sae.Encode(backend, batch.BaseRows, fBase);
        sae.Encode(backend, batch.SourceRows, fSource);
        var m = SoftMask(mask, temperature);
        using var edited = HostMatrix.Rent(n, sae.DIn, clear: false);
        Edit(sae, backend, fBase, fSource, m, edited);
        using var result = batch.Loss.Evaluate(edited);
        if (result.Losses.Length != n || result.Gradient.Rows != n || result.Gradient.Cols != sae.DIn)
            throw new InvalidOperationException($"The loss returned {result.Losses.Length} losses and a {result.Gradient.Rows}×{result.Gradient.Cols} gradient for {n} rows of width {sae.DIn}.");
        MaskGradient(sae, backend, mask, temperature, fBase, fSource, result.Gradient, gradient);
        return result.Losses.Average();
    }

    /// <summary>m = σ(mask / T).</summary>
    public static float[] SoftMask(ReadOnlySpan<float> mask, double temperature)
    {
        var m = new float[mask.Length];
        for (int i = 0; i < m.Length; i++) m[i] = (float)Shared.LogisticMath.Sigmoid(mask[i] / temperature);
        return m;
    }

    /// <summary>The hard mask of evaluation: 1 where mask &gt; 0.</summary>
    public static float[] HardMask(ReadOnlySpan<float> mask)
    {
        var m = new float[mask.Length];
        for (int i = 0; i < m.Length; i++) m[i] = mask[i] > 0 ? 1f : 0f;
        return m;
    }

    /// <summary>The edited rows: <c>decode((1 − m)·f_base + m·f_source)</c>, without the error term.</summary>
    public static void Edit(Sae sae, ComputeBackend backend, HostMatrix fBase, HostMatrix fSource, ReadOnlySpan<float> m, HostMatrix edited)
    {
        using var mixed = HostMatrix.Rent(fBase.Rows, sae.DSae, clear: false);
        for (int r = 0; r < fBase.Rows; r++)
        {
            var b = fBase.Row(r);
            var s = fSource.Row(r);
            var o = mixed.Row(r);
            for (int i = 0; i < o.Length; i++) o[i] = (1 - m[i]) * b[i] + m[i] * s[i];
        }
        sae.DecodeDense(backend, mixed, edited);
    }

    /// <summary>
    /// ∂(mean loss)/∂mask_i = (1/B) Σ_b σ'(mask_i/T)/T · (f_source,bi − f_base,bi) · ⟨∂x̂/∂f_i, g_b⟩, where g_b = ∂loss_b/∂(edited
    /// row b) and ∂x̂/∂f_i = W_dec[i] / input_scale (the decoder is affine in the code).
    /// </summary>
    public static void MaskGradient(Sae sae, ComputeBackend backend, ReadOnlySpan<float> mask, double temperature, HostMatrix fBase, HostMatrix fSource,
        HostMatrix rowGradient, Span<float> gradient)
    {
        int n = fBase.Rows, dSae = sae.DSae;
        using var projected = HostMatrix.Rent(n, dSae, clear: false); // g_b · W_dec[i]
        backend.Gemm.Gemm(rowGradient, false, sae.Parameters.WDec, true, projected);
        double scale = 1.0 / (n * (double)sae.Parameters.InputScale);
        var acc = new double[dSae];
        for (int r = 0; r < n; r++)
        {
            var b = fBase.Row(r);
            var s = fSource.Row(r);
            var p = projected.Row(r);
            for (int i = 0; i < dSae; i++) acc[i] += ((double)s[i] - b[i]) * p[i];
        }
        for (int i = 0; i < dSae; i++)
        {
            double sigma = Shared.LogisticMath.Sigmoid(mask[i] / temperature);
            gradient[i] = (float)(sigma * (1 - sigma) / temperature * acc[i] * scale);
        }
    }
}
