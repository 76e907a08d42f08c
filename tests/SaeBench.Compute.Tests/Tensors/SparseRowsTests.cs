using SaeBench.Compute.Kernels;
using SaeBench.Compute.Tensors;

namespace SaeBench.Compute.Tests.Tensors;

public class SparseRowsTests
{
    private static float[] Dense(SparseRows s, int rows)
    {
        var dense = new float[rows * s.Cols];
        for (int r = 0; r < rows; r++)
        {
            var index = s.RowIndices(r);
            var value = s.RowValues(r);
            for (int e = 0; e < index.Length; e++)
            {
                if (e > 0) Assert.True(index[e] > index[e - 1]);
                dense[r * s.Cols + index[e]] = value[e];
            }
        }
        return dense;
    }

    [Theory]
    [InlineData(5, 37)]
    [InlineData(300, 101)]
    [InlineData(1000, 64)]
    public void Compressing_keeps_exactly_the_non_zeros_in_column_order(int rows, int cols)
    {
        var rng = new Random(rows + cols);
        var m = new HostMatrix(rows, cols);
        for (int i = 0; i < m.Length; i++) m.Span[i] = rng.Next(20) == 0 ? (float)(rng.NextDouble() - 0.5) : 0f;
        var s = new SparseRows(rows, cols, capacity: rows * cols / 8);
        Assert.True(s.TryCompress(m));
        Assert.True(s.IsSet);
        Assert.Equal(rows, s.Rows);
        Assert.Equal(m.ToArray(), Dense(s, rows));
        Assert.Equal(m.ToArray().Count(v => v != 0), Enumerable.Range(0, rows).Sum(r => s.RowIndices(r).Length));
    }

    [Fact]
    public void A_code_denser_than_the_capacity_is_refused_and_left_unset()
    {
        var m = new HostMatrix(400, 64);
        m.Span.Fill(1f);
        var s = new SparseRows(400, 64, capacity: 400 * 2);
        Assert.False(s.TryCompress(m));
        Assert.False(s.IsSet);
        Assert.Equal(0, s.Rows);
    }

    [Fact]
    public void Row_top_k_hands_out_its_kept_entries_including_relu_zeros()
    {
        int rows = 300, cols = 400, k = 7;
        var m = Some.WithTies(rows * cols, 12, levels: 9);
        for (int r = 0; r < rows; r += 5)
        for (int j = 0; j < cols; j++) m[r * cols + j] -= 10f; // every entry of these rows is negative
        var reference = (float[])m.Clone();
        RowOps.KeepRowTopK(reference, rows, cols, k, relu: true);
        var kept = new SparseRows(rows, cols, rows * k);
        RowOps.KeepRowTopK(m, rows, cols, k, relu: true, kept: kept);
        Assert.Equal(reference, m);
        Assert.True(kept.IsSet);
        Assert.Equal(reference, Dense(kept, rows));
        for (int r = 0; r < rows; r++) Assert.Equal(k, kept.RowIndices(r).Length);
        Assert.Contains(kept.Value, v => v == 0f); // levels go negative: ReLU zeroed some kept entries, still stored
    }
}
