using SaeBench.Evals.Shared;
using SaeBench.Compute.Backends;
using SaeBench.Compute.Tensors;
using SaeBench.Evals.CoreEval;

namespace SaeBench.Evals.Tests.Shared;

public class LatentGeometryTests
{
    [Fact]
    public void Blocked_max_cosine_matches_brute_force_including_duplicates_and_zero_rows()
    {
        int n = 23, d = 5;
        var v = CoreEval.ReconstructionAccumulatorTests.Floats(n * d, 7);
        for (int j = 0; j < d; j++) { v[3 * d + j] = 2 * v[10 * d + j]; v[7 * d + j] = 0; } // row 3 ∥ row 10; row 7 zero
        var m = HostMatrix.Wrap(v, n, d);
        var got = LatentGeometry.MaxCosineToOthers(CpuBackend.Create(), m, blockRows: 4);

        for (int i = 0; i < n; i++)
        {
            double best = double.NegativeInfinity;
            for (int k = 0; k < n; k++)
            {
                if (k == i) continue;
                double dot = 0, ni = 0, nk = 0;
                for (int j = 0; j < d; j++) { dot += v[i * d + j] * v[k * d + j]; ni += v[i * d + j] * v[i * d + j]; nk += v[k * d + j] * v[k * d + j]; }
                double c = ni == 0 || nk == 0 ? 0 : dot / Math.Sqrt(ni * nk);
                best = Math.Max(best, c);
            }
            Assert.Equal(best, got[i], 5);
        }
        Assert.Equal(1.0, got[3], 5);
        Assert.Equal(1.0, got[10], 5);
    }

    [Fact]
    public void Row_cosines_and_norms_by_hand()
    {
        var a = HostMatrix.Wrap([3f, 4, 1, 0, 0, 0], 3, 2);
        var b = HostMatrix.Wrap([3f, 4, 0, 1, 1, 1], 3, 2);
        Assert.Equal([5.0, 1, 0], LatentGeometry.RowNorms(a));
        Assert.Equal([1.0, 0, 0], LatentGeometry.RowCosines(a, b));
    }
}
