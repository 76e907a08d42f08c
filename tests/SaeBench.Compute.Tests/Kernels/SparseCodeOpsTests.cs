using SaeBench.Compute.Kernels;
using SaeBench.Compute.Tensors;

namespace SaeBench.Compute.Tests.Kernels;

/// <summary>The sparse-code products against naive dense loops in double, with and without a column range, on a
/// code big enough to run in parallel.</summary>
public sealed class SparseCodeOpsTests
{
    private const int Rows = 300, Latents = 700, D = 40;

    private static (HostMatrix Dense, SparseRows Sparse) Code(ulong seed)
    {
        var rng = new Random((int)seed);
        var dense = new HostMatrix(Rows, Latents);
        for (int r = 0; r < Rows; r++)
            for (int j = 0; j < Latents; j++)
                if (rng.NextDouble() < 0.03) dense[r, j] = (float)(rng.NextDouble() * 2 - 0.5);
        var sparse = new SparseRows(Rows, Latents, Rows * Latents);
        Assert.True(sparse.TryCompress(dense));
        return (dense, sparse);
    }

    private static void Near(double expected, double actual) =>
        Assert.True(Math.Abs(expected - actual) <= 1e-5 * (1 + Math.Abs(expected)), $"expected {expected}, got {actual}");

    private static HostMatrix Random(int rows, int cols, int seed)
    {
        var rng = new Random(seed);
        var m = new HostMatrix(rows, cols);
        foreach (ref var v in m.Span) v = (float)(rng.NextDouble() * 2 - 1);
        return m;
    }

    [Theory]
    [InlineData(0, int.MaxValue)]
    [InlineData(100, 450)]
    public void Decode_dots_and_transposed_products_match_dense_loops(int c0, int c1)
    {
        var (f, codes) = Code(3);
        var w = Random(Latents, D, 4);
        var a = Random(Rows, D, 5);
        bool In(int j) => j >= c0 && j < c1;

        var decoded = Random(Rows, D, 6);
        var expectDecoded = decoded.Clone();
        SparseCodeOps.AddDecode(codes, null, w, decoded, c0, c1);
        for (int r = 0; r < Rows; r++)
            for (int c = 0; c < D; c++)
            {
                double s = expectDecoded[r, c];
                for (int j = 0; j < Latents; j++) if (In(j)) s += f[r, j] * (double)w[j, c];
                Near(s, decoded[r, c]);
            }

        var dots = new float[codes.Capacity];
        SparseCodeOps.SampledDots(codes, a, w, dots, c0, c1);
        for (int r = 0; r < Rows; r++)
            for (int e = codes.Start[r]; e < codes.End[r]; e++)
            {
                int j = codes.Index[e];
                double s = 0;
                for (int c = 0; c < D; c++) s += a[r, c] * (double)w[j, c];
                Near(In(j) ? s : 0, dots[e]);
            }

        var product = Random(Latents, D, 7);
        var expectProduct = product.Clone();
        var transposed = Random(D, Latents, 8);
        var expectTransposed = transposed.Clone();
        var sums = new double[Latents];
        SparseCodeOps.AddTransposedProduct(codes, null, a, product, colStart: c0, colEnd: c1);
        SparseCodeOps.AddTransposedProduct(codes, null, a, transposed, transposedDestination: true, columnSums: sums, colStart: c0, colEnd: c1);
        for (int j = 0; j < Latents; j++)
        {
            double colSum = 0;
            for (int r = 0; r < Rows; r++) if (In(j)) colSum += f[r, j];
            Near(colSum, sums[j]);
            for (int c = 0; c < D; c++)
            {
                double s = 0;
                for (int r = 0; r < Rows; r++) if (In(j)) s += f[r, j] * (double)a[r, c];
                Near(expectProduct[j, c] + s, product[j, c]);
                Near(expectTransposed[c, j] + s, transposed[c, j]);
            }
        }
    }

    [Fact]
    public void Separate_values_replace_the_stored_ones()
    {
        var (f, codes) = Code(9);
        var w = Random(Latents, D, 10);
        var doubled = (float[])codes.Value.Clone();
        for (int i = 0; i < doubled.Length; i++) doubled[i] *= 2;
        var once = new HostMatrix(Rows, D);
        var twice = new HostMatrix(Rows, D);
        SparseCodeOps.AddDecode(codes, null, w, once);
        SparseCodeOps.AddDecode(codes, doubled, w, twice);
        for (int i = 0; i < once.Length; i++) Near(2 * once.Span[i], twice.Span[i]);
    }
}
