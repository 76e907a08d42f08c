using SaeBench.Compute.Backends;
using SaeBench.Compute.Kernels;
using SaeBench.Compute.Tensors;

namespace SaeBench.Models.Language.Tests;

/// <summary>The derivative kernels of the loss gradient against finite differences of their forward kernels.</summary>
public sealed class BackwardKernelTests
{
    public static TheoryData<PointwiseKind> Activations()
    {
        var data = new TheoryData<PointwiseKind>();
        foreach (var kind in Enum.GetValues<PointwiseKind>()) data.Add(kind);
        return data;
    }

    [Theory]
    [MemberData(nameof(Activations))]
    public void Every_activation_derivative_matches_a_finite_difference(PointwiseKind kind)
    {
        var f = kind == PointwiseKind.SoftCap ? Pointwise.SoftCap(1.5f) : new Pointwise(kind);
        // 801 points in [−6, 6] (none exactly at ReLU's kink), 17 at a time so both the vector and scalar paths run.
        var x = Enumerable.Range(0, 801).Select(i => -6f + 12f * i / 800 + 1e-3f).ToArray();
        var grad = Enumerable.Repeat(1f, x.Length).ToArray();
        TransformerMath.ActivateBackward(x, grad, f);
        const float h = 1e-2f;
        float Eval(float v, float shift)
        {
            Span<float> s = stackalloc float[17];
            s.Fill(v + shift);
            TransformerMath.Activate(s, f);
            return s[0];
        }
        for (int i = 0; i < x.Length; i++)
        {
            if (kind == PointwiseKind.Relu && Math.Abs(x[i]) < 2 * h) continue;
            double numeric = (Eval(x[i], -2 * h) - 8.0 * Eval(x[i], -h) + 8.0 * Eval(x[i], h) - Eval(x[i], 2 * h)) / (12 * h);
            Assert.True(Math.Abs(numeric - grad[i]) <= 1e-3 * Math.Max(1, Math.Abs(numeric)), $"{kind} at {x[i]}: derivative {grad[i]}, finite difference {numeric}.");
        }
    }

    [Fact]
    public void Rotary_backward_is_the_transpose_of_the_rotation()
    {
        var layout = new AttentionLayout(2, 5, 4, 2, 8);
        var table = RotaryTable.Create(RotaryTable.DefaultFrequencies(6, 100), 5);
        var ops = new CpuTransformerOps();
        var rng = new Random(5);
        HostMatrix Random()
        {
            var m = new HostMatrix(layout.Rows, layout.FusedWidth);
            foreach (ref var v in m.Span) v = (float)(rng.NextDouble() * 2 - 1);
            return m;
        }
        using var x = Random();
        using var y = Random();
        using var rx = x.Clone();
        ops.Rotary(rx, layout, table);
        using var ty = y.Clone();
        ops.RotaryBackward(ty, layout, table);
        // ⟨R x, y⟩ = ⟨x, Rᵀ y⟩
        double a = 0, b = 0;
        for (int i = 0; i < x.Span.Length; i++)
        {
            a += (double)rx.Span[i] * y.Span[i];
            b += (double)x.Span[i] * ty.Span[i];
        }
        Assert.Equal(a, b, 4);
    }
}
