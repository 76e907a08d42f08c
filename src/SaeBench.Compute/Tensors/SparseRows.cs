using System.Runtime.Intrinsics;

namespace SaeBench.Compute.Tensors;

/// <summary>
/// The stored entries of a rows × cols matrix whose other entries are zero (a batch of SAE codes), per row: for row
/// r, <see cref="Index"/> and <see cref="Value"/> over [<see cref="Start"/>[r], <see cref="End"/>[r]), in ascending
/// column order. A stored value may itself be 0 (e.g. a top-k entry that ReLU zeroed); readers skip it. Buffers are
/// sized once for the largest batch (capacity = rows × the most entries a row may need), so memory stays bounded by
/// the batch. Host memory; filled either by a kernel that knows the entries (row top-k) or by <see cref="TryCompress"/>.
/// </summary>
public sealed class SparseRows
{
    public SparseRows(int maxRows, int cols, int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxRows);
        ArgumentOutOfRangeException.ThrowIfNegative(cols);
        ArgumentOutOfRangeException.ThrowIfNegative(capacity);
        Cols = cols;
        Start = new int[maxRows];
        End = new int[maxRows];
        Index = new int[capacity];
        Value = new float[capacity];
    }

    public int Cols { get; }

    /// <summary>Rows currently described; 0 until filled, and after <see cref="Reset"/>.</summary>
    public int Rows { get; private set; }

    /// <summary>True when the entries describe the current batch (a producer filled them since the last reset).</summary>
    public bool IsSet { get; private set; }

    public int MaxRows => Start.Length;
    public int Capacity => Index.Length;
    public int[] Start { get; }
    public int[] End { get; }
    public int[] Index { get; }
    public float[] Value { get; }

    public ReadOnlySpan<int> RowIndices(int r) => Index.AsSpan(Start[r], End[r] - Start[r]);
    public ReadOnlySpan<float> RowValues(int r) => Value.AsSpan(Start[r], End[r] - Start[r]);

    /// <summary>Marks the entries stale (producers call it before filling, consumers then fall back to the dense code).</summary>
    public void Reset()
    {
        IsSet = false;
        Rows = 0;
    }

    /// <summary>Lays out <paramref name="rows"/> rows of exactly <paramref name="perRow"/> slots each (row r at r·perRow) for a producer to fill.</summary>
    public void UseFixedRows(int rows, int perRow)
    {
        if (rows > MaxRows || (long)rows * perRow > Capacity)
            throw new ArgumentException($"{rows} rows × {perRow} entries do not fit {MaxRows} rows / {Capacity} entries.");
        for (int r = 0; r < rows; r++)
        {
            Start[r] = r * perRow;
            End[r] = r * perRow + perRow;
        }
        Rows = rows;
        IsSet = true;
    }

    /// <summary>Stored entries whose value is not 0 (a top-k row may store zeros that ReLU made).</summary>
    public long CountNonZero()
    {
        long n = 0;
        for (int r = 0; r < Rows; r++)
            foreach (var v in RowValues(r))
                if (v != 0f) n++;
        return n;
    }

    /// <summary>
    /// Stores the non-zeros of <paramref name="dense"/> (one sweep, rows in parallel chunks, runs of eight zeros skipped
    /// at once). Returns false — and leaves the entries unset — when there are more than <paramref name="maxEntries"/>
    /// (default: the capacity), i.e. when the code is not sparse enough to be worth it; each chunk of rows gets its
    /// proportional share, so a very uneven code may be refused slightly below the limit.
    /// </summary>
    public bool TryCompress(HostMatrix dense, long maxEntries = long.MaxValue)
    {
        Reset();
        if (dense.Cols != Cols) throw new ArgumentException($"Matrix has {dense.Cols} columns, expected {Cols}.");
        int rows = dense.Rows;
        if (rows > MaxRows) throw new ArgumentException($"Matrix has {rows} rows, at most {MaxRows} fit.");
        int chunks = rows >= 256 && Environment.ProcessorCount > 1 ? Math.Min(rows / 64, Environment.ProcessorCount * 4) : 1;
        bool ok = true;
        long room = Math.Min(Capacity, maxEntries);
        void Chunk(int c)
        {
            int r0 = (int)((long)rows * c / chunks), r1 = (int)((long)rows * (c + 1) / chunks);
            int o = (int)(room * r0 / Math.Max(1, rows)), limit = (int)(room * r1 / Math.Max(1, rows));
            for (int r = r0; r < r1; r++)
            {
                Start[r] = o;
                var row = dense.Row(r);
                for (int j = 0; j < row.Length; j++)
                {
                    if ((j & 7) == 0 && j + 8 <= row.Length && Vector256.EqualsAll(Vector256.Create<float>(row.Slice(j, 8)), Vector256<float>.Zero))
                    {
                        j += 7;
                        continue;
                    }
                    float v = row[j];
                    if (v == 0f) continue;
                    if (o == limit)
                    {
                        ok = false;
                        return;
                    }
                    Index[o] = j;
                    Value[o++] = v;
                }
                End[r] = o;
            }
        }
        if (chunks == 1) Chunk(0);
        else Parallel.For(0, chunks, Chunk);
        if (!ok) return false;
        Rows = rows;
        IsSet = true;
        return true;
    }
}
