using System.Numerics.Tensors;
using SaeBench.Compute.Tensors;

namespace SaeBench.Compute.Kernels;

/// <summary>
/// The three products of SAE training that a sparse code makes sparse (host memory, deterministic: every output
/// element is summed in one fixed order whatever the thread count):
/// <list type="bullet">
/// <item><see cref="AddDecode"/>: <c>D += F·W</c> (the decoder forward), rows in parallel;</item>
/// <item><see cref="SampledDots"/>: <c>(A·Wᵀ)</c> only at the stored entries of F (the code gradient through the
/// decoder: nothing else of it is used);</item>
/// <item><see cref="AddTransposedProduct"/>: <c>D += Fᵀ·A</c> (the decoder gradient, and the encoder gradient with
/// <c>transposedDestination</c>), latents in parallel, each latent's entries summed in ascending row order.</item>
/// </list>
/// F is a <see cref="SparseRows"/> pattern with values (its own or a separate array of the same layout); zero values
/// are skipped. A column range [<c>colStart</c>, <c>colEnd</c>) restricts every op to the entries of those latents
/// (Matryoshka's nested groups). Cost: O(nnz · cols of A) instead of O(rows · F · cols of A).
/// </summary>
public static class SparseCodeOps
{
    /// <summary><c>dest[r] += Σ_e v_e · w[index_e]</c> over the entries of row r (ascending column order).</summary>
    public static void AddDecode(SparseRows f, float[]? values, HostMatrix w, HostMatrix dest, int colStart = 0, int colEnd = int.MaxValue)
    {
        Check(f, w.Rows, dest.Rows);
        if (w.Cols != dest.Cols) throw new ArgumentException($"Decoder rows have {w.Cols} columns, the destination {dest.Cols}.");
        var v = values ?? f.Value;
        ForRows(f.Rows, (r0, r1) =>
        {
            for (int r = r0; r < r1; r++)
            {
                var acc = dest.Row(r);
                for (int e = f.Start[r]; e < f.End[r]; e++)
                {
                    int j = f.Index[e];
                    float x = v[e];
                    if (x == 0f || j < colStart || j >= colEnd) continue;
                    TensorPrimitives.MultiplyAdd(w.Row(j), x, acc, acc);
                }
            }
        });
    }

    /// <summary><c>dest[e] = a[r_e] · w[index_e]</c> at every stored entry in the column range (others untouched).</summary>
    public static void SampledDots(SparseRows f, HostMatrix a, HostMatrix w, float[] dest, int colStart = 0, int colEnd = int.MaxValue)
    {
        Check(f, w.Rows, a.Rows);
        if (w.Cols != a.Cols) throw new ArgumentException($"Rows of {a.Cols} and {w.Cols} columns cannot be dotted.");
        ForRows(f.Rows, (r0, r1) =>
        {
            for (int r = r0; r < r1; r++)
            {
                var ar = a.Row(r);
                for (int e = f.Start[r]; e < f.End[r]; e++)
                {
                    int j = f.Index[e];
                    if (j < colStart || j >= colEnd) continue;
                    dest[e] = TensorPrimitives.Dot(ar, w.Row(j));
                }
            }
        });
    }

    /// <summary>
    /// <c>dest[j] += Σ_{entries (r, j)} v · a[r]</c> (dest is cols × a.Cols), or with <paramref name="transposedDestination"/>
    /// the same into column j of dest (a.Cols × cols, the layout of <c>W_enc</c>). When <paramref name="columnSums"/> is
    /// given, <c>Σ_r v</c> of each column in the range is added to it (in double). Each latent's entries are summed in
    /// ascending row order.
    /// </summary>
    public static void AddTransposedProduct(SparseRows f, float[]? values, HostMatrix a, HostMatrix dest, bool transposedDestination = false,
        double[]? columnSums = null, int colStart = 0, int colEnd = int.MaxValue)
    {
        int cols = f.Cols, d = a.Cols;
        if (f.Rows != a.Rows) throw new ArgumentException($"{f.Rows} code rows against {a.Rows} rows.");
        if (transposedDestination ? dest.Rows != d || dest.Cols != cols : dest.Rows != cols || dest.Cols != d)
            throw new ArgumentException($"Destination {dest.Rows}×{dest.Cols} does not fit {cols} latents × {d}.");
        var v = values ?? f.Value;
        colEnd = Math.Min(colEnd, cols);
        colStart = Math.Max(colStart, 0);
        if (colStart >= colEnd) return;

        // Bucket the entries by latent (counting sort; rows ascending inside each bucket).
        var start = new int[colEnd - colStart + 1];
        int rows = f.Rows;
        for (int r = 0; r < rows; r++)
            for (int e = f.Start[r]; e < f.End[r]; e++)
            {
                int j = f.Index[e];
                if (j >= colStart && j < colEnd && v[e] != 0f) start[j - colStart + 1]++;
            }
        for (int j = 1; j < start.Length; j++) start[j] += start[j - 1];
        int total = start[^1];
        if (total == 0) return;
        var row = new int[total];
        var val = new float[total];
        var fill = (int[])start.Clone();
        for (int r = 0; r < rows; r++)
            for (int e = f.Start[r]; e < f.End[r]; e++)
            {
                int j = f.Index[e];
                if (j < colStart || j >= colEnd || v[e] == 0f) continue;
                int o = fill[j - colStart]++;
                row[o] = r;
                val[o] = v[e];
            }

        if (columnSums is not null)
            for (int j = colStart; j < colEnd; j++)
            {
                double s = 0;
                for (int o = start[j - colStart]; o < start[j - colStart + 1]; o++) s += val[o];
                columnSums[j] += s;
            }

        const int block = 16; // latents per block: one 64-byte line per destination row in the transposed layout
        int blocks = (colEnd - colStart + block - 1) / block;
        void Blocks(int b0, int b1)
        {
            var acc = transposedDestination ? new float[block * d] : null;
            for (int bl = b0; bl < b1; bl++)
            {
                int j0 = colStart + bl * block, j1 = Math.Min(colEnd, j0 + block);
                if (start[j1 - colStart] == start[j0 - colStart]) continue;
                if (acc is not null) Array.Clear(acc);
                for (int j = j0; j < j1; j++)
                {
                    var target = acc is null ? dest.Row(j) : acc.AsSpan((j - j0) * d, d);
                    for (int o = start[j - colStart]; o < start[j - colStart + 1]; o++)
                        TensorPrimitives.MultiplyAdd(a.Row(row[o]), val[o], target, target);
                }
                if (acc is null) continue;
                int width = j1 - j0;
                for (int c = 0; c < d; c++)
                {
                    var drow = dest.Row(c).Slice(j0, width);
                    for (int jj = 0; jj < width; jj++) drow[jj] += acc[jj * d + c];
                }
            }
        }
        ForChunks(blocks, (long)total * d, Blocks);
    }

    private static void Check(SparseRows f, int wRows, int rows)
    {
        if (!f.IsSet) throw new ArgumentException("The sparse code is not set.");
        if (f.Cols != wRows) throw new ArgumentException($"Code has {f.Cols} latents, the matrix {wRows} rows.");
        if (f.Rows != rows) throw new ArgumentException($"{f.Rows} code rows against {rows} rows.");
    }

    private static void ForRows(int rows, Action<int, int> body) => ForChunks(rows, (long)rows * 1024, body);

    /// <summary>Splits [0, n) into contiguous chunks run in parallel when the work is big enough.</summary>
    private static void ForChunks(int n, long work, Action<int, int> body)
    {
        int chunks = work < 1 << 18 || Environment.ProcessorCount == 1 ? 1 : Math.Min(n, Environment.ProcessorCount * 4);
        if (chunks <= 1)
        {
            body(0, n);
            return;
        }
        Parallel.For(0, chunks, c => body((int)((long)n * c / chunks), (int)((long)n * (c + 1) / chunks)));
    }
}
