using SaeBench.Compute.Backends;
using SaeBench.Compute.Kernels;
using SaeBench.Compute.Tensors;
using SaeBench.Core.Models;

namespace SaeBench.Training;

/// <summary>L0, explained variance and dead fraction of an inference SAE on held-out activations, in the model's units.</summary>
/// <param name="L0">Mean non-zero codes per token.</param>
/// <param name="ExplainedVariance">1 − Σ‖x − x̂‖² / Σ‖x − x̄‖² (x̄ the mean over the evaluated rows).</param>
/// <param name="DeadFraction">Fraction of latents that never fire on the evaluated rows.</param>
public sealed record HeldOutStatistics(double L0, double ExplainedVariance, double DeadFraction, long Rows, double Mse)
{
    /// <summary>Encodes and decodes up to <paramref name="maxRows"/> valid rows of <paramref name="source"/> with the SAE.</summary>
    public static HeldOutStatistics Measure(Core.Autoencoders.Sae sae, IActivationSource source, ComputeBackend backend, int maxRows = 10_000, int batchRows = 1024)
    {
        int d = sae.DIn, f = sae.DSae;
        long rows = 0, nonZero = 0;
        double sse = 0;
        var sum = new double[d];
        var sumSq = new double[d];
        var fires = new long[f];
        var positive = new long[f];
        foreach (var batch in source.Batches(batchRows))
        {
            using (batch)
            {
                var valid = batch.Valid;
                int n = 0;
                for (int r = 0; r < batch.Rows && rows + n < maxRows; r++) if (valid[r]) n++;
                if (n == 0) { if (rows >= maxRows) break; continue; }
                using var x = HostMatrix.Rent(n, d, clear: false);
                int o = 0;
                for (int r = 0; r < batch.Rows && o < n; r++) if (valid[r]) batch.Activations.Row(r).CopyTo(x.Row(o++));
                using var code = HostMatrix.Rent(n, f, clear: false);
                using var xHat = HostMatrix.Rent(n, d, clear: false);
                sae.Encode(backend, x, code);
                sae.DecodeDense(backend, code, xHat);
                Reductions.ColumnCounts(code.Span, n, f, fires, positive);
                for (int r = 0; r < n; r++)
                {
                    var xr = x.Row(r);
                    var hr = xHat.Row(r);
                    for (int c = 0; c < d; c++)
                    {
                        double v = xr[c], e = v - hr[c];
                        sse += e * e;
                        sum[c] += v;
                        sumSq[c] += v * v;
                    }
                }
                rows += n;
                if (rows >= maxRows) break;
            }
        }
        if (rows == 0) throw new InvalidOperationException("No held-out rows to measure on.");
        foreach (var c in fires) nonZero += c;
        double total = 0;
        for (int c = 0; c < d; c++) total += sumSq[c] - sum[c] * sum[c] / rows;
        return new HeldOutStatistics(nonZero / (double)rows, total > 0 ? 1 - sse / total : double.NaN,
            fires.Count(c => c == 0) / (double)f, rows, sse / rows);
    }
}
