using SaeBench.Compute.Tensors;
using SaeBench.Evals.CoreEval;

namespace SaeBench.Evals.Tests.CoreEval;

public class ReconstructionAccumulatorTests
{
    private static HostMatrix M(int rows, int cols, params float[] v) => HostMatrix.Wrap(v, rows, cols);
    private static bool[] All(int n) => Enumerable.Repeat(true, n).ToArray();

    [Fact]
    public void Hand_computed_two_token_case()
    {
        // x = (1,0), (3,0); x̂ = (1,0), (2,0). μ = (2,0): Σ‖x−μ‖² = 2, SSE = 1.
        var acc = new ReconstructionAccumulator(2, 3, legacyBatchTokens: 2);
        acc.Observe(M(2, 2, 1, 0, 3, 0), M(2, 2, 1, 0, 2, 0), M(2, 3, 1, 0, 2, 0, 0, -1), All(2));
        var r = acc.Result();
        Assert.Equal(2, r.Tokens);
        Assert.Equal(0.5, r.ExplainedVariance!.Value, 12);
        Assert.Equal(0.5, r.ExplainedVarianceLegacy!.Value, 12); // tokens: 1 − 0/1 and 1 − 1/1
        Assert.Equal(0.25, r.Mse!.Value, 12);                     // mean(0, 1) / d
        Assert.Equal(1.0, r.CosSim!.Value, 12);
        Assert.Equal(2.0, r.L2NormIn!.Value, 12);
        Assert.Equal(1.5, r.L2NormOut!.Value, 12);
        Assert.Equal((1 + 2.0 / 3) / 2, r.L2Ratio!.Value, 12);
        Assert.Equal(5.0 / 7, r.RelativeReconstructionBias!.Value, 12);
        Assert.Equal(1.5, r.L0!.Value, 12);
        Assert.Equal(2.0, r.L1!.Value, 12);
        Assert.Equal([0.5, 0, 0.5], r.Densities);
        Assert.Equal(2.0 / 3, r.FracAlive!.Value, 12);
        Assert.Equal(1.0 / 3, r.FracDead!.Value, 12);
        Assert.Equal(2.0 / 3, r.FreqOver10Percent!.Value, 12);
        Assert.Equal(1.0, r.NormalizedFreqOver10Percent!.Value, 12);
    }

    [Fact]
    public void Legacy_formula_with_single_token_batches_is_undefined()
    {
        var acc = new ReconstructionAccumulator(2, 1, legacyBatchTokens: 1);
        acc.Observe(M(2, 2, 1, 0, 3, 0), M(2, 2, 1, 0, 2, 0), M(2, 1, 0, 0), All(2));
        Assert.Null(acc.Result().ExplainedVarianceLegacy);
    }

    [Fact]
    public void Oracle_reconstruction_explains_all_variance()
    {
        var x = HostMatrix.Wrap(Floats(50 * 6, 1, 5f), 50, 6);
        var acc = new ReconstructionAccumulator(6, 4);
        acc.Observe(x, x.Clone(), new HostMatrix(50, 4), All(50));
        var r = acc.Result();
        Assert.Equal(1.0, r.ExplainedVariance!.Value, 12);
        Assert.Equal(1.0, r.ExplainedVarianceLegacy!.Value, 12);
        Assert.Equal(0.0, r.Mse!.Value, 12);
        Assert.Equal(1.0, r.CosSim!.Value, 9);
        Assert.Equal(1.0, r.RelativeReconstructionBias!.Value, 9);
    }

    [Fact]
    public void All_zero_reconstruction_of_centred_data_explains_nothing()
    {
        var raw = Floats(40 * 5, 2, 3f);
        // centre each column exactly (in double, then cast: the mean is then 0 up to float rounding)
        for (int j = 0; j < 5; j++)
        {
            double mean = Enumerable.Range(0, 40).Average(t => (double)raw[t * 5 + j]);
            for (int t = 0; t < 40; t++) raw[t * 5 + j] -= (float)mean;
        }
        var acc = new ReconstructionAccumulator(5, 3);
        acc.Observe(HostMatrix.Wrap(raw, 40, 5), new HostMatrix(40, 5), new HostMatrix(40, 3), All(40));
        var r = acc.Result();
        Assert.Equal(0.0, r.ExplainedVariance!.Value, 5);
        Assert.Equal(0.0, r.CosSim!.Value, 12);
        Assert.Equal(0.0, r.L0!.Value);
        Assert.Equal(0.0, r.FracAlive!.Value);
    }

    [Fact]
    public void Metrics_do_not_depend_on_how_tokens_are_batched()
    {
        int n = 37, d = 4, f = 3;
        var x = Floats(n * d, 3, 2f).Select(v => v + 100f).ToArray(); // large offset: stresses the variance accumulator
        var h = Floats(n * d, 4, 2f).Select(v => v + 100f).ToArray();
        var z = Floats(n * f, 5);
        var one = new ReconstructionAccumulator(d, f, legacyBatchTokens: 8);
        one.Observe(HostMatrix.Wrap(x, n, d), HostMatrix.Wrap(h, n, d), HostMatrix.Wrap(z, n, f), All(n));
        var many = new ReconstructionAccumulator(d, f, legacyBatchTokens: 8);
        foreach (var (s, c) in new[] { (0, 5), (5, 1), (6, 20), (26, 11) })
            many.Observe(HostMatrix.Wrap(x[(s * d)..((s + c) * d)], c, d), HostMatrix.Wrap(h[(s * d)..((s + c) * d)], c, d),
                HostMatrix.Wrap(z[(s * f)..((s + c) * f)], c, f), All(c));
        var a = one.Result();
        var b = many.Result();
        Assert.Equal(a.ExplainedVariance!.Value, b.ExplainedVariance!.Value, 9);
        Assert.Equal(a.ExplainedVarianceLegacy!.Value, b.ExplainedVarianceLegacy!.Value, 9);
        Assert.Equal(a.Mse!.Value, b.Mse!.Value, 12);

        // and against a direct two-pass reference in double
        double[] mu = new double[d];
        for (int t = 0; t < n; t++) for (int j = 0; j < d; j++) mu[j] += x[t * d + j] / (double)n;
        double sst = 0, sse = 0;
        for (int t = 0; t < n; t++)
        for (int j = 0; j < d; j++)
        {
            sst += Math.Pow(x[t * d + j] - mu[j], 2);
            sse += Math.Pow((double)x[t * d + j] - h[t * d + j], 2);
        }
        Assert.Equal(1 - sse / sst, b.ExplainedVariance!.Value, 9);
        Assert.Equal(sse / n / d, b.Mse!.Value, 9);
    }

    [Fact]
    public void Stored_entries_give_the_same_metrics_as_sweeping_the_code()
    {
        int rows = 700, d = 16, f = 300;
        var rng = new Random(5);
        var x = new HostMatrix(rows, d);
        var xHat = new HostMatrix(rows, d);
        var code = new HostMatrix(rows, f);
        for (int i = 0; i < x.Length; i++) { x.Span[i] = (float)rng.NextDouble(); xHat.Span[i] = x.Span[i] + (float)(0.1 * rng.NextDouble()); }
        for (int i = 0; i < code.Length; i++) code.Span[i] = rng.Next(50) == 0 ? (float)(rng.NextDouble() - 0.3) : 0f;
        var valid = All(rows);
        valid[3] = false;
        var nonzeros = new SparseRows(rows, f, rows * f / 10);
        Assert.True(nonzeros.TryCompress(code));
        var swept = new ReconstructionAccumulator(d, f, legacyBatchTokens: 64);
        var stored = new ReconstructionAccumulator(d, f, legacyBatchTokens: 64);
        swept.Observe(x, xHat, code, valid);
        stored.Observe(x, xHat, code, valid, nonzeros);
        var a = swept.Result();
        var b = stored.Result();
        Assert.Equal(a with { Densities = [] }, b with { Densities = [] });
        Assert.Equal(a.Densities, b.Densities);
        Assert.True(a.L0 > 0);
    }

    [Fact]
    public void Masked_rows_are_ignored()
    {
        var acc = new ReconstructionAccumulator(2, 3, legacyBatchTokens: 2);
        acc.Observe(M(3, 2, 1, 0, 99, 99, 3, 0), M(3, 2, 1, 0, 0, 0, 2, 0), M(3, 3, 1, 0, 2, 5, 5, 5, 0, 0, -1), [true, false, true]);
        var r = acc.Result();
        Assert.Equal(2, r.Tokens);
        Assert.Equal(0.5, r.ExplainedVariance!.Value, 12);
        Assert.Equal(1.5, r.L0!.Value, 12);
    }

    [Fact]
    public void No_tokens_gives_undefined_metrics()
    {
        var r = new ReconstructionAccumulator(2, 2).Result();
        Assert.Null(r.ExplainedVariance);
        Assert.Null(r.Mse);
        Assert.Null(r.L0);
    }

    internal static float[] Floats(int n, int seed, float scale = 1f)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 2 - 1) * scale).ToArray();
    }
}
