using System.Numerics.Tensors;
using SaeBench.Compute.Backends;
using SaeBench.Compute.Tensors;

namespace SaeBench.Evals.Shared;

/// <summary>Per-latent geometry: norms, encoder/decoder cosine, and the maximum cosine to any other latent.</summary>
public static class LatentGeometry
{
    /// <summary>
    /// For each row i of <paramref name="vectors"/> (n × d), max over k ≠ i of cos(v_i, v_k); 0-norm rows have cosine 0.
    /// Blocked and symmetric: only blocks (I, J) with J ≥ I are computed (half the flops of the full n × n product), each
    /// updating the row maxima of block I and the column maxima of block J; at most <paramref name="blockRows"/>² similarities
    /// exist at a time, never n × n.
    /// </summary>
    public static double[] MaxCosineToOthers(ComputeBackend backend, HostMatrix vectors, int blockRows = 1024)
    {
        int n = vectors.Rows;
        var result = new double[n];
        if (n < 2) return result;
        var unit = UnitRows(vectors);
        var best = new float[n];
        Array.Fill(best, float.NegativeInfinity);
        int b = Math.Min(blockRows, n);
        using var sims = HostMatrix.Rent(b, b, clear: false);
        for (int i0 = 0; i0 < n; i0 += b)
        {
            int bi = Math.Min(b, n - i0);
            var blockI = unit.SliceRows(i0, bi);
            for (int j0 = i0; j0 < n; j0 += b)
            {
                int bj = Math.Min(b, n - j0);
                var s = HostMatrix.Wrap(sims.Raw.Array, bi, bj); // a bi × bj view of the pooled buffer
                backend.Gemm.Gemm(blockI, false, unit.SliceRows(j0, bj), true, s);
                var colBest = best.AsSpan(j0, bj);
                for (int r = 0; r < bi; r++)
                {
                    var row = s.Row(r);
                    if (i0 == j0) row[r] = float.NegativeInfinity; // not itself
                    float m = TensorPrimitives.Max(row);
                    if (m > best[i0 + r]) best[i0 + r] = m;
                    if (j0 != i0) TensorPrimitives.Max(colBest, row, colBest); // a diagonal block's column maxima are its row maxima
                }
            }
        }
        for (int k = 0; k < n; k++) result[k] = Math.Clamp(best[k], -1f, 1f);
        return result;
    }

    /// <summary>A copy with every row scaled to unit norm (zero rows stay zero).</summary>
    public static HostMatrix UnitRows(HostMatrix m)
    {
        var u = m.Clone();
        for (int r = 0; r < u.Rows; r++)
        {
            var row = u.Row(r);
            double norm = Math.Sqrt(Compute.Kernels.Reductions.Dot(row, row));
            if (norm > 0) System.Numerics.Tensors.TensorPrimitives.Multiply(row, (float)(1 / norm), row);
        }
        return u;
    }

    /// <summary>‖row‖ for each row.</summary>
    public static double[] RowNorms(HostMatrix m)
    {
        var sq = new double[m.Rows];
        Compute.Kernels.Reductions.RowSumSquares(m.Span, m.Rows, m.Cols, sq);
        return sq.Select(Math.Sqrt).ToArray();
    }

    /// <summary>cos(a_i, b_i) per row pair (0 where a norm is 0).</summary>
    public static double[] RowCosines(HostMatrix a, HostMatrix b)
    {
        var dots = new double[a.Rows];
        Compute.Kernels.Reductions.RowDots(a.Span, b.Span, a.Rows, a.Cols, dots);
        var na = RowNorms(a);
        var nb = RowNorms(b);
        return dots.Select((d, i) => na[i] == 0 || nb[i] == 0 ? 0 : d / (na[i] * nb[i])).ToArray();
    }
}
