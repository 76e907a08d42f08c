using SaeBench.Compute.Tensors;
using SaeBench.Evals.Mdl;

namespace SaeBench.Evals.Tests.Mdl;

public class MdlMathTests
{
    private static double Hb(double p) => -(p * Math.Log2(p) + (1 - p) * Math.Log2(1 - p));

    [Fact]
    public void EntropiesByHand()
    {
        Assert.Equal(1.0, MdlMath.BinaryEntropy(0.5), 12);
        Assert.Equal(0.0, MdlMath.BinaryEntropy(0));
        Assert.Equal(0.0, MdlMath.BinaryEntropy(1));
        Assert.Equal(0.25 * 2 + 0.75 * Math.Log2(4.0 / 3), MdlMath.BinaryEntropy(0.25), 12);
        Assert.Equal(1.5, MdlMath.HistogramEntropy([1, 1, 2, 0]), 12);
        Assert.Equal(0.0, MdlMath.HistogramEntropy([0, 7, 0]));
        Assert.Equal(0.0, MdlMath.HistogramEntropy([0, 0]));
    }

    [Fact]
    public void QuantisationUsesUniformBinsWithMidpoints()
    {
        // [0, 1] in 4 bins: midpoints 0.125, 0.375, 0.625, 0.875; the max falls in the last bin.
        Assert.Equal(0.125f, MdlMath.QuantiseCode(0.01f, 1f, 4));
        Assert.Equal(0.375f, MdlMath.QuantiseCode(0.25f, 1f, 4));
        Assert.Equal(0.875f, MdlMath.QuantiseCode(1f, 1f, 4));
        Assert.Equal(0f, MdlMath.QuantiseCode(0f, 1f, 4));
        // Symmetric bins: a negative value goes to the midpoint of its magnitude's bin, with its sign.
        Assert.Equal(-0.375f, MdlMath.QuantiseCode(-0.3f, 1f, 4));
        Assert.Equal(-0.875f, MdlMath.QuantiseCode(-1f, 1f, 4));
        Assert.Equal(-0.5f, MdlMath.QuantiseRange(-0.9f, -1f, 1f, 2));
        Assert.Equal(3f, MdlMath.QuantiseRange(3f, 3f, 3f, 8));
    }

    [Fact]
    public void NaiveBoundAndPrecisionSelection()
    {
        Assert.Equal(3 * (10 + 4), MdlMath.NaiveDescriptionLength(3, 1024, 16), 12);
        Assert.Equal(1, MdlMath.SelectPrecision([2, 4, 8], [0.5, 0.2, 0.1], 0.2));
        Assert.Equal(2, MdlMath.SelectPrecision([2, 4, 8], [0.5, 0.2, 0.1], 0.15));
        Assert.Equal(-1, MdlMath.SelectPrecision([2, 4, 8], [0.5, 0.2, 0.1], 0.05));
    }

    [Fact]
    public void ConstructedCodesHaveTheClosedFormDescriptionLength()
    {
        // 8 tokens, F = 4, decoder = identity (d = 4), x = f so FVU = 0.
        // latent 0: active on 4 tokens with values 1.0 and 0.2 twice each → H_b(1/2) + ½·1 bit (two bins at any B ≥ 2)
        // latent 1: active on all tokens, always 2.0                      → H_b(1) + 1·0 = 0
        // latent 2: active on 2 tokens, value 0.5                          → H_b(1/4) + ¼·0
        // latent 3: never active                                           → 0
        float[] f = new float[8 * 4];
        float[] l0 = [1f, 0.2f, 1f, 0.2f, 0, 0, 0, 0];
        for (int t = 0; t < 8; t++)
        {
            f[t * 4 + 0] = l0[t];
            f[t * 4 + 1] = 2f;
            f[t * 4 + 2] = t >= 6 ? 0.5f : 0f;
        }
        var (first, second) = RunBothPasses(f, f, rows: 8, d: 4, latents: 4, Identity);
        Assert.Equal(0.0, first.SumSquaredError);
        var result = second.Result(fvuTarget: 0.01);
        double expected = Hb(0.5) + 0.5 * 1 + 0 + Hb(0.25);
        Assert.Equal(expected, result.DescriptionLengthBits, 12);
        foreach (var row in result.Precisions) Assert.Equal(expected, row.DescriptionLengthBits, 12);
        Assert.Equal((4 + 8 + 2) / 8.0, result.L0, 12);
        Assert.Equal(result.L0 * (2 + Math.Log2(result.Bins)), result.NaiveDescriptionLengthBits, 12);
        Assert.True(result.MeetsTarget);
        Assert.Equal(0, result.SignedLatents);
    }

    [Fact]
    public void DescriptionLengthIsInterpolatedWhereTheQuantisedFvuReachesTheTarget()
    {
        // One latent, identity decoder, values 0.1..1.0; x = f. FVU = 0; ε = 0.01 is reached between two grid precisions.
        int n = 10;
        float[] f = Enumerable.Range(1, n).Select(i => i / 10f).ToArray();
        var (_, second) = RunBothPasses(f, f, n, 1, 1, Identity);
        var fvuQ = second.FvuQuantised();
        // Independent FVU of the 1-D quantiser at each B.
        double mean = f.Average(v => (double)v), sst = f.Sum(v => (v - mean) * (v - mean));
        int[] grid = [2, 4, 8, 16, 32, 64, 128];
        for (int g = 0; g < grid.Length; g++)
        {
            double sse = 0;
            foreach (float v in f)
            {
                int idx = Math.Min((int)(v / 1.0 * grid[g]), grid[g] - 1);
                double mid = (idx + 0.5) / grid[g];
                sse += (v - mid) * (v - mid);
            }
            Assert.Equal(sse / sst, fvuQ[g], 6);
        }
        const double target = 0.01;
        var result = second.Result(target);
        int i = Array.FindIndex(grid, b => fvuQ[Array.IndexOf(grid, b)] <= target);
        Assert.True(i > 0 && fvuQ[i - 1] > target);
        double t = (fvuQ[i - 1] - target) / (fvuQ[i - 1] - fvuQ[i]);
        Assert.Equal(Math.Pow(2, Math.Log2(grid[i - 1]) + t * (Math.Log2(grid[i]) - Math.Log2(grid[i - 1]))), result.Bins, 9);
        double dlBefore = second.DescriptionLength(i - 1), dlAt = second.DescriptionLength(i);
        Assert.Equal(dlBefore + t * (dlAt - dlBefore), result.DescriptionLengthBits, 9);
        Assert.Equal(target, result.FvuQuantised, 9);
        Assert.True(result.MeetsTarget);
        Assert.False(result.AtCoarsest);
    }

    [Fact]
    public void AnSaeThatCannotReachTheTargetIsExcluded()
    {
        // x has two dimensions but the code reconstructs only the first; the second is decoded as the constant ½ (its
        // expected mean): FVU = the second's share of the variance ≈ ½ > ε.
        int n = 40;
        var rng = new Random(1);
        float[] x = new float[n * 2];
        for (int k = 0; k < x.Length; k++) x[k] = (float)rng.NextDouble();
        float[] f = Enumerable.Range(0, n).Select(t => x[t * 2]).ToArray();
        var (first, second) = RunBothPasses(x, f, n, 2, 1, (c, dst) => { for (int t = 0; t < c.Rows; t++) { dst[t, 0] = c[t, 0]; dst[t, 1] = 0.5f; } });
        Assert.InRange(first.Fvu, 0.2, 0.8);
        var result = second.Result(0.1);
        Assert.False(result.MeetsTarget);
        Assert.True(double.IsNaN(result.DescriptionLengthBits));
        Assert.True(double.IsNaN(result.RawDescriptionLengthBits));
        Assert.True(double.IsNaN(result.CompressionRatio));
        // A target above its FVU is reachable.
        Assert.True(second.Result(0.9).MeetsTarget);
    }

    [Fact]
    public void SignedCodesPayForTheirSignThroughSymmetricBins()
    {
        // A PCA-like code: one latent taking ±1 and ±0.5 equally often; identity decoder, x = f. With symmetric bins the
        // reconstruction at B = 2 is ±0.75 per sign (error 0.25² for every value): FVU_q = 0.0625 / E[x²] = 0.0625/0.625 = 0.1.
        // The histogram has four equally likely signed symbols at B = 2 (bins {[0, .5), [.5, 1]} × sign): 0.5 and 1 both
        // fall in the upper bin, so only two symbols occur: DL = H_b(1) + 1·H(½, ½) = 1 bit — the sign bit.
        float[] f = [1f, -1f, 0.5f, -0.5f, 1f, -1f, 0.5f, -0.5f];
        var (first, second) = RunBothPasses(f, f, 8, 1, 1, Identity);
        Assert.True(first.Signed[0]);
        Assert.Equal(1f, first.LatentMax[0]);
        var fvuQ = second.FvuQuantised();
        Assert.Equal(0.0625 / 0.625, fvuQ[0], 6);
        Assert.Equal(1.0, second.DescriptionLength(0), 12);
        var result = second.Result(0.2);
        Assert.True(result.MeetsTarget);
        Assert.True(result.AtCoarsest);
        Assert.Equal(1, result.SignedLatents);
        Assert.Equal(1.0, result.DescriptionLengthBits, 12);
        Assert.Equal(1.0 * (0 + 1) + 1.0, result.NaiveDescriptionLengthBits, 12); // L0·(log₂ 1 + log₂ 2) + one sign bit
    }

    [Fact]
    public void TheDictionaryCostIsAddedWhenAsked()
    {
        Assert.Equal(4.0 * 3 * 32 / 96, MdlMath.DictionaryBitsPerToken(4, 3, 32, 96), 12);
        float[] f = Enumerable.Range(1, 10).Select(i => i / 10f).ToArray();
        var (_, second) = RunBothPasses(f, f, 10, 1, 1, Identity);
        var without = second.Result(0.05);
        var with = second.Result(0.05, dictionaryBitsPerToken: 3.2);
        Assert.Equal(without.DescriptionLengthBits + 3.2, with.DescriptionLengthBits, 12);
        Assert.Equal(without.Bins, with.Bins);
    }

    [Fact]
    public void MoreActiveLatentsAtTheSameErrorCostMoreBits()
    {
        // Code A: f = x (2 latents, identity decoder). Code B: each latent split into two halves with the same
        // decoder direction. Halves quantise to half-midpoints, so the reconstructions (and FVU) are identical at
        // every B while L0 doubles and every split latent carries the same entropy: DL_B = 2·DL_A.
        var rng = new Random(4);
        int n = 64;
        float[] x = new float[n * 2];
        for (int k = 0; k < x.Length; k++) x[k] = rng.NextDouble() < 0.4 ? 0f : (float)(0.1 + rng.NextDouble());
        float[] fb = new float[n * 4];
        for (int t = 0; t < n; t++)
        {
            fb[t * 4 + 0] = fb[t * 4 + 1] = x[t * 2] / 2;
            fb[t * 4 + 2] = fb[t * 4 + 3] = x[t * 2 + 1] / 2;
        }
        var (_, a) = RunBothPasses(x, x, n, 2, 2, Identity);
        var (_, b) = RunBothPasses(x, fb, n, 2, 4, (c, dst) =>
        {
            for (int t = 0; t < c.Rows; t++) { dst[t, 0] = c[t, 0] + c[t, 1]; dst[t, 1] = c[t, 2] + c[t, 3]; }
        });
        var ra = a.Result();
        var rb = b.Result();
        Assert.Equal(ra.Bins, rb.Bins, 6);
        Assert.Equal(ra.FvuQuantised, rb.FvuQuantised, 9);
        Assert.True(rb.DescriptionLengthBits > ra.DescriptionLengthBits);
        Assert.Equal(2 * ra.DescriptionLengthBits, rb.DescriptionLengthBits, 6);
        Assert.True(rb.NaiveDescriptionLengthBits > ra.NaiveDescriptionLengthBits);
    }

    [Fact]
    public void RawBaselineUsesTheCoarsestPrecisionMeetingTheTarget()
    {
        // d = 1, x ∈ {0, ⅓, ⅔, 1}: SST = 5/9. B = 2 → SSE = 2(1/16 + 1/144) = 5/36, FVU ¼.
        // B = 4 → SSE = 2(1/64 + 1/576) = 5/144, FVU 1/16.
        float[] x = [0f, 1f / 3, 2f / 3, 1f];
        var first = new MdlFirstPass(1, 1);
        using var xm = HostMatrix.FromSpan(x, 4, 1);
        first.Add(xm, xm, xm);
        var second = new MdlSecondPass(first.Result(), [2, 4], [2, 4, 8, 16]);
        second.Add(xm, xm, Identity);
        var raw = second.RawFvuQuantised();
        Assert.Equal(0.25, raw[0], 6);
        Assert.Equal(1.0 / 16, raw[1], 6);
        Assert.Equal(1, MdlMath.SelectPrecision([2, 4, 8, 16], raw, 0.1));
        Assert.Equal(3 * 12, MdlMath.RawDescriptionLength(12, 8), 12);
        // Through Result at ε = 0.1, with the SAE code f = x (identity decoder; 0 is inactive and exact, bins on [0, 1]):
        // B = 2: SSE = 1/144 + 1/144 + 1/16, FVU 0.1375 > ε; B = 4: SSE = 2/576 + 1/64, FVU 0.034 ≤ ε → interpolated between,
        // t = (0.1375 − 0.1)/(0.1375 − 0.034), B* = 2^(1 + t).
        // The raw baseline at the same ε: raw FVU ¼ at B = 2, 1/16 at B = 4 → t_raw = (0.25 − 0.1)/(0.25 − 0.0625) = 0.8,
        // B_raw* = 2^1.8, d·log₂ B_raw* = 1.8 bits.
        var result = second.Result(fvuTarget: 0.1);
        double f2 = (2.0 / 144 + 1.0 / 16) / (5.0 / 9), f4 = (2.0 / 576 + 1.0 / 64) / (5.0 / 9);
        double t = (f2 - 0.1) / (f2 - f4);
        Assert.Equal(Math.Pow(2, 1 + t), result.Bins, 6);
        Assert.Equal(0.1, result.FvuQuantised, 9);
        Assert.Equal(Math.Pow(2, 1.8), result.RawBins, 6);
        Assert.Equal(0.1, result.RawFvuQuantised, 6);
        Assert.Equal(1.8, result.RawDescriptionLengthBits, 6);
        Assert.Equal(result.RawDescriptionLengthBits / result.DescriptionLengthBits, result.CompressionRatio, 12);
    }

    [Fact]
    public void FirstPassVarianceMatchesTwoPassFormulaAcrossBatches()
    {
        var rng = new Random(9);
        int n = 50, d = 3;
        float[] x = Enumerable.Range(0, n * d).Select(_ => (float)(1000 + rng.NextDouble())).ToArray();
        float[] xh = x.Select(v => v + 0.01f).ToArray();
        var first = new MdlFirstPass(d, 1);
        foreach (var (start, count) in new[] { (0, 7), (7, 30), (37, 13) })
        {
            using var xb = HostMatrix.FromSpan(x.AsSpan(start * d, count * d), count, d);
            using var hb = HostMatrix.FromSpan(xh.AsSpan(start * d, count * d), count, d);
            using var fb = new HostMatrix(count, 1);
            first.Add(xb, fb, hb);
        }
        var s = first.Result();
        double sst = 0, sse = 0;
        for (int i = 0; i < d; i++)
        {
            double mean = 0;
            for (int t = 0; t < n; t++) mean += x[t * d + i];
            mean /= n;
            for (int t = 0; t < n; t++) sst += (x[t * d + i] - mean) * (x[t * d + i] - mean);
        }
        for (int k = 0; k < x.Length; k++) sse += ((double)x[k] - xh[k]) * ((double)x[k] - xh[k]);
        Assert.Equal(sst, s.TotalSumOfSquares, 1e-9 * sst);
        Assert.Equal(sse / sst, s.Fvu, 1e-9);
        Assert.Equal(n, s.Tokens);
    }

    private static void Identity(HostMatrix codes, HostMatrix destination) => codes.Span.CopyTo(destination.Span);

    private static (MdlScales First, MdlSecondPass Second) RunBothPasses(float[] x, float[] f, int rows, int d, int latents, CodeDecoder decode)
    {
        var first = new MdlFirstPass(d, latents);
        var second = (MdlSecondPass?)null;
        // Two batches of unequal size, to exercise the streaming merge.
        int split = rows / 3;
        var batches = new[] { (0, split), (split, rows - split) };
        foreach (var (start, count) in batches)
        {
            using var xb = HostMatrix.FromSpan(x.AsSpan(start * d, count * d), count, d);
            using var fb = HostMatrix.FromSpan(f.AsSpan(start * latents, count * latents), count, latents);
            using var rec = new HostMatrix(count, d);
            decode(fb, rec);
            first.Add(xb, fb, rec);
        }
        var scales = first.Result();
        second = new MdlSecondPass(scales);
        foreach (var (start, count) in batches)
        {
            using var xb = HostMatrix.FromSpan(x.AsSpan(start * d, count * d), count, d);
            using var fb = HostMatrix.FromSpan(f.AsSpan(start * latents, count * latents), count, latents);
            second.Add(xb, fb, decode);
        }
        return (scales, second);
    }
}
