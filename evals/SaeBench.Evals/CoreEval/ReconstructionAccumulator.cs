using SaeBench.Evals.Shared;
using System.Runtime.Intrinsics;
using SaeBench.Compute.Kernels;
using SaeBench.Compute.Tensors;

namespace SaeBench.Evals.CoreEval;

/// <summary>
/// Streams batches of (x, x̂, f) and accumulates every token-level core metric of METRICS.md in double precision:
/// sparsity, both explained-variance formulas, per-element MSE, cosine similarity, shrinkage and per-latent
/// firing counts. Invalid (masked) rows are skipped everywhere. Memory is O(d + F + legacyBatch·d), never tokens × F.
/// </summary>
public sealed class ReconstructionAccumulator
{
    private readonly int _d;
    private readonly int _f;
    private readonly int _legacyBatch;

    // Global mean and centred sum of squares, merged per batch with Chan et al.'s parallel formula (stable).
    private readonly double[] _mean;
    private double _m2;
    private long _n;

    private double _sse, _l0, _l1, _cos, _normIn, _normOut, _ratio, _xhat2, _xDotXhat;
    // Per-latent positive counts, one array per parallel chunk (at most 8), summed when the result is asked for:
    // integer counts, so the sum is exact whatever the chunking.
    private readonly long[][] _positive = new long[MaxChunks][];

    // explained_variance_legacy: tokens regrouped into fixed batches of _legacyBatch in arrival order.
    private readonly float[] _legacyX;
    private readonly double[] _legacyErr;
    private int _legacyCount;
    private double _legacySum;
    private long _legacyTokens;

    private readonly float[]? _l1Scale;

    /// <param name="l1Scale">Per-latent factors by which |f_j| counts in L1 (the decoder norms, for the L1 of the
    /// decoder-norm-folded SAE's code); null = 1.</param>
    public ReconstructionAccumulator(int dModel, int dSae, int legacyBatchTokens = 2048, float[]? l1Scale = null)
    {
        if (legacyBatchTokens < 1) throw new ArgumentOutOfRangeException(nameof(legacyBatchTokens));
        if (l1Scale is not null && l1Scale.Length != dSae) throw new ArgumentException($"{l1Scale.Length} L1 factors for d_sae = {dSae}.", nameof(l1Scale));
        _l1Scale = l1Scale;
        _d = dModel;
        _f = dSae;
        _legacyBatch = legacyBatchTokens;
        _mean = new double[dModel];
        for (int c = 0; c < MaxChunks; c++) _positive[c] = new long[dSae];
        _legacyX = new float[legacyBatchTokens * dModel];
        _legacyErr = new double[legacyBatchTokens];
    }

    public long Tokens => _n;

    /// <summary>Fraction of tokens on which each latent is positive (ρ_j).</summary>
    public double[] Densities()
    {
        var rho = new double[_f];
        if (_n == 0) return rho;
        for (int j = 0; j < _f; j++)
        {
            long count = 0;
            for (int c = 0; c < MaxChunks; c++) count += _positive[c][j];
            rho[j] = (double)count / _n;
        }
        return rho;
    }

    private const int MaxChunks = 8;

    /// <summary>
    /// Adds a batch. <paramref name="nonzeros"/>, when set, are <paramref name="f"/>'s stored entries: the sparsity
    /// statistics then read those (k per token for TopK) instead of sweeping the d_sae-wide code — same sums, same order.
    /// </summary>
    public void Observe(HostMatrix x, HostMatrix xHat, HostMatrix f, ReadOnlySpan<bool> valid, SparseRows? nonzeros = null)
    {
        if (nonzeros is not null && (!nonzeros.IsSet || nonzeros.Rows != f.Rows || nonzeros.Cols != f.Cols)) nonzeros = null;
        if (x.Cols != _d || xHat.Cols != _d || f.Cols != _f || x.Rows != xHat.Rows || x.Rows != f.Rows || valid.Length != x.Rows)
            throw new ArgumentException($"Batch shapes x {x.Rows}×{x.Cols}, x̂ {xHat.Rows}×{xHat.Cols}, f {f.Rows}×{f.Cols}, mask {valid.Length} do not fit d={_d}, F={_f}.");

        // Batch mean and centred M2 over valid rows (two passes within the batch), then merge.
        var bMean = new double[_d];
        long bn = 0;
        for (int r = 0; r < x.Rows; r++)
        {
            if (!valid[r]) continue;
            bn++;
            var row = x.Row(r);
            for (int j = 0; j < _d; j++) bMean[j] += row[j];
        }
        if (bn == 0) return;
        for (int j = 0; j < _d; j++) bMean[j] /= bn;
        double bM2 = 0;

        // Per-row statistics in parallel (fixed chunks), then summed in row order: the result does not depend on the
        // number of threads. Per-latent counts are integers, so their per-chunk sums merge exactly.
        int rows = x.Rows;
        var validRows = valid.ToArray();
        var stats = new double[rows * RowStat.Count];
        int chunks = rows >= 512 ? Math.Min(MaxChunks, rows / 256) : 1;
        Parallel.For(0, chunks, c =>
        {
            var pos = _positive[c];
            int r0 = (int)((long)rows * c / chunks), r1 = (int)((long)rows * (c + 1) / chunks);
            for (int r = r0; r < r1; r++)
                if (validRows[r])
                {
                    var st = stats.AsSpan(r * RowStat.Count, RowStat.Count);
                    ReconstructionStatistics(x.Row(r), xHat.Row(r), bMean, st);
                    if (nonzeros is null) CodeStatistics(f.Row(r), st, pos);
                    else CodeStatistics(nonzeros.RowIndices(r), nonzeros.RowValues(r), st, pos);
                }
        });

        for (int r = 0; r < rows; r++)
        {
            if (!validRows[r]) continue;
            var st = stats.AsSpan(r * RowStat.Count, RowStat.Count);
            double xx = st[RowStat.Xx], hh = st[RowStat.Hh], xh = st[RowStat.Xh], ee = st[RowStat.Ee];
            bM2 += st[RowStat.Cc];
            _sse += ee;
            double nx = Math.Sqrt(xx), nh = Math.Sqrt(hh);
            _cos += nx == 0 || nh == 0 ? 0 : xh / (nx * nh);
            _normIn += nx;
            _normOut += nh;
            _ratio += nh / (nx < 1e-4 ? 1.0 : nx);
            _xhat2 += hh;
            _xDotXhat += xh;
            _l0 += st[RowStat.L0];
            _l1 += st[RowStat.L1];
            AddLegacy(x.Row(r), ee);
        }

        _n = Moments.MergeTotal(_mean, ref _m2, _n, bMean, bM2, bn);
    }

    private static class RowStat
    {
        public const int Xx = 0, Hh = 1, Xh = 2, Ee = 3, Cc = 4, L0 = 5, L1 = 6, Count = 7;
    }

    private void ReconstructionStatistics(ReadOnlySpan<float> xr, ReadOnlySpan<float> hr, double[] bMean, Span<double> st)
    {
        double xx = 0, hh = 0, xh = 0, ee = 0, cc = 0;
        for (int j = 0; j < _d; j++)
        {
            double xv = xr[j], hv = hr[j];
            xx += xv * xv;
            hh += hv * hv;
            xh += xv * hv;
            double e = xv - hv;
            ee += e * e;
            double c = xv - bMean[j];
            cc += c * c;
        }
        st[RowStat.Xx] = xx;
        st[RowStat.Hh] = hh;
        st[RowStat.Xh] = xh;
        st[RowStat.Ee] = ee;
        st[RowStat.Cc] = cc;
    }

    /// <summary>L0, L1 and per-latent counts of one dense code row.</summary>
    private void CodeStatistics(ReadOnlySpan<float> fr, Span<double> st, long[] positive)
    {
        int l0 = 0;
        double l1 = 0;
        for (int j = 0; j < _f; j++)
        {
            // skip runs of eight zeros at once: codes are sparse
            if ((j & 7) == 0 && j + 8 <= _f && Vector256.EqualsAll(Vector256.Create<float>(fr.Slice(j, 8)), Vector256<float>.Zero))
            {
                j += 7;
                continue;
            }
            float v = fr[j];
            if (v == 0f) continue;
            l0++;
            l1 += _l1Scale is null ? Math.Abs(v) : Math.Abs(v) * (double)_l1Scale[j];
            if (v > 0f) positive[j]++;
        }
        st[RowStat.L0] = l0;
        st[RowStat.L1] = l1;
    }

    /// <summary>The same statistics from a row's stored entries (ascending columns, so L1 sums in the same order).</summary>
    private void CodeStatistics(ReadOnlySpan<int> index, ReadOnlySpan<float> value, Span<double> st, long[] positive)
    {
        int l0 = 0;
        double l1 = 0;
        for (int e = 0; e < index.Length; e++)
        {
            float v = value[e];
            if (v == 0f) continue;
            l0++;
            l1 += _l1Scale is null ? Math.Abs(v) : Math.Abs(v) * (double)_l1Scale[index[e]];
            if (v > 0f) positive[index[e]]++;
        }
        st[RowStat.L0] = l0;
        st[RowStat.L1] = l1;
    }

    private void AddLegacy(ReadOnlySpan<float> xRow, double err)
    {
        xRow.CopyTo(_legacyX.AsSpan(_legacyCount * _d, _d));
        _legacyErr[_legacyCount++] = err;
        if (_legacyCount == _legacyBatch) FlushLegacy();
    }

    private void FlushLegacy()
    {
        int n = _legacyCount;
        if (n == 0) return;
        var mu = new double[_d];
        for (int t = 0; t < n; t++)
        for (int j = 0; j < _d; j++) mu[j] += _legacyX[t * _d + j];
        for (int j = 0; j < _d; j++) mu[j] /= n;
        for (int t = 0; t < n; t++)
        {
            double v = 0;
            for (int j = 0; j < _d; j++)
            {
                double c = _legacyX[t * _d + j] - mu[j];
                v += c * c;
            }
            // A token equal to its batch mean has no variance to explain: its term is undefined and skipped.
            if (v > 0)
            {
                _legacySum += 1 - _legacyErr[t] / v;
                _legacyTokens++;
            }
        }
        _legacyCount = 0;
    }

    /// <summary>The metrics, by METRICS.md name. Null = undefined (no tokens, zero variance).</summary>
    public ReconstructionMetrics Result()
    {
        FlushLegacy();
        double? Mean(double sum) => _n == 0 ? null : sum / _n;
        var rho = Densities();
        double sumRho = rho.Sum();
        double? NormFreq(double threshold) => sumRho == 0 ? null : rho.Where(r => r > threshold).Sum() / sumRho;
        return new ReconstructionMetrics(
            Tokens: _n,
            L0: Mean(_l0),
            L1: Mean(_l1),
            ExplainedVariance: _n == 0 || _m2 <= 0 ? null : 1 - _sse / _m2,
            ExplainedVarianceLegacy: _legacyTokens == 0 ? null : _legacySum / _legacyTokens,
            Mse: _n == 0 ? null : _sse / _n / _d,
            CosSim: Mean(_cos),
            L2NormIn: Mean(_normIn),
            L2NormOut: Mean(_normOut),
            L2Ratio: Mean(_ratio),
            RelativeReconstructionBias: _xDotXhat == 0 ? null : _xhat2 / _xDotXhat,
            FracAlive: _f == 0 ? null : rho.Count(r => r > 0) / (double)_f,
            FreqOver1Percent: _f == 0 ? null : rho.Count(r => r > 0.01) / (double)_f,
            FreqOver10Percent: _f == 0 ? null : rho.Count(r => r > 0.1) / (double)_f,
            NormalizedFreqOver1Percent: NormFreq(0.01),
            NormalizedFreqOver10Percent: NormFreq(0.1),
            Densities: rho);
    }
}

/// <summary>Token-level core metrics (see METRICS.md, <c>core</c>).</summary>
public sealed record ReconstructionMetrics(
    long Tokens,
    double? L0,
    double? L1,
    double? ExplainedVariance,
    double? ExplainedVarianceLegacy,
    double? Mse,
    double? CosSim,
    double? L2NormIn,
    double? L2NormOut,
    double? L2Ratio,
    double? RelativeReconstructionBias,
    double? FracAlive,
    double? FreqOver1Percent,
    double? FreqOver10Percent,
    double? NormalizedFreqOver1Percent,
    double? NormalizedFreqOver10Percent,
    double[] Densities)
{
    public double? FracDead => FracAlive is { } a ? 1 - a : null;
}
