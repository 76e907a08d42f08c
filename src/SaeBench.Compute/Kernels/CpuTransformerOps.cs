using System.Numerics.Tensors;
using SaeBench.Compute.Backends;
using SaeBench.Compute.Tensors;
using ITensor = SaeBench.Compute.Tensors.ITensor;

namespace SaeBench.Compute.Kernels;

/// <summary>
/// The CPU implementation of <see cref="ITransformerOps"/> on <see cref="HostMatrix"/> tensors. Row-wise work is
/// split into contiguous row blocks across cores when a tensor is large enough to pay for it; attention is split
/// over (example, head) pairs.
/// </summary>
public sealed partial class CpuTransformerOps : ITransformerOps
{
    /// <summary>Below this many elements a tensor is processed on the calling thread.</summary>
    private const long ParallelThreshold = 1 << 15;

    private const int LogitBlock = 1024;

    private readonly int _threads;

    /// <param name="threads">Worker count (0 = all cores).</param>
    public CpuTransformerOps(int threads = 0) => _threads = threads > 0 ? threads : Environment.ProcessorCount;

    public void LayerNorm(ITensor input, ITensor output, ITensor? weight, ITensor? bias, float eps)
    {
        var x = CpuBackend.Host(input);
        var y = CpuBackend.Host(output);
        SameShape(x, y, nameof(LayerNorm));
        var w = Vector(weight, x.Cols, "weight");
        var b = Vector(bias, x.Cols, "bias");
        Rows(x.Rows, x.Cols, (start, end) =>
        {
            for (int r = start; r < end; r++)
                TransformerMath.LayerNormRow(x.Row(r), y.Row(r), w is null ? default : w.Span, b is null ? default : b.Span, eps);
        });
    }

    public void RmsNorm(ITensor input, ITensor output, ITensor? weight, float eps)
    {
        var x = CpuBackend.Host(input);
        var y = CpuBackend.Host(output);
        SameShape(x, y, nameof(RmsNorm));
        var w = Vector(weight, x.Cols, "weight");
        Rows(x.Rows, x.Cols, (start, end) =>
        {
            for (int r = start; r < end; r++) TransformerMath.RmsNormRow(x.Row(r), y.Row(r), w is null ? default : w.Span, eps);
        });
    }

    public void Apply(ITensor matrix, Pointwise function)
    {
        var m = CpuBackend.Host(matrix);
        Rows(m.Rows, m.Cols, (start, end) => TransformerMath.Activate(m.SliceRows(start, end - start).Span, function));
    }

    public void Gate(ITensor gateAndUp, ITensor output, Pointwise function)
    {
        var g = CpuBackend.Host(gateAndUp);
        var o = CpuBackend.Host(output);
        if (g.Rows != o.Rows || g.Cols != 2 * o.Cols)
            throw new ArgumentException($"Gate needs [rows, 2·cols] → [rows, cols]; got {g.Rows}×{g.Cols} → {o.Rows}×{o.Cols}.");
        int cols = o.Cols;
        Rows(o.Rows, g.Cols, (start, end) =>
        {
            for (int r = start; r < end; r++)
            {
                var row = g.Row(r);
                var dst = o.Row(r);
                row[..cols].CopyTo(dst);
                TransformerMath.Activate(dst, function);
                TensorPrimitives.Multiply(dst, row.Slice(cols, cols), dst);
            }
        });
    }

    public void Add(ITensor target, ITensor addend)
    {
        var t = CpuBackend.Host(target);
        var a = CpuBackend.Host(addend);
        SameShape(t, a, nameof(Add));
        Rows(t.Rows, t.Cols, (start, end) =>
        {
            var ts = t.SliceRows(start, end - start).Span;
            TensorPrimitives.Add(ts, a.SliceRows(start, end - start).Span, ts);
        });
    }

    public void Rotary(ITensor qkv, AttentionLayout layout, RotaryTable table)
    {
        layout.Validate();
        var m = CpuBackend.Host(qkv);
        CheckFused(m, layout);
        if (table.RotaryDim > layout.HeadDim)
            throw new ArgumentException($"Rotary dimension {table.RotaryDim} exceeds the head dimension {layout.HeadDim}.");
        if (layout.Context > table.Positions)
            throw new ArgumentException($"Context {layout.Context} exceeds the {table.Positions} positions of the rotary table.");
        int half = table.RotaryDim / 2;
        int rotatedHeads = layout.Heads + layout.KvHeads;
        Rows(m.Rows, m.Cols, (start, end) =>
        {
            for (int r = start; r < end; r++)
            {
                int position = r % layout.Context;
                var cos = table.Cos.Slice(position * half, half);
                var sin = table.Sin.Slice(position * half, half);
                var row = m.Row(r);
                for (int h = 0; h < rotatedHeads; h++) TransformerMath.RotateHalf(row.Slice(h * layout.HeadDim, layout.HeadDim), cos, sin);
            }
        });
    }

    public void Attend(ITensor qkv, ITensor z, AttentionLayout layout, AttentionOptions options)
    {
        layout.Validate();
        var m = CpuBackend.Host(qkv);
        var o = CpuBackend.Host(z);
        CheckFused(m, layout);
        if (o.Rows != layout.Rows || o.Cols != layout.QueryWidth)
            throw new ArgumentException($"Attention output is {o.Rows}×{o.Cols}; the layout needs {layout.Rows}×{layout.QueryWidth}.");
        int group = layout.Heads / layout.KvHeads;
        int items = layout.Batch * layout.Heads;
        int stride = layout.FusedWidth;
        int rowsPerExample = layout.Context;
        unsafe void Work(int item, float[] scores)
        {
            int b = item / layout.Heads, h = item % layout.Heads;
            int kv = h / group;
            var (qa, qo) = m.Raw;
            var (za, zo) = o.Raw;
            fixed (float* pq = &qa[qo + b * rowsPerExample * stride])
            fixed (float* pz = &za[zo + b * rowsPerExample * o.Cols])
            fixed (float* ps = scores)
            {
                TransformerMath.AttendHeadBlocked(pq, stride, layout.Context, layout.HeadDim,
                    h * layout.HeadDim, layout.QueryWidth + kv * layout.HeadDim, layout.QueryWidth + layout.KvWidth + kv * layout.HeadDim,
                    pz, o.Cols, h * layout.HeadDim, options.Scale, options.SoftCap, options.Window, ps);
            }
        }
        long work = (long)layout.Rows * layout.Context * layout.QueryWidth;
        if (items == 1 || _threads == 1 || work < ParallelThreshold)
        {
            var scores = new float[TransformerMath.QueryBlock * layout.Context];
            for (int i = 0; i < items; i++) Work(i, scores);
            return;
        }
        Parallel.For(0, items, new ParallelOptions { MaxDegreeOfParallelism = _threads },
            () => new float[TransformerMath.QueryBlock * layout.Context],
            (i, _, scores) =>
            {
                Work(i, scores);
                return scores;
            },
            _ => { });
    }

    public void Gather(ReadOnlySpan<int> indices, ITensor table, ITensor output, float scale, bool accumulate)
    {
        var t = CpuBackend.Host(table);
        var o = CpuBackend.Host(output);
        if (indices.Length != o.Rows || t.Cols != o.Cols)
            throw new ArgumentException($"Gather of {indices.Length} rows of a {t.Rows}×{t.Cols} table into {o.Rows}×{o.Cols}.");
        for (int r = 0; r < indices.Length; r++)
        {
            int i = indices[r];
            if ((uint)i >= (uint)t.Rows)
                throw new ArgumentOutOfRangeException(nameof(indices), i, $"Index {i} at row {r} is outside the table's {t.Rows} rows.");
            var src = t.Row(i);
            var dst = o.Row(r);
            if (accumulate)
            {
                if (scale == 1f) TensorPrimitives.Add(dst, src, dst);
                else TensorPrimitives.MultiplyAdd(src, scale, dst, dst);
            }
            else if (scale == 1f) src.CopyTo(dst);
            else TensorPrimitives.Multiply(src, scale, dst);
        }
    }

    public void RowStatistics(ITensor logits, ReadOnlySpan<int> targets, Span<double> logSumExp, Span<double> targetLogit, Span<int> argMax)
    {
        var m = CpuBackend.Host(logits);
        if (targets.Length != m.Rows || logSumExp.Length < m.Rows || targetLogit.Length < m.Rows || argMax.Length < m.Rows)
            throw new ArgumentException($"RowStatistics over {m.Rows} rows needs {m.Rows} targets and destinations.");
        var lse = new double[m.Rows];
        var tl = new double[m.Rows];
        var am = new int[m.Rows];
        var tg = targets.ToArray();
        for (int r = 0; r < tg.Length; r++)
            if (tg[r] >= m.Cols) throw new ArgumentOutOfRangeException(nameof(targets), tg[r], $"Target {tg[r]} at row {r} is outside the {m.Cols} logits.");
        Rows(m.Rows, m.Cols, (start, end) =>
        {
            Span<float> scratch = stackalloc float[Math.Min(LogitBlock, Math.Max(1, m.Cols))];
            for (int r = start; r < end; r++)
            {
                var row = m.Row(r);
                int best = TensorPrimitives.IndexOfMax(row);
                am[r] = best;
                lse[r] = TransformerMath.LogSumExp(row, row[best], scratch);
                tl[r] = tg[r] < 0 ? double.NaN : row[tg[r]];
            }
        });
        lse.CopyTo(logSumExp);
        tl.CopyTo(targetLogit);
        am.CopyTo(argMax);
    }

    public void RowKl(ITensor reference, ReadOnlySpan<double> referenceLogSumExp, ITensor other, ReadOnlySpan<double> otherLogSumExp, Span<double> destination)
    {
        var a = CpuBackend.Host(reference);
        var b = CpuBackend.Host(other);
        SameShape(a, b, nameof(RowKl));
        if (destination.Length < a.Rows || referenceLogSumExp.Length < a.Rows || otherLogSumExp.Length < a.Rows)
            throw new ArgumentException($"RowKl over {a.Rows} rows needs {a.Rows} log-sum-exps and destinations.");
        var kl = new double[a.Rows];
        var lseA = referenceLogSumExp[..a.Rows].ToArray();
        var lseB = otherLogSumExp[..a.Rows].ToArray();
        Rows(a.Rows, a.Cols, (start, end) =>
        {
            int n = Math.Min(LogitBlock, Math.Max(1, a.Cols));
            Span<float> s1 = stackalloc float[n];
            Span<float> s2 = stackalloc float[n];
            for (int r = start; r < end; r++) kl[r] = TransformerMath.Kl(a.Row(r), lseA[r], b.Row(r), lseB[r], s1, s2);
        });
        kl.CopyTo(destination);
    }

    /// <summary>Runs <paramref name="body"/> over [0, rows) in contiguous blocks, in parallel when the tensor is large.</summary>
    private void Rows(int rows, int cols, Action<int, int> body)
    {
        if (rows == 0) return;
        long elements = (long)rows * cols;
        int workers = (int)Math.Min(_threads, Math.Min(rows, Math.Max(1, elements / ParallelThreshold)));
        if (workers <= 1)
        {
            body(0, rows);
            return;
        }
        int chunks = Math.Min(rows, workers * 4);
        Parallel.For(0, chunks, new ParallelOptions { MaxDegreeOfParallelism = workers }, c =>
        {
            int start = (int)((long)rows * c / chunks), end = (int)((long)rows * (c + 1) / chunks);
            body(start, end);
        });
    }

    private static HostMatrix? Vector(ITensor? t, int cols, string what)
    {
        if (t is null) return null;
        var h = CpuBackend.Host(t);
        if (h.Length != cols) throw new ArgumentException($"The norm {what} has {h.Length} values; rows have {cols}.");
        return h;
    }

    private static void SameShape(HostMatrix a, HostMatrix b, string op)
    {
        if (a.Rows != b.Rows || a.Cols != b.Cols) throw new ArgumentException($"{op} of {a.Rows}×{a.Cols} and {b.Rows}×{b.Cols}.");
    }

    private static void CheckFused(HostMatrix m, AttentionLayout layout)
    {
        if (m.Rows != layout.Rows || m.Cols != layout.FusedWidth)
            throw new ArgumentException($"Fused Q|K|V is {m.Rows}×{m.Cols}; the layout needs {layout.Rows}×{layout.FusedWidth}.");
    }
}
