using SaeBench.Compute.Backends;
using SaeBench.Compute.Tensors;
using SaeBench.Core.Checkpoints;
using SaeBench.Core.Autoencoders;
using SaeBench.Training.Baselines;
using SaeBench.Training.Data;

namespace SaeBench.Training.Tests.Baselines;

public sealed class SymmetricEigenTests
{
    [Fact]
    public void Two_by_two_matches_the_hand_computed_decomposition()
    {
        // [[2, 1], [1, 2]]: eigenvalues 3 and 1, eigenvectors (1, 1)/√2 and (1, −1)/√2 (sign: largest entry positive).
        var (values, vectors) = SymmetricEigen.Decompose(new double[,] { { 2, 1 }, { 1, 2 } });
        Assert.Equal(3, values[0], 12);
        Assert.Equal(1, values[1], 12);
        double h = Math.Sqrt(0.5);
        Assert.Equal(h, vectors[0, 0], 12);
        Assert.Equal(h, vectors[0, 1], 12);
        Assert.Equal(h, Math.Abs(vectors[1, 0]), 12);
        Assert.Equal(-vectors[1, 0], vectors[1, 1], 12);
    }

    [Fact]
    public void Three_by_three_with_a_known_spectrum()
    {
        // [[4, 1, 0], [1, 4, 0], [0, 0, 7]]: 7 on e₃, 5 on (1, 1, 0)/√2, 3 on (1, −1, 0)/√2.
        var (values, vectors) = SymmetricEigen.Decompose(new double[,] { { 4, 1, 0 }, { 1, 4, 0 }, { 0, 0, 7 } });
        Assert.Equal([7, 5, 3], values.Select(v => Math.Round(v, 10)));
        Assert.Equal(1, vectors[0, 2], 12);
        Assert.Equal(Math.Sqrt(0.5), vectors[1, 0], 12);
        Assert.Equal(Math.Sqrt(0.5), vectors[1, 1], 12);
        Assert.Equal(0, vectors[2, 2], 12);
    }

    [Fact]
    public void Random_symmetric_matrix_orthonormal_vectors_and_reconstruction()
    {
        const int n = 9;
        var rng = new Training.Optimization.SplitMix64(5);
        var a = new double[n, n];
        for (int i = 0; i < n; i++)
        for (int j = 0; j <= i; j++) a[i, j] = a[j, i] = rng.NextGaussian();
        var (values, v) = SymmetricEigen.Decompose(a);
        for (int i = 1; i < n; i++) Assert.True(values[i - 1] >= values[i]);
        for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
        {
            double dot = 0, rebuilt = 0;
            for (int k = 0; k < n; k++) dot += v[i, k] * v[j, k];
            for (int k = 0; k < n; k++) rebuilt += v[k, i] * values[k] * v[k, j];
            Assert.Equal(i == j ? 1 : 0, dot, 10);
            Assert.Equal(a[i, j], rebuilt, 10);
        }
        // Trace is preserved.
        double trace = 0;
        for (int i = 0; i < n; i++) trace += a[i, i];
        Assert.Equal(trace, values.Sum(), 10);
    }

    [Fact]
    public void Rejects_non_symmetric_input() =>
        Assert.Throws<ArgumentException>(() => SymmetricEigen.Decompose(new double[,] { { 1, 2 }, { 0, 1 } }));
}

public sealed class PcaBaselineTests
{
    private static readonly ComputeBackend Backend = CpuBackend.Create(new CpuBackendOptions(GemmChoice.Managed));

    /// <summary>Rows mean + a·u + b·w with u, w orthogonal unit directions and var(a) ≫ var(b): the components are ±u, ±w.</summary>
    private static HostMatrix Planar(int rows)
    {
        var x = new HostMatrix(rows, 3);
        var rng = new Training.Optimization.SplitMix64(11);
        double s = Math.Sqrt(0.5);
        for (int r = 0; r < rows; r++)
        {
            double a = 3 * rng.NextGaussian(), b = 0.5 * rng.NextGaussian();
            x[r, 0] = (float)(1 + a * s + b * s);
            x[r, 1] = (float)(-2 + a * s - b * s);
            x[r, 2] = 5f;
        }
        return x;
    }

    [Fact]
    public void Components_are_the_principal_directions_and_the_mean_is_the_data_mean()
    {
        var x = Planar(4000);
        var sae = BaselineSaes.FitPca(new InMemoryActivationSource(x), Backend, components: 2);
        Assert.Equal(SaeArchitectures.Pca, sae.Architecture);
        var c = sae.Parameters.WDec;
        double s = Math.Sqrt(0.5);
        // Finite-sample correlation of a and b tilts the directions by ~cov(a,b)/(var a − var b) ≈ 0.003 rad.
        const double tol = 0.01;
        Assert.Equal(s, Math.Abs(c[0, 0]), tol);
        Assert.Equal(c[0, 0], c[0, 1], tol);
        Assert.Equal(0, c[0, 2], 1e-5);
        Assert.Equal(s, Math.Abs(c[1, 0]), tol);
        Assert.Equal(-c[1, 0], c[1, 1], tol);
        double m0 = 0;
        for (int r = 0; r < x.Rows; r++) m0 += x[r, 0];
        Assert.Equal(m0 / x.Rows, sae.Parameters.BDec[0], 4);
        Assert.Equal(5f, sae.Parameters.BDec[2], 4);
    }

    [Fact]
    public void Full_rank_pca_reconstructs_exactly_and_fewer_components_keep_the_top_variance()
    {
        var x = Planar(2000);
        var full = BaselineSaes.Create(BaselineSaes.Pca, new InMemoryActivationSource(x), Backend);
        Assert.Equal(3, full.DSae);
        var code = new HostMatrix(x.Rows, 3);
        var xHat = new HostMatrix(x.Rows, 3);
        full.Encode(Backend, x, code);
        full.DecodeDense(Backend, code, xHat);
        for (int i = 0; i < x.Span.Length; i++) Assert.Equal(x.Span[i], xHat.Span[i], 3);

        // One component: the residual is the b-direction only, variance 0.25 of the total 9.25 per row.
        var held = HeldOutStatistics.Measure(BaselineSaes.FitPca(new InMemoryActivationSource(x), Backend, 1), new InMemoryActivationSource(x), Backend);
        Assert.InRange(held.ExplainedVariance, 9.0 / 9.25 - 0.01, 9.0 / 9.25 + 0.01);
    }

    [Fact]
    public void Baselines_round_trip_through_the_native_writer_and_loader()
    {
        string dir = Directory.CreateTempSubdirectory("saebench-baseline-").FullName;
        try
        {
            var x = Planar(500);
            foreach (var kind in BaselineSaes.Kinds)
            {
                var sae = BaselineSaes.Create(kind, new InMemoryActivationSource(x), Backend);
                string path = Path.Combine(dir, kind);
                NativeCheckpointWriter.Write(path, sae);
                var loaded = CheckpointLoader.Load(path).Sae;
                Assert.Equal(sae.Architecture, loaded.Architecture);
                var a = new HostMatrix(x.Rows, sae.DSae);
                var b = new HostMatrix(x.Rows, sae.DSae);
                sae.Encode(Backend, x, a);
                loaded.Encode(Backend, x, b);
                Assert.Equal(a.Span.ToArray(), b.Span.ToArray());
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Component_count_outside_one_to_d_model_is_rejected() =>
        Assert.Throws<ArgumentException>(() => BaselineSaes.FitPca(new InMemoryActivationSource(Planar(10)), Backend, 4));
}
