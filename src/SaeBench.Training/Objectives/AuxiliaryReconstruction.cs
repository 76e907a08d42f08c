using SaeBench.Compute.Backends;
using SaeBench.Compute.Kernels;
using SaeBench.Compute.Tensors;
using SaeBench.Training.Optimization;

namespace SaeBench.Training.Objectives;

/// <summary>
/// The AuxK term of the TopK paper, generalised with per-latent weights (which is what <c>aux_zipf_loss</c> needs):
/// per token, the <c>k_aux</c> largest pre-activations among the candidate latents (ReLU'd, scaled by their weight
/// w_j) reconstruct the residual <c>e = x − x̂</c> (a constant: stop-gradient), and
/// <c>L = α·Σ‖e − Σ_j w_j z_j d_j‖² / Σ‖e − ē‖²</c>. AuxK is the case "candidates = dead latents, w = 1".
/// </summary>
public static class AuxiliaryReconstruction
{
    /// <summary>
    /// Returns the loss; when <paramref name="grads"/> is given adds ∂L/∂W_dec (candidate rows) to it and ∂L/∂pre
    /// into <paramref name="dPre"/>. <paramref name="support"/> is mixed with the selected entries when non-null.
    /// With <paramref name="sparseDPre"/> (the sparse-code path) the codes z are k_aux-sparse: the decode and both
    /// gradients go through <see cref="SparseCodeOps"/>, and ∂L/∂pre is appended to it as one more part instead.
    /// </summary>
    public static double Evaluate(
        ComputeBackend backend, HostMatrix pre, ReadOnlySpan<int> candidates, ReadOnlySpan<float> weights, int kAux,
        double coefficient, HostMatrix residual, ParameterSet live, ParameterSet? grads, HostMatrix? dPre, ref ulong support,
        List<(SparseRows, float[])>? sparseDPre = null)
    {
        int b = pre.Rows, n = candidates.Length, dIn = residual.Cols;
        if (n == 0 || kAux <= 0 || coefficient == 0) return 0;
        int k = Math.Min(kAux, n);

        // Denominator: Σ_b ‖e_b − ē‖² (the residual's total variance); constant.
        var mean = new double[dIn];
        Reductions.ColumnSums(residual.Span, b, dIn, mean);
        for (int c = 0; c < dIn; c++) mean[c] /= b;
        double denominator = 0;
        for (int r = 0; r < b; r++)
        {
            var row = residual.Row(r);
            for (int c = 0; c < dIn; c++) { double t = row[c] - mean[c]; denominator += t * t; }
        }
        if (!(denominator > 0)) return 0;

        // z: candidate pre-activations, row top-k, ReLU; zw = w ⊙ z.
        using var z = HostMatrix.Rent(b, n, clear: false);
        for (int r = 0; r < b; r++)
        {
            var src = pre.Row(r);
            var dst = z.Row(r);
            for (int i = 0; i < n; i++) dst[i] = src[candidates[i]];
        }
        RowOps.KeepRowTopK(z.Span, b, n, k);
        RowOps.Relu(z.Span);
        if (support is not 0) support = Mix(support, z.Span);
        if (sparseDPre is not null || (grads is null && b * (long)n > 1 << 16 && k * 8L <= n))
            return EvaluateSparse(backend, z, candidates, weights, k, coefficient, denominator, residual, live, grads, sparseDPre);
        using var zw = HostMatrix.Rent(b, n, clear: false);
        for (int r = 0; r < b; r++)
        {
            var zr = z.Row(r);
            var wr = zw.Row(r);
            for (int i = 0; i < n; i++) wr[i] = zr[i] * weights[i];
        }

        // Candidate decoder rows, packed.
        var wDec = live[ParameterSet.WDec];
        using var dPack = HostMatrix.Rent(n, dIn, clear: false);
        for (int i = 0; i < n; i++) wDec.Row(candidates[i]).CopyTo(dPack.Row(i));

        using var eHat = HostMatrix.Rent(b, dIn, clear: false);
        backend.Gemm.Gemm(zw, false, dPack, false, eHat);
        // r = ê − e; L = α Σ r² / denominator; ∂L/∂ê = 2α r / denominator.
        System.Numerics.Tensors.TensorPrimitives.Subtract(eHat.Span, residual.Span, eHat.Span);
        double numerator = Reductions.Dot(eHat.Span, eHat.Span);
        double loss = coefficient * numerator / denominator;
        if (grads is null || dPre is null) return loss;

        var h = eHat;
        System.Numerics.Tensors.TensorPrimitives.Multiply(h.Span, (float)(2 * coefficient / denominator), h.Span);
        // ∂W_dec[cand] += zwᵀ h
        using var dDec = HostMatrix.Rent(n, dIn, clear: false);
        backend.Gemm.Gemm(zw, true, h, false, dDec);
        var gDec = grads[ParameterSet.WDec];
        for (int i = 0; i < n; i++)
            System.Numerics.Tensors.TensorPrimitives.Add(gDec.Row(candidates[i]), dDec.Row(i), gDec.Row(candidates[i]));
        // ∂zw = h · dPackᵀ; ∂pre[cand] += w ⊙ ∂zw where z > 0.
        using var dZ = HostMatrix.Rent(b, n, clear: false);
        backend.Gemm.Gemm(h, false, dPack, true, dZ);
        for (int r = 0; r < b; r++)
        {
            var zr = z.Row(r);
            var dz = dZ.Row(r);
            var dp = dPre.Row(r);
            for (int i = 0; i < n; i++)
                if (zr[i] > 0f) dp[candidates[i]] += weights[i] * dz[i];
        }
        return loss;
    }

    private static double EvaluateSparse(ComputeBackend backend, HostMatrix z, ReadOnlySpan<int> candidates, ReadOnlySpan<float> weights, int k,
        double coefficient, double denominator, HostMatrix residual, ParameterSet live, ParameterSet? grads, List<(SparseRows, float[])>? sparseDPre)
    {
        int b = z.Rows, n = z.Cols, dIn = residual.Cols;
        var wDec = live[ParameterSet.WDec];
        // The codes z (already top-k and ReLU'd, k per row) with latent indices; values w ⊙ z.
        var codes = new SparseRows(b, wDec.Rows, b * k);
        codes.UseFixedRows(b, k);
        var zValue = new float[b * k];
        var weight = new float[b * k];
        for (int r = 0; r < b; r++)
        {
            var zr = z.Row(r);
            int o = r * k;
            for (int i = 0; i < n && o < (r + 1) * k; i++)
            {
                if (zr[i] == 0f) continue;
                codes.Index[o] = candidates[i];
                zValue[o] = zr[i];
                weight[o] = weights[i];
                codes.Value[o] = zr[i] * weights[i];
                o++;
            }
            // Fewer than k positive: the remaining slots hold zero values (every sparse op skips them).
            for (; o < (r + 1) * k; o++)
            {
                codes.Index[o] = candidates[0];
                codes.Value[o] = zValue[o] = weight[o] = 0f;
            }
        }

        using var eHat = HostMatrix.Rent(b, dIn, clear: true);
        SparseCodeOps.AddDecode(codes, null, wDec, eHat);
        System.Numerics.Tensors.TensorPrimitives.Subtract(eHat.Span, residual.Span, eHat.Span);
        double numerator = Reductions.Dot(eHat.Span, eHat.Span);
        double loss = coefficient * numerator / denominator;
        if (grads is null || sparseDPre is null) return loss;

        var h = eHat;
        System.Numerics.Tensors.TensorPrimitives.Multiply(h.Span, (float)(2 * coefficient / denominator), h.Span);
        SparseCodeOps.AddTransposedProduct(codes, null, h, grads[ParameterSet.WDec]);
        var dz = new float[b * k];
        SparseCodeOps.SampledDots(codes, h, wDec, dz);
        for (int e = 0; e < dz.Length; e++) dz[e] = zValue[e] > 0f ? weight[e] * dz[e] : 0f;
        sparseDPre.Add((codes, dz));
        return loss;
    }

    private static ulong Mix(ulong h, ReadOnlySpan<float> z)
    {
        for (int i = 0; i < z.Length; i++) if (z[i] > 0f) h = (h ^ (ulong)(i + 1)) * 0x100000001B3UL;
        return h;
    }
}
