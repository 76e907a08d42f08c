using SaeBench.Compute.Kernels;

namespace SaeBench.Compute.Tests.Kernels;

public class SelectionTests
{
    /// <summary>Reference: full stable sort by value descending (lower index first among equals), then indices ascending.</summary>
    private static int[] Reference(ReadOnlySpan<float> v, int k)
    {
        var arr = v.ToArray();
        return Enumerable.Range(0, arr.Length)
            .OrderByDescending(i => arr[i]).ThenBy(i => i)
            .Take(k).OrderBy(i => i).ToArray();
    }

    public static IEnumerable<object[]> Sizes()
    {
        foreach (var n in new[] { 1, 2, 7, 8, 9, 64, 100, 1000, 4099 })
        foreach (var k in new[] { 0, 1, 3, 8, n / 2, n - 1, n }.Where(k => k >= 0 && k <= n).Distinct())
        foreach (var ties in new[] { false, true })
            yield return [n, k, ties];
    }

    [Theory]
    [MemberData(nameof(Sizes))]
    public void TopK_matches_sort_reference(int n, int k, bool ties)
    {
        var v = ties ? Some.WithTies(n, n * 31 + k) : Some.Floats(n, n * 31 + k);
        var idx = new int[k];
        var val = new float[k];
        Selection.TopK(v, k, idx, val);
        Assert.Equal(Reference(v, k), idx);
        for (int i = 0; i < k; i++) Assert.Equal(v[idx[i]], val[i]);
    }

    /// <summary>Rows long enough for the filter-then-select path, in shapes that stress its bound and its fallbacks.</summary>
    public static IEnumerable<object[]> LongRows()
    {
        foreach (var n in new[] { 1024, 1031, 4096, 16384 })
        foreach (var k in new[] { 1, 2, 7, 64, n / 16 }.Distinct())
        foreach (var kind in new[] { "uniform", "gaussian", "ties", "few-levels-near-top", "ascending", "descending", "all-equal", "nan", "infinities", "signed-zeros", "outliers", "negative" })
            yield return [n, k, kind];
    }

    private static float[] Row(int n, string kind, int seed)
    {
        var rng = new Random(seed);
        float Gaussian() => (float)(Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble()));
        var a = new float[n];
        for (int i = 0; i < n; i++)
        {
            a[i] = kind switch
            {
                "gaussian" or "nan" or "infinities" or "outliers" => Gaussian(),
                "ties" => rng.Next(5) - 2,
                "few-levels-near-top" => rng.Next(1000) < 990 ? (float)rng.NextDouble() : 2f + rng.Next(3),
                "ascending" => i,
                "descending" => n - i,
                "all-equal" => 0.5f,
                "signed-zeros" => rng.Next(3) switch { 0 => 0f, 1 => -0f, _ => -(float)rng.NextDouble() },
                "negative" => -1f - (float)rng.NextDouble(),
                _ => (float)(rng.NextDouble() * 2 - 1),
            };
        }
        if (kind == "nan") for (int i = 0; i < n; i += 97) a[i] = float.NaN;
        if (kind == "infinities")
        {
            a[n / 3] = float.PositiveInfinity;
            a[n / 2] = float.NegativeInfinity;
            a[n - 1] = float.PositiveInfinity;
        }
        if (kind == "outliers") for (int i = 5; i < n; i += n / 7) a[i] = 1e30f;
        return a;
    }

    [Theory]
    [MemberData(nameof(LongRows))]
    public void Long_row_top_k_matches_sort_reference(int n, int k, string kind)
    {
        var v = Row(n, kind, n * 7 + k);
        var idx = new int[k];
        var val = new float[k];
        Selection.TopK(v, k, idx, val);
        Assert.Equal(Reference(v, k), idx);
        for (int i = 0; i < k; i++) Assert.Equal(v[idx[i]], val[i]);
    }

    [Fact]
    public void Ties_prefer_the_lower_index()
    {
        float[] v = [1, 5, 5, 5, 2, 5];
        var idx = new int[2];
        Selection.TopK(v, 2, idx, new float[2]);
        Assert.Equal([1, 2], idx);
    }

    [Fact]
    public void All_equal_values_select_the_first_k()
    {
        var v = new float[1000];
        var idx = new int[10];
        Selection.TopK(v, 10, idx, new float[10]);
        Assert.Equal(Enumerable.Range(0, 10), idx);
    }

    [Fact]
    public void K_larger_than_n_is_rejected()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Selection.TopK(new float[3], 4, new int[4], new float[4]));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Row_top_k_matches_reference_per_row(bool ties)
    {
        int rows = 13, cols = 300, k = 17;
        var m = ties ? Some.WithTies(rows * cols, 5) : Some.Floats(rows * cols, 5);
        var idx = new int[rows * k];
        var val = new float[rows * k];
        Selection.RowTopK(m, rows, cols, k, idx, val);
        for (int r = 0; r < rows; r++)
            Assert.Equal(Reference(m.AsSpan(r * cols, cols), k), idx.AsSpan(r * k, k).ToArray());
    }

    [Theory]
    [InlineData(false, 3)]
    [InlineData(true, 3)]
    [InlineData(true, 0)]
    [InlineData(false, 50)]
    public void Column_top_m_matches_reference_per_column(bool ties, int m)
    {
        int rows = 50, cols = 37;
        var x = ties ? Some.WithTies(rows * cols, 6) : Some.Floats(rows * cols, 6);
        var idx = new int[cols * m];
        var val = new float[cols * m];
        Selection.ColumnTopM(x, rows, cols, m, idx, val);
        for (int c = 0; c < cols; c++)
        {
            var column = Enumerable.Range(0, rows).Select(r => x[r * cols + c]).ToArray();
            Assert.Equal(Reference(column, m), idx.AsSpan(c * m, m).ToArray());
        }
    }

    [Theory]
    [InlineData(false, 0)]
    [InlineData(false, 77)]
    [InlineData(true, 77)]
    [InlineData(true, 600)]
    public void Global_top_k_matches_reference(bool ties, int k)
    {
        var x = ties ? Some.WithTies(600, 7) : Some.Floats(600, 7);
        Assert.Equal(Reference(x, k), Selection.GlobalTopK(x, k));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(10)]
    [InlineData(333)]
    [InlineData(1000)]
    public void Kth_largest_matches_sorted_reference(int k)
    {
        var x = Some.WithTies(1000, 8, levels: 40);
        var sorted = x.OrderByDescending(v => v).ToArray();
        Assert.Equal(sorted[k - 1], Selection.KthLargest(x, k));
    }
}
