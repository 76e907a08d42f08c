using System.Runtime.Intrinsics;

namespace SaeBench.Training.Optimization;

/// <summary>
/// Adam (Kingma &amp; Ba) with bias correction: <c>m ← β₁m + (1−β₁)g</c>, <c>v ← β₂v + (1−β₂)g²</c>,
/// <c>θ ← θ − lr·m̂/(√v̂ + ε)</c>. The moments are a <see cref="ParameterSet"/> each, so they checkpoint like the weights.
/// </summary>
public sealed class Adam
{
    public Adam(ParameterSet parameters, double beta1 = 0.9, double beta2 = 0.999, double epsilon = 1e-8)
    {
        First = parameters.ZerosLike();
        Second = parameters.ZerosLike();
        Beta1 = beta1;
        Beta2 = beta2;
        Epsilon = epsilon;
    }

    public double Beta1 { get; }
    public double Beta2 { get; }
    public double Epsilon { get; }

    /// <summary>First moments m.</summary>
    public ParameterSet First { get; }

    /// <summary>Second moments v.</summary>
    public ParameterSet Second { get; }

    /// <summary>Number of updates applied so far (t in the bias correction).</summary>
    public long Updates { get; set; }

    /// <summary>Applies one update with learning rate <paramref name="lr"/> to every tensor of <paramref name="parameters"/>.</summary>
    public void Step(ParameterSet parameters, ParameterSet gradients, double lr)
    {
        Updates++;
        float b1 = (float)Beta1, b2 = (float)Beta2, eps = (float)Epsilon;
        double c1 = 1 - Math.Pow(Beta1, Updates), c2 = 1 - Math.Pow(Beta2, Updates);
        // θ −= lr/c1 · m / (√(v/c2) + ε)
        float stepSize = (float)(lr / c1);
        float invC2 = (float)(1 / c2);
        foreach (var (name, p) in parameters.Tensors)
        {
            var w = p.Memory;
            var g = gradients[name].Memory;
            var m = First[name].Memory;
            var v = Second[name].Memory;
            int n = w.Length;
            // Element-wise, so chunks in parallel and eight lanes at a time give the same bits as the scalar loop
            // (the same float operations in the same order; no fused multiply-add).
            const int chunk = 1 << 16;
            int chunks = (n + chunk - 1) / chunk;
            void Update(int c)
            {
                int i0 = c * chunk, i1 = Math.Min(n, i0 + chunk);
                Update8(w.Span[i0..i1], g.Span[i0..i1], m.Span[i0..i1], v.Span[i0..i1], b1, b2, eps, stepSize, invC2);
            }
            if (chunks > 1 && Environment.ProcessorCount > 1) Parallel.For(0, chunks, Update);
            else for (int c = 0; c < chunks; c++) Update(c);
        }
    }

    private static void Update8(Span<float> w, ReadOnlySpan<float> g, Span<float> m, Span<float> v, float b1, float b2, float eps, float stepSize, float invC2)
    {
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var vb1 = Vector256.Create(b1);
            var vb2 = Vector256.Create(b2);
            var va1 = Vector256.Create(1 - b1);
            var va2 = Vector256.Create(1 - b2);
            var veps = Vector256.Create(eps);
            var vstep = Vector256.Create(stepSize);
            var vinv = Vector256.Create(invC2);
            for (; i + 8 <= w.Length; i += 8)
            {
                var gi = Vector256.Create(g.Slice(i, 8));
                var mi = vb1 * Vector256.Create(m.Slice(i, 8)) + va1 * gi;
                var vi = vb2 * Vector256.Create(v.Slice(i, 8)) + va2 * gi * gi;
                mi.CopyTo(m.Slice(i, 8));
                vi.CopyTo(v.Slice(i, 8));
                var wi = Vector256.Create(w.Slice(i, 8)) - vstep * mi / (Vector256.Sqrt(vi * vinv) + veps);
                wi.CopyTo(w.Slice(i, 8));
            }
        }
        for (; i < w.Length; i++)
        {
            float gi = g[i];
            float mi = b1 * m[i] + (1 - b1) * gi;
            float vi = b2 * v[i] + (1 - b2) * gi * gi;
            m[i] = mi;
            v[i] = vi;
            w[i] -= stepSize * mi / (MathF.Sqrt(vi * invC2) + eps);
        }
    }
}
