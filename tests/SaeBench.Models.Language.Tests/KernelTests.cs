using SaeBench.Compute.Backends;
using SaeBench.Compute.Kernels;
using SaeBench.Compute.Tensors;

namespace SaeBench.Models.Language.Tests;

/// <summary>The CPU transformer kernels against straightforward double-precision versions.</summary>
public sealed class KernelTests
{
    private static readonly CpuTransformerOps Ops = new();

    private static void Near(double expected, double actual, double tolerance, string what = "") =>
        Assert.True(Math.Abs(expected - actual) <= tolerance, $"{what} expected {expected}, got {actual} (tolerance {tolerance})");

    private static HostMatrix Random(int rows, int cols, int seed, double scale = 1)
    {
        var rng = new Random(seed);
        var m = new HostMatrix(rows, cols);
        foreach (ref var v in m.Span) v = (float)((rng.NextDouble() * 2 - 1) * scale);
        return m;
    }

    /// <summary>erf by its Taylor series (|x| ≤ 3) or continued fraction (|x| &gt; 3), both to double precision.</summary>
    private static double Erf(double x)
    {
        double a = Math.Abs(x);
        if (a <= 3)
        {
            double sum = 0, term = a;
            for (int n = 0; n < 200; n++)
            {
                sum += term / (2 * n + 1);
                term *= -a * a / (n + 1);
                if (Math.Abs(term) < 1e-18) break;
            }
            return Math.Sign(x) * 2 / Math.Sqrt(Math.PI) * sum;
        }
        double f = 0;
        for (int k = 60; k >= 1; k--) f = k / 2.0 / (a + f);
        double erfc = Math.Exp(-a * a) / Math.Sqrt(Math.PI) / (a + f);
        return Math.Sign(x) * (1 - erfc);
    }

    [Fact]
    public void Activations_match_their_definitions()
    {
        var xs = Enumerable.Range(-2000, 4001).Select(i => i / 200f).Concat([0f, -0f, 1e-6f, -1e-6f, 30f, -30f]).ToArray();
        void Check(PointwiseKind kind, Func<double, double> exact, double tol)
        {
            var y = (float[])xs.Clone();
            TransformerMath.Activate(y, new Pointwise(kind));
            for (int i = 0; i < xs.Length; i++)
                Assert.True(Math.Abs(y[i] - exact(xs[i])) <= tol * Math.Max(1, Math.Abs(xs[i])), $"{kind}({xs[i]}) = {y[i]}, expected {exact(xs[i])}");
        }
        Check(PointwiseKind.GeluExact, x => 0.5 * x * (1 + Erf(x / Math.Sqrt(2))), 3e-7);
        Check(PointwiseKind.GeluTanh, x => 0.5 * x * (1 + Math.Tanh(Math.Sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x))), 3e-7);
        Check(PointwiseKind.Silu, x => x / (1 + Math.Exp(-x)), 3e-7);
        Check(PointwiseKind.QuickGelu, x => x / (1 + Math.Exp(-1.702 * x)), 3e-7);
        Check(PointwiseKind.Relu, x => Math.Max(0, x), 0);
        var capped = (float[])xs.Clone();
        TransformerMath.Activate(capped, Pointwise.SoftCap(8f));
        for (int i = 0; i < xs.Length; i++)
            Assert.True(Math.Abs(capped[i] - 8 * Math.Tanh(xs[i] / 8.0)) <= 4e-7 * Math.Max(Math.Abs(capped[i]), 1e-3), $"softcap({xs[i]}) = {capped[i]}");
        var zero = new float[] { 0f };
        TransformerMath.Tanh(zero);
        Assert.Equal(0f, zero[0]);
    }

    [Fact]
    public void Norms_match_double_precision()
    {
        using var x = Random(37, 96, 1, 3);
        using var w = Random(1, 96, 2);
        using var b = Random(1, 96, 3);
        using var ln = new HostMatrix(37, 96);
        using var rms = new HostMatrix(37, 96);
        Ops.LayerNorm(x, ln, w, b, 1e-5f);
        Ops.RmsNorm(x, rms, w, 1e-6f);
        for (int r = 0; r < 37; r++)
        {
            var row = x.Row(r).ToArray().Select(v => (double)v).ToArray();
            double mean = row.Average(), variance = row.Select(v => (v - mean) * (v - mean)).Average();
            double ms = row.Select(v => v * v).Average();
            for (int i = 0; i < 96; i++)
            {
                Near((row[i] - mean) / Math.Sqrt(variance + 1e-5) * w.Span[i] + b.Span[i], ln[r, i], 1e-5, "layer norm");
                Near(row[i] / Math.Sqrt(ms + 1e-6) * w.Span[i], rms[r, i], 1e-5, "rms norm");
            }
        }
    }

    [Theory]
    [InlineData(4, 4, 0, 0f, 12)]
    [InlineData(4, 2, 0, 0f, 16)]
    [InlineData(6, 2, 5, 0f, 16)]
    [InlineData(4, 1, 3, 2.5f, 8)]
    [InlineData(2, 2, 7, 0f, 12)]
    [InlineData(2, 1, 0, 3f, 24)]
    public void Attention_matches_a_naive_causal_softmax(int heads, int kvHeads, int window, float softCap, int dh)
    {
        const int batch = 2, context = 23;
        var layout = new AttentionLayout(batch, context, heads, kvHeads, dh);
        using var qkv = Random(batch * context, layout.FusedWidth, 4, 2);
        using var z = new HostMatrix(batch * context, layout.QueryWidth);
        var options = new AttentionOptions(0.3f, softCap, window);
        Ops.Attend(qkv, z, layout, options);
        for (int b = 0; b < batch; b++)
        for (int h = 0; h < heads; h++)
        {
            int kv = h / (heads / kvHeads);
            for (int t = 0; t < context; t++)
            {
                var scores = new double[context];
                var allowed = new bool[context];
                for (int s = 0; s <= t; s++)
                {
                    if (window > 0 && t - s >= window) continue;
                    allowed[s] = true;
                    double dot = 0;
                    for (int e = 0; e < dh; e++)
                        dot += qkv[b * context + t, h * dh + e] * (double)qkv[b * context + s, layout.QueryWidth + kv * dh + e];
                    dot *= 0.3;
                    scores[s] = softCap > 0 ? softCap * Math.Tanh(dot / softCap) : dot;
                }
                double max = Enumerable.Range(0, context).Where(s => allowed[s]).Max(s => scores[s]);
                double sum = Enumerable.Range(0, context).Where(s => allowed[s]).Sum(s => Math.Exp(scores[s] - max));
                for (int e = 0; e < dh; e++)
                {
                    double want = 0;
                    for (int s = 0; s < context; s++)
                        if (allowed[s]) want += Math.Exp(scores[s] - max) / sum * qkv[b * context + s, layout.QueryWidth + layout.KvWidth + kv * dh + e];
                    Near(want, z[b * context + t, h * dh + e], 1e-5, $"z[{b},{t},{h},{e}]");
                }
            }
        }
    }

    [Fact]
    public void Rotary_rotates_half_pairs_of_the_first_rotary_dims_of_q_and_k_only()
    {
        const int context = 9, heads = 2, kvHeads = 1, dh = 8, rotary = 4;
        var layout = new AttentionLayout(1, context, heads, kvHeads, dh);
        using var qkv = Random(context, layout.FusedWidth, 6);
        using var original = qkv.Clone();
        var table = RotaryTable.Create(RotaryTable.DefaultFrequencies(rotary, 100), 16);
        Ops.Rotary(qkv, layout, table);
        for (int t = 0; t < context; t++)
        for (int head = 0; head < heads + 2 * kvHeads; head++)
        for (int e = 0; e < dh; e++)
        {
            int col = head * dh + e;
            double want = original[t, col];
            if (head < heads + kvHeads && e < rotary)
            {
                int i = e % (rotary / 2);
                double angle = t * Math.Pow(100, -2.0 * i / rotary);
                double x1 = original[t, head * dh + i], x2 = original[t, head * dh + i + rotary / 2];
                want = e < rotary / 2 ? x1 * Math.Cos(angle) - x2 * Math.Sin(angle) : x2 * Math.Cos(angle) + x1 * Math.Sin(angle);
            }
            Near(want, qkv[t, col], 1e-5, $"rotary [{t},{col}]");
        }
    }

    [Fact]
    public void Llama3_rope_scaling_follows_the_wavelength_bands()
    {
        var scaling = new RopeScaling("llama3", Factor: 8, LowFreqFactor: 1, HighFreqFactor: 4, OriginalMaxPositions: 8192);
        var f = RotaryTable.DefaultFrequencies(128, 500000);
        var scaled = scaling.Apply(f);
        for (int i = 0; i < f.Length; i++)
        {
            double wavelength = 2 * Math.PI / f[i];
            if (wavelength < 8192 / 4.0) Assert.Equal(f[i], scaled[i]);
            else if (wavelength > 8192) Assert.Equal(f[i] / 8, scaled[i], 15);
            else Assert.InRange(scaled[i], f[i] / 8, f[i]);
        }
    }
}
