using SaeBench.Compute.Tensors;
using SaeBench.Core.Autoencoders;

namespace SaeBench.Core.Tests;

/// <summary>Seeded test data.</summary>
public static class Some
{
    /// <summary>A matrix of Gaussian-ish values, or small integers when <paramref name="integers"/> (so sums are exact and ties are real).</summary>
    public static HostMatrix Matrix(int rows, int cols, int seed, bool integers = false, float scale = 1f)
    {
        var rng = new Random(seed);
        var m = new HostMatrix(rows, cols);
        var s = m.Span;
        for (int i = 0; i < s.Length; i++) s[i] = integers ? rng.Next(-2, 3) : (float)(rng.NextDouble() * 2 - 1) * scale;
        return m;
    }

    public static float[] Vector(int n, int seed, bool integers = false, float scale = 1f) => Matrix(1, n, seed, integers, scale).ToArray();

    /// <summary>A random SAE of the given architecture; decoder rows have non-unit norms on purpose.</summary>
    public static Sae Sae(string architecture, int dIn = 12, int dSae = 40, int seed = 1, bool integers = false)
    {
        var p = new SaeParameters
        {
            WEnc = Matrix(dIn, dSae, seed, integers),
            BEnc = Vector(dSae, seed + 1, integers, 0.3f),
            WDec = Matrix(dSae, dIn, seed + 2, integers, 0.7f),
            BDec = Vector(dIn, seed + 3, integers, 0.2f),
            ApplyBDecToInput = true,
        };
        switch (SaeArchitectures.Canonical(architecture))
        {
            case SaeArchitectures.TopK:
                p.K = 5;
                break;
            case SaeArchitectures.BatchTopK or SaeArchitectures.MatryoshkaBatchTopK or SaeArchitectures.MutualChoice:
                p.K = 5;
                p.ScalarThreshold = 0.4f;
                break;
            case SaeArchitectures.JumpRelu or SaeArchitectures.FeatureChoice:
                p.Threshold = Vector(dSae, seed + 4).Select(v => Math.Abs(v) * 0.8f).ToArray();
                p.ApplyBDecToInput = false;
                break;
            case SaeArchitectures.Gated:
                p.BGate = Vector(dSae, seed + 5, integers, 0.5f);
                p.RMag = Vector(dSae, seed + 6, false, 0.5f);
                p.BMag = Vector(dSae, seed + 7, integers, 0.5f);
                p.BEnc = new float[dSae];
                break;
            case SaeArchitectures.Identity:
                return Core.Autoencoders.Sae.Identity(dIn);
        }
        if (architecture == SaeArchitectures.MatryoshkaBatchTopK) p.GroupSizes = [dSae / 4, dSae / 4, dSae / 2];
        return new Sae(architecture, p);
    }

    public static void Close(HostMatrix expected, HostMatrix actual, double tolerance, string what)
    {
        Assert.Equal(expected.Rows, actual.Rows);
        Assert.Equal(expected.Cols, actual.Cols);
        for (int r = 0; r < expected.Rows; r++)
        for (int c = 0; c < expected.Cols; c++)
        {
            double e = expected[r, c], a = actual[r, c];
            if (Math.Abs(e - a) > tolerance)
                Assert.Fail($"{what}[{r}, {c}]: expected {e:G9}, got {a:G9} (tolerance {tolerance})");
        }
    }
}
