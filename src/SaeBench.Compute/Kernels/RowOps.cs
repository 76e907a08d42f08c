using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using SaeBench.Compute.Tensors;

namespace SaeBench.Compute.Kernels;

/// <summary>Element-wise and row-wise operations on row-major float32 matrices held in spans.</summary>
public static class RowOps
{
    /// <summary>Adds <paramref name="bias"/> (length cols) to every row.</summary>
    public static void AddRowVector(Span<float> matrix, int cols, ReadOnlySpan<float> bias)
    {
        if (bias.Length != cols) throw new ArgumentException($"Bias has {bias.Length} elements, rows have {cols}.");
        for (int o = 0; o + cols <= matrix.Length; o += cols)
        {
            var row = matrix.Slice(o, cols);
            TensorPrimitives.Add(row, bias, row);
        }
    }

    /// <summary>Subtracts <paramref name="vector"/> (length cols) from every row.</summary>
    public static void SubtractRowVector(Span<float> matrix, int cols, ReadOnlySpan<float> vector)
    {
        if (vector.Length != cols) throw new ArgumentException($"Vector has {vector.Length} elements, rows have {cols}.");
        for (int o = 0; o + cols <= matrix.Length; o += cols)
        {
            var row = matrix.Slice(o, cols);
            TensorPrimitives.Subtract(row, vector, row);
        }
    }

    public static void Relu(Span<float> values) => TensorPrimitives.Max(values, 0f, values);

    /// <summary>x ← x if x &gt; θ else 0 (a JumpReLU-style gate with one scalar threshold).</summary>
    public static void Threshold(Span<float> values, float theta)
    {
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var t = Vector256.Create(theta);
            ref float r = ref MemoryMarshal.GetReference(values);
            for (; i + 8 <= values.Length; i += 8)
            {
                var v = Vector256.LoadUnsafe(ref r, (nuint)i);
                Vector256.ConditionalSelect(Vector256.GreaterThan(v, t), v, Vector256<float>.Zero).StoreUnsafe(ref r, (nuint)i);
            }
        }
        for (; i < values.Length; i++) if (!(values[i] > theta)) values[i] = 0f;
    }

    /// <summary>x[r, j] ← x[r, j] if x[r, j] &gt; θ[j] else 0.</summary>
    public static void ThresholdColumns(Span<float> matrix, int cols, ReadOnlySpan<float> theta)
    {
        if (theta.Length != cols) throw new ArgumentException($"Thresholds have {theta.Length} elements, rows have {cols}.");
        ref float t0 = ref MemoryMarshal.GetReference(theta);
        for (int o = 0; o + cols <= matrix.Length; o += cols)
        {
            var row = matrix.Slice(o, cols);
            ref float r = ref MemoryMarshal.GetReference(row);
            int j = 0;
            if (Vector256.IsHardwareAccelerated)
            {
                for (; j + 8 <= cols; j += 8)
                {
                    var v = Vector256.LoadUnsafe(ref r, (nuint)j);
                    var t = Vector256.LoadUnsafe(ref t0, (nuint)j);
                    Vector256.ConditionalSelect(Vector256.GreaterThan(v, t), v, Vector256<float>.Zero).StoreUnsafe(ref r, (nuint)j);
                }
            }
            for (; j < cols; j++) if (!(row[j] > theta[j])) row[j] = 0f;
        }
    }

    /// <summary>
    /// Keeps, in each row, the k largest entries (ties: lower index) and zeroes the rest; with <paramref name="relu"/>,
    /// kept negative entries become 0 as well (fused, so the matrix is not swept twice). Rows run in parallel. When
    /// <paramref name="kept"/> is given and k &lt; cols, it receives each row's k kept entries (ascending column order),
    /// so that consumers of a k-sparse code need not sweep the dense matrix again.
    /// </summary>
    public static void KeepRowTopK(Span<float> matrix, int rows, int cols, int k, bool relu = false, float[]? bias = null, SparseRows? kept = null)
    {
        if (bias is not null && bias.Length != cols) throw new ArgumentException($"Bias has {bias.Length} elements, rows have {cols}.");
        if (kept is not null && kept.Cols != cols) throw new ArgumentException($"Kept entries are for {kept.Cols} columns, rows have {cols}.");
        kept?.Reset();
        if (k >= cols)
        {
            // Everything is kept: a dense code, so there are no sparse entries to hand out (kept stays unset).
            if (bias is not null) AddRowVector(matrix[..(rows * cols)], cols, bias);
            if (relu) Relu(matrix[..(rows * cols)]);
            return;
        }
        kept?.UseFixedRows(rows, k);
        if (rows * (long)cols < 1 << 16 || Environment.ProcessorCount == 1)
        {
            KeepRowTopK(matrix, 0, rows, cols, k, relu, bias, new int[k], new float[k], kept);
            return;
        }
        unsafe
        {
            fixed (float* p = matrix)
            {
                nint address = (nint)p;
                int length = matrix.Length;
                int chunks = Math.Min(rows, Environment.ProcessorCount * 4);
                Parallel.For(0, chunks, () => (new int[k], new float[k]), (c, _, buffers) =>
                {
                    var span = new Span<float>((float*)address, length);
                    int r0 = (int)((long)rows * c / chunks), r1 = (int)((long)rows * (c + 1) / chunks);
                    KeepRowTopK(span, r0, r1, cols, k, relu, bias, buffers.Item1, buffers.Item2, kept);
                    return buffers;
                }, _ => { });
            }
        }
    }

    private static void KeepRowTopK(Span<float> matrix, int r0, int r1, int cols, int k, bool relu, float[]? bias, int[] idx, float[] val, SparseRows? kept)
    {
        for (int r = r0; r < r1; r++)
        {
            var row = matrix.Slice(r * cols, cols);
            if (bias is not null) TensorPrimitives.Add(row, bias, row);
            Selection.TopK(row, k, idx, val);
            row.Clear();
            if (relu)
                for (int i = 0; i < k; i++)
                    if (val[i] < 0f) val[i] = 0f;
            for (int i = 0; i < k; i++) row[idx[i]] = val[i];
            if (kept is null) continue;
            idx.AsSpan(0, k).CopyTo(kept.Index.AsSpan(r * k, k));
            val.AsSpan(0, k).CopyTo(kept.Value.AsSpan(r * k, k));
        }
    }

    /// <summary>Keeps, in each column, the m largest entries across rows and zeroes the rest.</summary>
    public static void KeepColumnTopM(Span<float> matrix, int rows, int cols, int m)
    {
        if (m >= rows) return;
        var idx = new int[cols * m];
        var val = new float[cols * m];
        Selection.ColumnTopM(matrix, rows, cols, m, idx, val);
        matrix[..(rows * cols)].Clear();
        for (int c = 0; c < cols; c++)
        for (int i = 0; i < m; i++)
            matrix[idx[c * m + i] * cols + c] = val[c * m + i];
    }

    /// <summary>Keeps the K largest entries of the whole matrix and zeroes the rest; returns the K-th largest value.</summary>
    public static float KeepGlobalTopK(Span<float> matrix, int k)
    {
        if (k == 0) { matrix.Clear(); return float.PositiveInfinity; }
        if (k >= matrix.Length) return Selection.KthLargest(matrix, matrix.Length);
        float t = Selection.KthLargest(matrix, k);
        int greater = 0;
        foreach (var v in matrix) if (v > t) greater++;
        int equalNeeded = k - greater;
        for (int i = 0; i < matrix.Length; i++)
        {
            float v = matrix[i];
            if (v > t) continue;
            if (v == t && equalNeeded > 0) { equalNeeded--; continue; }
            matrix[i] = 0f;
        }
        return t;
    }
}
