using SaeBench.Compute.Kernels;
using SaeBench.Compute.Tensors;
using SaeBench.Core.Evaluation;

namespace SaeBench.Evals.Shared;

/// <summary>
/// Counts, per latent, the tokens where it fires (f_j &gt; 0), over any number of batches: the one counter of the
/// evaluators. A batch whose code is sparse is read through its stored entries (k per token) instead of d_sae values.
/// </summary>
public sealed class FiringCounts
{
    private readonly long[] _positive;
    private readonly long[] _nonZero;

    public FiringCounts(int latents)
    {
        if (latents < 1) throw new ArgumentOutOfRangeException(nameof(latents), latents, "Must be ≥ 1.");
        _positive = new long[latents];
        _nonZero = new long[latents];
    }

    /// <summary>Tokens counted so far.</summary>
    public long Tokens { get; private set; }

    /// <summary>Per latent, the tokens where it fired.</summary>
    public ReadOnlySpan<long> Counts => _positive;

    /// <summary>Every row of a code matrix <c>[rows, d_sae]</c>.</summary>
    public void Add(HostMatrix codes)
    {
        ArgumentNullException.ThrowIfNull(codes);
        if (codes.Cols != _positive.Length) throw new ArgumentException($"Codes have {codes.Cols} columns; expected {_positive.Length}.", nameof(codes));
        Reductions.ColumnCounts(codes.Span, codes.Rows, codes.Cols, _nonZero, _positive);
        Tokens += codes.Rows;
    }

    /// <summary>The rows of a batch for which <paramref name="keep"/> is true (default: the valid ones).</summary>
    public void Add(SaeBatch batch, Func<int, bool>? keep = null)
    {
        var valid = batch.Source.Valid.ToArray();
        keep ??= r => valid[r];
        if (batch.F.Cols != _positive.Length) throw new ArgumentException($"Codes have {batch.F.Cols} columns; expected {_positive.Length}.", nameof(batch));
        if (batch.Nonzeros is { } sparse)
        {
            for (int r = 0; r < batch.Rows; r++)
            {
                if (!keep(r)) continue;
                var idx = sparse.RowIndices(r);
                var val = sparse.RowValues(r);
                for (int i = 0; i < idx.Length; i++)
                    if (val[i] > 0) _positive[idx[i]]++;
                Tokens++;
            }
            return;
        }
        int kept = 0;
        for (int r = 0; r < batch.Rows; r++) if (keep(r)) kept++;
        if (kept == batch.Rows) { Add(batch.F); return; }
        for (int r = 0; r < batch.Rows; r++)
            if (keep(r)) Add(batch.F.SliceRows(r, 1));
    }

    /// <summary>ρ_j = #(f_j &gt; 0) / tokens (all zero before any token).</summary>
    public double[] Rates() => _positive.Select(c => Tokens == 0 ? 0.0 : (double)c / Tokens).ToArray();
}
