using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace SaeBench.Compute.Kernels;

/// <summary>
/// Span-level kernels of a transformer forward pass (float32): norms, activations, rotary, causal attention
/// for one (example, head), and logit reductions. Vectorised with <see cref="Vector256"/> / <see cref="TensorPrimitives"/>;
/// the callers (<see cref="CpuTransformerOps"/>) split the work across cores.
/// </summary>
public static class TransformerMath
{
    private const float SqrtTwoOverPi = 0.7978845608028654f;
    private const float GeluCubic = 0.044715f;
    private const float InvSqrt2 = 0.7071067811865476f;

    /// <summary>LayerNorm of one row (mean and variance in float32, two passes, like PyTorch).</summary>
    public static void LayerNormRow(ReadOnlySpan<float> x, Span<float> y, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, float eps)
    {
        int n = x.Length;
        float mean = TensorPrimitives.Sum(x) / n;
        TensorPrimitives.Subtract(x, mean, y);
        float variance = TensorPrimitives.SumOfSquares(y) / n;
        float rstd = 1f / MathF.Sqrt(variance + eps);
        if (weight.IsEmpty) TensorPrimitives.Multiply(y, rstd, y);
        else
        {
            TensorPrimitives.Multiply(y, rstd, y);
            TensorPrimitives.Multiply(y, weight, y);
        }
        if (!bias.IsEmpty) TensorPrimitives.Add(y, bias, y);
    }

    /// <summary>RMSNorm of one row: <c>x / √(mean(x²) + eps) · weight</c>; x and y may be the same span.</summary>
    public static void RmsNormRow(ReadOnlySpan<float> x, Span<float> y, ReadOnlySpan<float> weight, float eps)
    {
        float meanSquare = TensorPrimitives.SumOfSquares(x) / x.Length;
        float r = 1f / MathF.Sqrt(meanSquare + eps);
        TensorPrimitives.Multiply(x, r, y);
        if (!weight.IsEmpty) TensorPrimitives.Multiply(y, weight, y);
    }

    /// <summary>Applies an activation in place.</summary>
    public static void Activate(Span<float> x, Backends.Pointwise f)
    {
        switch (f.Kind)
        {
            case Backends.PointwiseKind.GeluTanh: GeluTanh(x); break;
            case Backends.PointwiseKind.GeluExact: GeluExact(x); break;
            case Backends.PointwiseKind.Silu: Sigmoidal(x, 1f); break;
            case Backends.PointwiseKind.QuickGelu: Sigmoidal(x, 1.702f); break;
            case Backends.PointwiseKind.Relu: TensorPrimitives.Max(x, 0f, x); break;
            case Backends.PointwiseKind.SoftCap: SoftCap(x, f.Parameter); break;
            default: throw new ArgumentOutOfRangeException(nameof(f), f.Kind, null);
        }
    }

    /// <summary><c>gelu_new</c>: <c>x·σ(2u)</c> with <c>u = √(2/π)(x + 0.044715x³)</c>, which equals <c>0.5x(1 + tanh u)</c>.</summary>
    public static void GeluTanh(Span<float> x)
    {
        int i = 0;
        ref float r = ref MemoryMarshal.GetReference(x);
        if (Vector256.IsHardwareAccelerated)
        {
            var k0 = Vector256.Create(-2f * SqrtTwoOverPi);
            var k1 = Vector256.Create(GeluCubic);
            var one = Vector256<float>.One;
            for (; i <= x.Length - Vector256<float>.Count; i += Vector256<float>.Count)
            {
                var v = Vector256.LoadUnsafe(ref r, (nuint)i);
                var u = k0 * v * (one + k1 * v * v);
                (v / (one + Vector256.Exp(u))).StoreUnsafe(ref r, (nuint)i);
            }
        }
        for (; i < x.Length; i++)
        {
            float v = x[i];
            float u = -2f * SqrtTwoOverPi * v * (1f + GeluCubic * v * v);
            x[i] = v / (1f + MathF.Exp(u));
        }
    }

    /// <summary><c>c·tanh(x/c)</c> in place (Gemma-2 soft-capping of attention scores and logits).</summary>
    public static void SoftCap(Span<float> x, float cap)
    {
        TensorPrimitives.Multiply(x, 1f / cap, x);
        Tanh(x);
        TensorPrimitives.Multiply(x, cap, x);
    }

    /// <summary>
    /// tanh in place, accurate to a few float32 ulps everywhere and odd (tanh(0) = 0 exactly): the Taylor series to x¹⁵
    /// below |x| = 0.5 (truncation &lt; 1e-8 relative), <c>1 − 2/(e^{2|x|} + 1)</c> with the sign restored above.
    /// </summary>
    public static void Tanh(Span<float> x)
    {
        int i = 0;
        ref float r = ref MemoryMarshal.GetReference(x);
        if (Vector256.IsHardwareAccelerated)
        {
            var one = Vector256<float>.One;
            var two = Vector256.Create(2f);
            var half = Vector256.Create(0.5f);
            for (; i <= x.Length - Vector256<float>.Count; i += Vector256<float>.Count)
            {
                var v = Vector256.LoadUnsafe(ref r, (nuint)i);
                var a = Vector256.Abs(v);
                var large = one - two / (Vector256.Exp(two * Vector256.Min(a, Vector256.Create(20f))) + one);
                var z = v * v;
                var p = Vector256.Create(-929569f / 638512875f);
                p = Vector256.FusedMultiplyAdd(p, z, Vector256.Create(21844f / 6081075f));
                p = Vector256.FusedMultiplyAdd(p, z, Vector256.Create(-1382f / 155925f));
                p = Vector256.FusedMultiplyAdd(p, z, Vector256.Create(62f / 2835f));
                p = Vector256.FusedMultiplyAdd(p, z, Vector256.Create(-17f / 315f));
                p = Vector256.FusedMultiplyAdd(p, z, Vector256.Create(2f / 15f));
                p = Vector256.FusedMultiplyAdd(p, z, Vector256.Create(-1f / 3f));
                var small = Vector256.FusedMultiplyAdd(p * z, v, v);
                var signed = Vector256.ConditionalSelect(Vector256.LessThan(v, Vector256<float>.Zero), -large, large);
                Vector256.ConditionalSelect(Vector256.LessThan(a, half), small, signed).StoreUnsafe(ref r, (nuint)i);
            }
        }
        for (; i < x.Length; i++) x[i] = MathF.Tanh(x[i]);
    }

    /// <summary><c>x·σ(a·x)</c> (SiLU for a = 1, quick GELU for a = 1.702).</summary>
    public static void Sigmoidal(Span<float> x, float a)
    {
        int i = 0;
        ref float r = ref MemoryMarshal.GetReference(x);
        if (Vector256.IsHardwareAccelerated)
        {
            var na = Vector256.Create(-a);
            var one = Vector256<float>.One;
            for (; i <= x.Length - Vector256<float>.Count; i += Vector256<float>.Count)
            {
                var v = Vector256.LoadUnsafe(ref r, (nuint)i);
                (v / (one + Vector256.Exp(na * v))).StoreUnsafe(ref r, (nuint)i);
            }
        }
        for (; i < x.Length; i++) x[i] = x[i] / (1f + MathF.Exp(-a * x[i]));
    }

    /// <summary>
    /// Exact (erf) GELU. erfc uses the Chebyshev fit of Numerical Recipes (fractional error &lt; 1.2e-7), so
    /// <c>gelu(x) = x − 0.5·x·erfc(x/√2)</c> for x ≥ 0 and <c>0.5·x·erfc(|x|/√2)</c> for x &lt; 0 keep float32 accuracy.
    /// </summary>
    public static void GeluExact(Span<float> x)
    {
        int i = 0;
        ref float r = ref MemoryMarshal.GetReference(x);
        if (Vector256.IsHardwareAccelerated)
        {
            var half = Vector256.Create(0.5f);
            var one = Vector256<float>.One;
            var invSqrt2 = Vector256.Create(InvSqrt2);
            for (; i <= x.Length - Vector256<float>.Count; i += Vector256<float>.Count)
            {
                var v = Vector256.LoadUnsafe(ref r, (nuint)i);
                var z = Vector256.Abs(v) * invSqrt2;
                var t = one / (one + half * z);
                var poly = Vector256.Create(0.17087277f);
                poly = Vector256.FusedMultiplyAdd(poly, t, Vector256.Create(-0.82215223f));
                poly = Vector256.FusedMultiplyAdd(poly, t, Vector256.Create(1.48851587f));
                poly = Vector256.FusedMultiplyAdd(poly, t, Vector256.Create(-1.13520398f));
                poly = Vector256.FusedMultiplyAdd(poly, t, Vector256.Create(0.27886807f));
                poly = Vector256.FusedMultiplyAdd(poly, t, Vector256.Create(-0.18628806f));
                poly = Vector256.FusedMultiplyAdd(poly, t, Vector256.Create(0.09678418f));
                poly = Vector256.FusedMultiplyAdd(poly, t, Vector256.Create(0.37409196f));
                poly = Vector256.FusedMultiplyAdd(poly, t, Vector256.Create(1.00002368f));
                poly = Vector256.FusedMultiplyAdd(poly, t, Vector256.Create(-1.26551223f));
                var erfc = t * Vector256.Exp(poly - z * z);
                var halfXErfc = half * v * erfc;
                var positive = Vector256.GreaterThanOrEqual(v, Vector256<float>.Zero);
                Vector256.ConditionalSelect(positive, v - halfXErfc, halfXErfc).StoreUnsafe(ref r, (nuint)i);
            }
        }
        for (; i < x.Length; i++) x[i] = GeluExactScalar(x[i]);
    }

    /// <summary>Scalar exact GELU (same approximation as the vector path).</summary>
    public static float GeluExactScalar(float v)
    {
        float erfc = Erfc(MathF.Abs(v) * InvSqrt2);
        return v >= 0 ? v - 0.5f * v * erfc : 0.5f * v * erfc;
    }

    /// <summary>Rotate-half rotary on the first <c>2·cos.Length</c> values of <paramref name="head"/>.</summary>
    public static void RotateHalf(Span<float> head, ReadOnlySpan<float> cos, ReadOnlySpan<float> sin)
    {
        int half = cos.Length;
        var x1 = head[..half];
        var x2 = head.Slice(half, half);
        for (int i = 0; i < half; i++)
        {
            float a = x1[i], b = x2[i];
            x1[i] = a * cos[i] - b * sin[i];
            x2[i] = b * cos[i] + a * sin[i];
        }
    }

    /// <summary>
    /// Causal attention of one example and one query head. <paramref name="qkv"/> points at the example's first row
    /// (Context rows of <paramref name="stride"/> floats); <paramref name="z"/> at its first output row (rows of
    /// <paramref name="zStride"/>), written at column <paramref name="zOffset"/>. <paramref name="scores"/> is scratch of at
    /// least Context floats. Query t sees keys <c>max(0, t − window + 1) … t</c> (all earlier keys when window is 0).
    /// </summary>
    public static unsafe void AttendHead(
        float* qkv, int stride, int context, int headDim,
        int qOffset, int kOffset, int vOffset,
        float* z, int zStride, int zOffset,
        float scale, float softCap, int window, float* scores)
    {
        for (int t = 0; t < context; t++)
        {
            int lo = window > 0 ? Math.Max(0, t - window + 1) : 0;
            int n = t - lo + 1;
            float* q = qkv + (long)t * stride + qOffset;
            float* k = qkv + (long)lo * stride + kOffset;
            float max = float.NegativeInfinity;
            if (softCap > 0f)
            {
                for (int j = 0; j < n; j++, k += stride) scores[j] = Dot(q, k, headDim) * scale;
                SoftCap(new Span<float>(scores, n), softCap);
                for (int j = 0; j < n; j++) max = MathF.Max(max, scores[j]);
            }
            else
            {
                for (int j = 0; j < n; j++, k += stride)
                {
                    float v = Dot(q, k, headDim) * scale;
                    scores[j] = v;
                    max = MathF.Max(max, v);
                }
            }
            float inv = 1f / ExpShiftedSum(scores, n, max);
            float* zt = z + (long)t * zStride + zOffset;
            new Span<float>(zt, headDim).Clear();
            float* v0 = qkv + (long)lo * stride + vOffset;
            int jj = 0;
            for (; jj + 1 < n; jj += 2, v0 += 2 * stride) Axpy2(zt, v0, scores[jj] * inv, v0 + stride, scores[jj + 1] * inv, headDim);
            if (jj < n) Axpy(zt, v0, scores[jj] * inv, headDim);
        }
    }

    /// <summary>Queries per block of <see cref="AttendHeadBlocked"/>.</summary>
    public const int QueryBlock = 4;

    /// <summary>
    /// <see cref="AttendHead"/> for head dimensions that are a multiple of 8, four queries at a time: each key (and each
    /// value) row is loaded once per block of queries instead of once per query, which halves the loads per FMA.
    /// <paramref name="scores"/> must hold <c>QueryBlock × context</c> floats.
    /// </summary>
    public static unsafe void AttendHeadBlocked(
        float* qkv, int stride, int context, int headDim,
        int qOffset, int kOffset, int vOffset,
        float* z, int zStride, int zOffset,
        float scale, float softCap, int window, float* scores)
    {
        if (!Vector256.IsHardwareAccelerated || headDim % 8 != 0)
        {
            AttendHead(qkv, stride, context, headDim, qOffset, kOffset, vOffset, z, zStride, zOffset, scale, softCap, window, scores);
            return;
        }
        int chunks = headDim / 8;
        int t0 = 0;
        for (; t0 + QueryBlock <= context; t0 += QueryBlock)
        {
            int last = t0 + QueryBlock - 1;
            int lo = window > 0 ? Math.Max(0, t0 - window + 1) : 0;
            int n = last - lo + 1;
            float* q0 = qkv + (long)t0 * stride + qOffset;
            float* q1 = q0 + stride, q2 = q1 + stride, q3 = q2 + stride;
            float* s0 = scores, s1 = scores + n, s2 = s1 + n, s3 = s2 + n;
            float* k = qkv + (long)lo * stride + kOffset;
            for (int j = 0; j < n; j++, k += stride)
            {
                var a0 = Vector256<float>.Zero;
                var a1 = Vector256<float>.Zero;
                var a2 = Vector256<float>.Zero;
                var a3 = Vector256<float>.Zero;
                for (int c = 0; c < headDim; c += 8)
                {
                    var kc = Vector256.Load(k + c);
                    a0 = Vector256.FusedMultiplyAdd(Vector256.Load(q0 + c), kc, a0);
                    a1 = Vector256.FusedMultiplyAdd(Vector256.Load(q1 + c), kc, a1);
                    a2 = Vector256.FusedMultiplyAdd(Vector256.Load(q2 + c), kc, a2);
                    a3 = Vector256.FusedMultiplyAdd(Vector256.Load(q3 + c), kc, a3);
                }
                s0[j] = Vector256.Sum(a0) * scale;
                s1[j] = Vector256.Sum(a1) * scale;
                s2[j] = Vector256.Sum(a2) * scale;
                s3[j] = Vector256.Sum(a3) * scale;
            }
            for (int i = 0; i < QueryBlock; i++)
            {
                float* row = scores + i * n;
                int t = t0 + i;
                int first = (window > 0 ? Math.Max(0, t - window + 1) : 0) - lo;
                int count = t - lo + 1 - first;
                if (softCap > 0f) SoftCap(new Span<float>(row + first, count), softCap);
                float max = float.NegativeInfinity;
                for (int j = first; j < first + count; j++) max = MathF.Max(max, row[j]);
                float inv = 1f / ExpShiftedSum(row + first, count, max);
                for (int j = 0; j < first; j++) row[j] = 0f;
                for (int j = first; j < first + count; j++) row[j] *= inv;
                for (int j = first + count; j < n; j++) row[j] = 0f;
            }
            float* z0 = z + (long)t0 * zStride + zOffset;
            float* vBase = qkv + (long)lo * stride + vOffset;
            for (int c = 0; c < chunks; c++)
            {
                var a0 = Vector256<float>.Zero;
                var a1 = Vector256<float>.Zero;
                var a2 = Vector256<float>.Zero;
                var a3 = Vector256<float>.Zero;
                float* v = vBase + c * 8;
                for (int j = 0; j < n; j++, v += stride)
                {
                    var vc = Vector256.Load(v);
                    a0 = Vector256.FusedMultiplyAdd(Vector256.Create(s0[j]), vc, a0);
                    a1 = Vector256.FusedMultiplyAdd(Vector256.Create(s1[j]), vc, a1);
                    a2 = Vector256.FusedMultiplyAdd(Vector256.Create(s2[j]), vc, a2);
                    a3 = Vector256.FusedMultiplyAdd(Vector256.Create(s3[j]), vc, a3);
                }
                a0.Store(z0 + c * 8);
                a1.Store(z0 + zStride + c * 8);
                a2.Store(z0 + 2L * zStride + c * 8);
                a3.Store(z0 + 3L * zStride + c * 8);
            }
        }
        if (t0 < context)
        {
            // The last (context mod 4) queries, one at a time.
            for (int t = t0; t < context; t++)
                AttendOne(qkv, stride, headDim, t, qOffset, kOffset, vOffset, z + (long)t * zStride + zOffset, scale, softCap, window, scores);
        }
    }

    private static unsafe void AttendOne(float* qkv, int stride, int headDim, int t, int qOffset, int kOffset, int vOffset,
        float* zt, float scale, float softCap, int window, float* scores)
    {
        int lo = window > 0 ? Math.Max(0, t - window + 1) : 0;
        int n = t - lo + 1;
        float* q = qkv + (long)t * stride + qOffset;
        float* k = qkv + (long)lo * stride + kOffset;
        for (int j = 0; j < n; j++, k += stride) scores[j] = Dot(q, k, headDim) * scale;
        if (softCap > 0f) SoftCap(new Span<float>(scores, n), softCap);
        float max = float.NegativeInfinity;
        for (int j = 0; j < n; j++) max = MathF.Max(max, scores[j]);
        float inv = 1f / ExpShiftedSum(scores, n, max);
        new Span<float>(zt, headDim).Clear();
        float* v = qkv + (long)lo * stride + vOffset;
        for (int j = 0; j < n; j++, v += stride) Axpy(zt, v, scores[j] * inv, headDim);
    }

    /// <summary><c>x[i] = exp(x[i] − shift)</c> over n floats; returns their sum.</summary>
    public static unsafe float ExpShiftedSum(float* x, int n, float shift)
    {
        int i = 0;
        float sum = 0f;
        if (Vector256.IsHardwareAccelerated && n >= 8)
        {
            var vs = Vector256.Create(shift);
            var acc = Vector256<float>.Zero;
            for (; i <= n - 8; i += 8)
            {
                var e = Vector256.Exp(Vector256.Load(x + i) - vs);
                e.Store(x + i);
                acc += e;
            }
            sum = Vector256.Sum(acc);
        }
        for (; i < n; i++)
        {
            float e = MathF.Exp(x[i] - shift);
            x[i] = e;
            sum += e;
        }
        return sum;
    }

    /// <summary><c>y += a·x + b·w</c> over n floats.</summary>
    public static unsafe void Axpy2(float* y, float* x, float a, float* w, float b, int n)
    {
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var va = Vector256.Create(a);
            var vb = Vector256.Create(b);
            for (; i <= n - 8; i += 8)
                Vector256.FusedMultiplyAdd(Vector256.Load(w + i), vb, Vector256.FusedMultiplyAdd(Vector256.Load(x + i), va, Vector256.Load(y + i))).Store(y + i);
        }
        for (; i < n; i++) y[i] += a * x[i] + b * w[i];
    }

    /// <summary>Dot product of two float runs (two Vector256 accumulators).</summary>
    public static unsafe float Dot(float* a, float* b, int n)
    {
        int i = 0;
        float sum = 0f;
        if (Vector256.IsHardwareAccelerated && n >= 8)
        {
            var acc0 = Vector256<float>.Zero;
            var acc1 = Vector256<float>.Zero;
            for (; i <= n - 16; i += 16)
            {
                acc0 = Vector256.FusedMultiplyAdd(Vector256.Load(a + i), Vector256.Load(b + i), acc0);
                acc1 = Vector256.FusedMultiplyAdd(Vector256.Load(a + i + 8), Vector256.Load(b + i + 8), acc1);
            }
            if (i <= n - 8)
            {
                acc0 = Vector256.FusedMultiplyAdd(Vector256.Load(a + i), Vector256.Load(b + i), acc0);
                i += 8;
            }
            sum = Vector256.Sum(acc0 + acc1);
        }
        for (; i < n; i++) sum += a[i] * b[i];
        return sum;
    }

    /// <summary><c>y += a·x</c> over n floats.</summary>
    public static unsafe void Axpy(float* y, float* x, float a, int n)
    {
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var va = Vector256.Create(a);
            for (; i <= n - 8; i += 8) Vector256.FusedMultiplyAdd(Vector256.Load(x + i), va, Vector256.Load(y + i)).Store(y + i);
        }
        for (; i < n; i++) y[i] += a * x[i];
    }

    // ---- Backward (vector–Jacobian products) of the kernels above, for gradients with respect to activations ----

    /// <summary>
    /// LayerNorm backward of one row: given the input <paramref name="x"/> and <c>dy = ∂L/∂y</c>, writes (or adds, when
    /// <paramref name="accumulate"/>) <c>∂L/∂x = rstd·(g − mean(g) − x̂·mean(g·x̂))</c> with <c>g = dy·weight</c>. The statistics
    /// are recomputed from <paramref name="x"/>, as <see cref="LayerNormRow"/> computes them.
    /// </summary>
    public static void LayerNormBackwardRow(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, ReadOnlySpan<float> weight, float eps, Span<float> dx, bool accumulate)
    {
        int n = x.Length;
        float mean = TensorPrimitives.Sum(x) / n;
        double variance = 0;
        for (int i = 0; i < n; i++)
        {
            double d = x[i] - mean;
            variance += d * d;
        }
        float rstd = (float)(1 / Math.Sqrt(variance / n + eps));
        double sumG = 0, sumGx = 0;
        for (int i = 0; i < n; i++)
        {
            float g = weight.IsEmpty ? dy[i] : dy[i] * weight[i];
            sumG += g;
            sumGx += g * ((x[i] - mean) * rstd);
        }
        float meanG = (float)(sumG / n), meanGx = (float)(sumGx / n);
        for (int i = 0; i < n; i++)
        {
            float g = weight.IsEmpty ? dy[i] : dy[i] * weight[i];
            float v = rstd * (g - meanG - (x[i] - mean) * rstd * meanGx);
            dx[i] = accumulate ? dx[i] + v : v;
        }
    }

    /// <summary>
    /// RMSNorm backward of one row: <c>∂L/∂x = r·(g − x̂·mean(g·x̂))</c> with <c>r = 1/√(mean(x²) + eps)</c>, <c>x̂ = r·x</c>,
    /// <c>g = dy·weight</c>; written or added (<paramref name="accumulate"/>) into <paramref name="dx"/>.
    /// </summary>
    public static void RmsNormBackwardRow(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, ReadOnlySpan<float> weight, float eps, Span<float> dx, bool accumulate)
    {
        int n = x.Length;
        float r = 1f / MathF.Sqrt(TensorPrimitives.SumOfSquares(x) / n + eps);
        double sumGx = 0;
        for (int i = 0; i < n; i++)
        {
            float g = weight.IsEmpty ? dy[i] : dy[i] * weight[i];
            sumGx += g * (x[i] * r);
        }
        float meanGx = (float)(sumGx / n);
        for (int i = 0; i < n; i++)
        {
            float g = weight.IsEmpty ? dy[i] : dy[i] * weight[i];
            float v = r * (g - x[i] * r * meanGx);
            dx[i] = accumulate ? dx[i] + v : v;
        }
    }

    /// <summary>Multiplies <paramref name="grad"/> by the derivative of <paramref name="f"/> at <paramref name="x"/> (the
    /// pre-activation values), element by element: the backward of <see cref="Activate"/>.</summary>
    public static void ActivateBackward(ReadOnlySpan<float> x, Span<float> grad, Backends.Pointwise f)
    {
        if (x.Length != grad.Length) throw new ArgumentException($"Activation backward of {x.Length} inputs and {grad.Length} gradients.");
        switch (f.Kind)
        {
            case Backends.PointwiseKind.GeluTanh:
                for (int i = 0; i < x.Length; i++)
                {
                    float v = x[i];
                    float th = MathF.Tanh(SqrtTwoOverPi * (v + GeluCubic * v * v * v));
                    grad[i] *= 0.5f * (1f + th) + 0.5f * v * (1f - th * th) * SqrtTwoOverPi * (1f + 3f * GeluCubic * v * v);
                }
                break;
            case Backends.PointwiseKind.GeluExact:
                for (int i = 0; i < x.Length; i++)
                {
                    float v = x[i];
                    float half = 0.5f * Erfc(MathF.Abs(v) * InvSqrt2);
                    float cdf = v >= 0 ? 1f - half : half;
                    grad[i] *= cdf + v * InvSqrt2Pi * MathF.Exp(-0.5f * v * v);
                }
                break;
            case Backends.PointwiseKind.Silu: SigmoidalBackward(x, grad, 1f); break;
            case Backends.PointwiseKind.QuickGelu: SigmoidalBackward(x, grad, 1.702f); break;
            case Backends.PointwiseKind.Relu:
                for (int i = 0; i < x.Length; i++)
                    if (!(x[i] > 0f)) grad[i] = 0f;
                break;
            case Backends.PointwiseKind.SoftCap:
                for (int i = 0; i < x.Length; i++)
                {
                    float th = MathF.Tanh(x[i] / f.Parameter);
                    grad[i] *= 1f - th * th;
                }
                break;
            default: throw new ArgumentOutOfRangeException(nameof(f), f.Kind, null);
        }
    }

    /// <summary><c>d/dx [x·σ(a·x)] = σ(a·x)·(1 + a·x·(1 − σ(a·x)))</c>.</summary>
    private static void SigmoidalBackward(ReadOnlySpan<float> x, Span<float> grad, float a)
    {
        for (int i = 0; i < x.Length; i++)
        {
            float s = 1f / (1f + MathF.Exp(-a * x[i]));
            grad[i] *= s * (1f + a * x[i] * (1f - s));
        }
    }

    private const float InvSqrt2Pi = 0.3989422804014327f;

    /// <summary>erfc(z) for z ≥ 0 by the fit the exact GELU uses (forward, scalar path, and its derivative).</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    private static float Erfc(float z)
    {
        float t = 1f / (1f + 0.5f * z);
        float poly = 0.17087277f;
        poly = poly * t - 0.82215223f;
        poly = poly * t + 1.48851587f;
        poly = poly * t - 1.13520398f;
        poly = poly * t + 0.27886807f;
        poly = poly * t - 0.18628806f;
        poly = poly * t + 0.09678418f;
        poly = poly * t + 0.37409196f;
        poly = poly * t + 1.00002368f;
        poly = poly * t - 1.26551223f;
        return t * MathF.Exp(poly - z * z);
    }

    /// <summary>The transpose of <see cref="RotateHalf"/> (a rotation by the opposite angle), applied in place to a gradient.</summary>
    public static void RotateHalfBackward(Span<float> head, ReadOnlySpan<float> cos, ReadOnlySpan<float> sin)
    {
        int half = cos.Length;
        var x1 = head[..half];
        var x2 = head.Slice(half, half);
        for (int i = 0; i < half; i++)
        {
            float a = x1[i], b = x2[i];
            x1[i] = a * cos[i] + b * sin[i];
            x2[i] = b * cos[i] - a * sin[i];
        }
    }

    /// <summary>
    /// Backward of <see cref="AttendHead"/> for one example and one query head: given <c>dz = ∂L/∂z</c> (rows of
    /// <paramref name="dzStride"/>, column <paramref name="dzOffset"/>), ADDS the gradients of the head's query and of the
    /// keys and values it reads into <paramref name="dqkv"/> (laid out like <paramref name="qkv"/>, same stride). Scores and
    /// probabilities are recomputed; a query whose dz row is zero (after the last scored position) is skipped.
    /// <paramref name="scratch"/> holds at least <c>3 × context</c> floats.
    /// </summary>
    public static unsafe void AttendHeadBackward(
        float* qkv, float* dqkv, int stride, int context, int headDim,
        int qOffset, int kOffset, int vOffset,
        float* dz, int dzStride, int dzOffset,
        float scale, float softCap, int window, float* scratch)
    {
        float* p = scratch, factor = scratch + context, dp = scratch + 2 * context;
        for (int t = 0; t < context; t++)
        {
            float* dzt = dz + (long)t * dzStride + dzOffset;
            if (IsZero(dzt, headDim)) continue;
            int lo = window > 0 ? Math.Max(0, t - window + 1) : 0;
            int n = t - lo + 1;
            float* q = qkv + (long)t * stride + qOffset;
            float* k = qkv + (long)lo * stride + kOffset;
            float max = float.NegativeInfinity;
            for (int j = 0; j < n; j++, k += stride)
            {
                float s = Dot(q, k, headDim) * scale;
                if (softCap > 0f)
                {
                    float th = MathF.Tanh(s / softCap);
                    s = softCap * th;
                    factor[j] = 1f - th * th;
                }
                else factor[j] = 1f;
                p[j] = s;
                max = MathF.Max(max, s);
            }
            float inv = 1f / ExpShiftedSum(p, n, max);
            float* v = qkv + (long)lo * stride + vOffset;
            double weighted = 0;
            for (int j = 0; j < n; j++, v += stride)
            {
                p[j] *= inv;
                dp[j] = Dot(dzt, v, headDim);
                weighted += p[j] * dp[j];
            }
            float mean = (float)weighted;
            float* dq = dqkv + (long)t * stride + qOffset;
            k = qkv + (long)lo * stride + kOffset;
            float* dk = dqkv + (long)lo * stride + kOffset;
            float* dv = dqkv + (long)lo * stride + vOffset;
            for (int j = 0; j < n; j++, k += stride, dk += stride, dv += stride)
            {
                Axpy(dv, dzt, p[j], headDim);
                float ds = p[j] * (dp[j] - mean) * factor[j] * scale;
                if (ds == 0f) continue;
                Axpy(dq, k, ds, headDim);
                Axpy(dk, q, ds, headDim);
            }
        }
    }

    private static unsafe bool IsZero(float* x, int n)
    {
        for (int i = 0; i < n; i++)
            if (x[i] != 0f) return false;
        return true;
    }

    /// <summary>Log-sum-exp of a row given its maximum, accumulated in double over blocks of <paramref name="scratch"/>.</summary>
    public static double LogSumExp(ReadOnlySpan<float> x, float max, Span<float> scratch)
    {
        double sum = 0;
        for (int start = 0; start < x.Length; start += scratch.Length)
        {
            int n = Math.Min(scratch.Length, x.Length - start);
            var block = scratch[..n];
            TensorPrimitives.Subtract(x.Slice(start, n), max, block);
            TensorPrimitives.Exp(block, block);
            sum += TensorPrimitives.Sum(block);
        }
        return max + Math.Log(sum);
    }

    /// <summary><c>KL(softmax(a) ‖ softmax(b)) = Σ p_a·(a − b) − lse(a) + lse(b)</c>, given both log-sum-exps.</summary>
    public static double Kl(ReadOnlySpan<float> a, double lseA, ReadOnlySpan<float> b, double lseB, Span<float> scratch, Span<float> scratch2)
    {
        double acc = 0;
        float shift = (float)lseA;
        double residual = lseA - shift;
        for (int start = 0; start < a.Length; start += scratch.Length)
        {
            int n = Math.Min(scratch.Length, a.Length - start);
            var p = scratch[..n];
            var d = scratch2[..n];
            TensorPrimitives.Subtract(a.Slice(start, n), shift, p);
            TensorPrimitives.Exp(p, p);
            TensorPrimitives.Subtract(a.Slice(start, n), b.Slice(start, n), d);
            acc += TensorPrimitives.Dot(p, d);
        }
        return Math.Max(0, acc * Math.Exp(-residual) - lseA + lseB);
    }
}
