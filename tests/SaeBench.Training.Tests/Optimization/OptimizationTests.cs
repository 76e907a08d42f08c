using SaeBench.Compute.Tensors;
using SaeBench.Training.Optimization;

namespace SaeBench.Training.Tests.Optimization;

public sealed class OptimizationTests
{
    [Fact]
    public void Adam_matches_a_hand_computed_first_and_second_step()
    {
        var p = new ParameterSet(2, 1);
        p.Add(ParameterSet.BDec);
        p.Vector(ParameterSet.BDec)[0] = 1f;
        p.Vector(ParameterSet.BDec)[1] = -2f;
        var g = p.ZerosLike();
        var adam = new Adam(p);
        g.Vector(ParameterSet.BDec)[0] = 0.5f;
        g.Vector(ParameterSet.BDec)[1] = -4f;
        adam.Step(p, g, lr: 0.1);
        // Step 1: m̂ = g, v̂ = g², update = lr·g/(|g| + ε) = ±0.1.
        Assert.Equal(0.9f, p.Vector(ParameterSet.BDec)[0], 5);
        Assert.Equal(-1.9f, p.Vector(ParameterSet.BDec)[1], 5);
        g.Vector(ParameterSet.BDec)[0] = 1.5f;
        adam.Step(p, g, lr: 0.1);
        // Step 2 for element 0: m = 0.9·0.05 + 0.1·1.5 = 0.195, v = 0.999·0.00025 + 0.001·2.25 = 0.00249975;
        // m̂ = 0.195/0.19 = 1.0263158, v̂ = 0.00249975/0.001999 = 1.2504952; update = 0.1·1.0263158/1.1182554.
        Assert.Equal(0.9 - 0.1 * 1.0263158 / Math.Sqrt(1.2504952), p.Vector(ParameterSet.BDec)[0], 5);
    }

    /// <summary>The vectorised, chunked-in-parallel Adam gives exactly the scalar formula's bits (the resume tests and
    /// run-to-run determinism depend on it), on a tensor longer than a chunk and not a multiple of eight.</summary>
    [Fact]
    public void Adam_vector_update_is_bit_identical_to_the_scalar_formula()
    {
        const int dIn = 3, dSae = 70_001;
        var p = new ParameterSet(dIn, dSae);
        p.Add(ParameterSet.WDec);
        var rng = new Random(1);
        foreach (ref var v in p[ParameterSet.WDec].Span) v = (float)rng.NextDouble();
        var w = p[ParameterSet.WDec].Span.ToArray();
        var m = new float[w.Length];
        var vv = new float[w.Length];
        var adam = new Adam(p);
        var g = p.ZerosLike();
        for (int step = 1; step <= 3; step++)
        {
            foreach (ref var x in g[ParameterSet.WDec].Span) x = (float)(rng.NextDouble() - 0.5);
            var gs = g[ParameterSet.WDec].Span;
            adam.Step(p, g, lr: 1e-3);
            float b1 = 0.9f, b2 = 0.999f, eps = 1e-8f;
            float stepSize = (float)(1e-3 / (1 - Math.Pow(0.9, step))), invC2 = (float)(1 / (1 - Math.Pow(0.999, step)));
            for (int i = 0; i < w.Length; i++)
            {
                float gi = gs[i];
                float mi = b1 * m[i] + (1 - b1) * gi;
                float vi = b2 * vv[i] + (1 - b2) * gi * gi;
                m[i] = mi;
                vv[i] = vi;
                w[i] -= stepSize * mi / (MathF.Sqrt(vi * invC2) + eps);
            }
            Assert.True(w.AsSpan().SequenceEqual(p[ParameterSet.WDec].Span), $"step {step}: weights differ from the scalar update");
        }
    }

    [Fact]
    public void Schedule_warms_up_holds_and_decays_over_the_last_fifth()
    {
        var s = new LearningRateSchedule(1.0, TotalSteps: 100, WarmupSteps: 10);
        Assert.Equal(0.1, s.At(0), 12);
        Assert.Equal(1.0, s.At(9), 12);
        Assert.Equal(1.0, s.At(50), 12);
        Assert.Equal(1.0, s.At(79), 12);
        Assert.True(s.At(80) < 1.0);
        Assert.Equal(1.0 / 21, s.At(99), 12);
        for (int t = 81; t < 100; t++) Assert.True(s.At(t) < s.At(t - 1));
        Assert.Equal(0, s.At(100));
    }

    [Fact]
    public void Geometric_median_of_a_cross_with_an_outlier_is_where_the_unit_vectors_balance()
    {
        // A cross around (1, 2) plus a far outlier at (100, 2). On y = 2 at x = 1 + t (0 < t < 1) the unit vectors
        // towards the points sum in x to 1 − 1 + 1 − 2t/√(1 + t²), zero at t = 1/√3, whatever the outlier's distance
        // (the mean would be at x = 20.8).
        var pts = HostMatrix.Wrap([0, 2, 2, 2, 1, 1, 1, 3, 100, 2], 5, 2);
        var m = GeometricMedian.Compute(pts, maxIterations: 500, tolerance: 1e-12);
        Assert.Equal(1 + 1 / Math.Sqrt(3), m[0], 4);
        Assert.Equal(2.0, m[1], 3);
        // It is a minimiser: moving it in any direction increases the sum of distances.
        double at = GeometricMedian.SumOfDistances(pts, m);
        foreach (var (dx, dy) in new[] { (0.01, 0.0), (-0.01, 0.0), (0.0, 0.01), (0.0, -0.01) })
            Assert.True(GeometricMedian.SumOfDistances(pts, new[] { m[0] + dx, m[1] + dy }) > at);
    }

    [Fact]
    public void Geometric_median_of_collinear_points_is_the_middle_point()
    {
        var pts = HostMatrix.Wrap([0, 0, 1, 1, 5, 5], 3, 2);
        var m = GeometricMedian.Compute(pts, maxIterations: 1000, tolerance: 1e-12);
        Assert.Equal(1.0, m[0], 3);
        Assert.Equal(1.0, m[1], 3);
    }

    [Fact]
    public void Decoder_constraint_removes_the_radial_gradient_and_renormalises()
    {
        var dec = HostMatrix.Wrap([3, 4, 0, 2], 2, 2);
        var grad = HostMatrix.Wrap([1, 1, 5, -1], 2, 2);
        DecoderNorm.RemoveParallelComponent(dec, grad);
        // Row 0: d = (3,4), g·d/|d|² = 7/25 → g = (1 − 0.84, 1 − 1.12) = (0.16, −0.12), orthogonal to d.
        Assert.Equal(0.16f, grad[0, 0], 5);
        Assert.Equal(-0.12f, grad[0, 1], 5);
        Assert.Equal(5f, grad[1, 0], 5);
        Assert.Equal(0f, grad[1, 1], 5);
        DecoderNorm.Normalize(dec);
        Assert.Equal(0.6f, dec[0, 0], 6);
        Assert.Equal(0.8f, dec[0, 1], 6);
        Assert.Equal(1f, dec[1, 1], 6);
    }

    [Fact]
    public void SplitMix64_matches_the_reference_sequence()
    {
        // Reference values of SplitMix64 seeded with 0 (Vigna's splitmix64.c).
        var g = new SplitMix64(0);
        Assert.Equal(0xE220A8397B1DCDAFUL, g.Next());
        Assert.Equal(0x6E789E6AA1B965F4UL, g.Next());
        Assert.Equal(0x06C45D188009454FUL, g.Next());
    }
}
