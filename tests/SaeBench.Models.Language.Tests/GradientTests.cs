using SaeBench.Compute.Tensors;

namespace SaeBench.Models.Language.Tests;

/// <summary>
/// <see cref="LanguageModel.GradientFromHook(string, HostMatrix, int, IReadOnlyList{TokenTarget})"/> against central
/// finite differences of the forward pass (directional derivatives along random directions) on tiny random models of
/// every family configuration, from resid_pre / resid_mid / resid_post of the first, middle and last layers.
/// </summary>
public sealed class GradientTests
{
    private const int Batch = 2;

    /// <summary>Several targets per sequence, both sequences, one row scored twice.</summary>
    private static readonly TokenTarget[] Targets =
        [new(0, 1, 5), new(0, 4, 17), new(0, 6, 60), new(1, 0, 2), new(1, 3, 33), new(1, 3, 8), new(1, 5, 41)];

    public static TheoryData<string, string> Cases()
    {
        var data = new TheoryData<string, string>();
        foreach (var (model, hooks) in new (string, string[])[]
        {
            ("gpt2", ["blocks.0.hook_resid_pre", "blocks.1.hook_resid_mid", "blocks.1.hook_resid_post", "blocks.2.hook_resid_post"]),
            ("gpt2-tl", ["blocks.0.hook_resid_pre", "blocks.2.hook_resid_mid"]),
            ("gpt2-quickgelu", ["blocks.1.hook_resid_pre"]),
            ("neox", ["blocks.0.hook_resid_pre", "blocks.1.hook_resid_pre", "blocks.1.hook_resid_post", "blocks.2.hook_resid_post"]),
            ("llama", ["blocks.0.hook_resid_pre", "blocks.1.hook_resid_mid", "blocks.2.hook_resid_pre", "blocks.2.hook_resid_post"]),
            ("llama-gelu", ["blocks.0.hook_resid_pre"]),
            ("qwen2", ["blocks.0.hook_resid_mid", "blocks.1.hook_resid_pre"]),
            ("gemma2", ["blocks.0.hook_resid_pre", "blocks.0.hook_resid_mid", "blocks.1.hook_resid_mid", "blocks.2.hook_resid_pre", "blocks.2.hook_resid_post"]),
        })
        foreach (var hook in hooks) data.Add(model, hook);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Gradient_matches_central_differences(string name, string hook)
    {
        var model = GradientModels.Model(name);
        using var value = GradientModels.ValueAt(model, hook, Batch);
        using var result = model.GradientFromHook(hook, value, GradientModels.Context, Targets);
        double rms = Math.Sqrt(value.Span.ToArray().Average(v => (double)v * v));
        var rng = new Random(11);
        for (int k = 0; k < 3; k++)
        {
            var direction = new float[value.Span.Length];
            for (int i = 0; i < direction.Length; i++) direction[i] = (float)(Normal(rng) * rms);
            double analytic = 0, gradNorm = 0, directionNorm = 0;
            var g = result.Gradient.Span;
            for (int i = 0; i < direction.Length; i++)
            {
                analytic += (double)g[i] * direction[i];
                gradNorm += (double)g[i] * g[i];
                directionNorm += (double)direction[i] * direction[i];
            }
            // Five-point central difference: truncation O(ε⁴), so ε can stay well above the float32 forward's noise.
            const double eps = 1e-2;
            double numeric = (Loss(model, hook, value, direction, -2 * eps, Targets) - 8 * Loss(model, hook, value, direction, -eps, Targets)
                + 8 * Loss(model, hook, value, direction, eps, Targets) - Loss(model, hook, value, direction, 2 * eps, Targets)) / (12 * eps);
            // Relative 1e-2, with a floor of 1e-5·‖grad‖·‖v‖ for directions nearly orthogonal to the gradient.
            double tolerance = 1e-2 * Math.Max(Math.Abs(numeric), Math.Abs(analytic)) + 1e-5 * Math.Sqrt(gradNorm * directionNorm);
            Assert.True(Math.Abs(analytic - numeric) <= tolerance,
                $"{name} {hook} direction {k}: ⟨grad, v⟩ = {analytic:G6}, finite difference {numeric:G6} (tolerance {tolerance:G3}).");
        }
    }

    [Theory]
    [InlineData("gpt2", "blocks.1.hook_resid_pre")]
    [InlineData("neox", "blocks.0.hook_resid_post")]
    [InlineData("llama", "blocks.1.hook_resid_mid")]
    [InlineData("gemma2", "blocks.0.hook_resid_pre")]
    public void Losses_are_the_forward_pass_log_softmax(string name, string hook)
    {
        var model = GradientModels.Model(name);
        using var value = GradientModels.ValueAt(model, hook, Batch);
        using var result = model.GradientFromHook(hook, value, GradientModels.Context, Targets);
        var expected = ForwardLosses(model, hook, value, Targets);
        Assert.Equal(Targets.Length, result.Losses.Length);
        for (int i = 0; i < Targets.Length; i++)
            Assert.True(Math.Abs(expected[i] - result.Losses[i]) <= 1e-5 * Math.Max(1, Math.Abs(expected[i])), $"target {i}: {result.Losses[i]} vs forward {expected[i]}");
        Assert.Equal(result.Losses.Sum(), result.TotalLoss, 12);
    }

    [Theory]
    [InlineData("gpt2", "blocks.0.hook_resid_pre")]
    [InlineData("neox", "blocks.0.hook_resid_pre")]
    [InlineData("llama", "blocks.0.hook_resid_mid")]
    [InlineData("gemma2", "blocks.0.hook_resid_pre")]
    public void Positions_after_the_last_target_of_a_sequence_get_zero_gradient(string name, string hook)
    {
        var model = GradientModels.Model(name);
        using var value = GradientModels.ValueAt(model, hook, 3);
        // Sequence 0 scored at position 3, sequence 1 at position 1, sequence 2 not at all.
        using var result = model.GradientFromHook(hook, value, GradientModels.Context, [new TokenTarget(0, 3, 9), new TokenTarget(1, 1, 4)]);
        int t = GradientModels.Context;
        int[] last = [3, 1, -1];
        for (int b = 0; b < 3; b++)
        for (int p = 0; p < t; p++)
        {
            var row = result.Gradient.Row(b * t + p);
            bool zero = row.IndexOfAnyExcept(0f) < 0;
            if (p > last[b]) Assert.True(zero, $"{name}: sequence {b} position {p} is after its last target but has a gradient.");
            else Assert.False(zero, $"{name}: sequence {b} position {p} feeds a target but has no gradient.");
        }
    }

    [Fact]
    public void No_targets_give_zero_loss_and_zero_gradient()
    {
        var model = GradientModels.Model("gpt2");
        using var value = GradientModels.ValueAt(model, "blocks.1.hook_resid_pre", Batch);
        using var result = model.GradientFromHook("blocks.1.hook_resid_pre", value, GradientModels.Context, []);
        Assert.Empty(result.Losses);
        Assert.True(result.Gradient.Span.IndexOfAnyExcept(0f) < 0);
        Assert.Equal(value.Rows, result.Gradient.Rows);
    }

    [Fact]
    public void The_hook_point_and_name_overloads_agree_and_repeat_exactly()
    {
        var model = GradientModels.Model("llama");
        using var value = GradientModels.ValueAt(model, "blocks.1.hook_resid_pre", Batch);
        using var a = model.GradientFromHook("blocks.1.hook_resid_pre", value, GradientModels.Context, Targets);
        using var b = model.GradientFromHook(new HookPoint(1, HookKind.ResidPre), value, GradientModels.Context, Targets);
        Assert.Equal(a.Losses, b.Losses);
        Assert.True(a.Gradient.Span.SequenceEqual(b.Gradient.Span));
    }

    [Fact]
    public void Concurrent_calls_on_one_model_agree_and_leave_the_value_untouched()
    {
        var model = GradientModels.Model("gemma2");
        using var value = GradientModels.ValueAt(model, "blocks.1.hook_resid_pre", Batch);
        var before = value.Span.ToArray();
        using var reference = model.GradientFromHook("blocks.1.hook_resid_pre", value, GradientModels.Context, Targets);
        var results = new LossGradient[8];
        Parallel.For(0, results.Length, i => results[i] = model.GradientFromHook("blocks.1.hook_resid_pre", value, GradientModels.Context, Targets));
        foreach (var r in results)
        {
            // Equal up to float rounding: a GEMM library may split its work differently when called from several threads.
            for (int i = 0; i < Targets.Length; i++) Assert.Equal(reference.Losses[i], r.Losses[i], 1e-5);
            LmFixtures.AssertClose(r.Gradient.Span, reference.Gradient.Span, 1e-5, "concurrent gradient");
            r.Dispose();
        }
        Assert.True(value.Span.SequenceEqual(before));
    }

    [Theory]
    [InlineData("blocks.1.hook_attn_out")]
    [InlineData("blocks.1.attn.hook_z")]
    [InlineData("blocks.1.hook_mlp_out")]
    public void Non_residual_hooks_are_refused_naming_the_hook(string hook)
    {
        var model = GradientModels.Model("gpt2");
        using var value = new HostMatrix(Batch * GradientModels.Context, model.Hooks.Width(model.Hooks.Resolve(hook)));
        var e = Assert.Throws<ArgumentException>(() => model.GradientFromHook(hook, value, GradientModels.Context, Targets));
        Assert.Contains(hook, e.Message);
    }

    [Theory]
    [InlineData(2, 0, 0, "Sequence")]
    [InlineData(-1, 0, 0, "Sequence")]
    [InlineData(0, 7, 0, "Position")]
    [InlineData(0, -1, 0, "Position")]
    [InlineData(1, 3, GradientModels.Vocab, "Token")]
    [InlineData(1, 3, -2, "Token")]
    public void Out_of_range_targets_are_refused_naming_the_field(int sequence, int position, int token, string field)
    {
        var model = GradientModels.Model("gpt2");
        using var value = new HostMatrix(Batch * GradientModels.Context, GradientModels.DModel);
        var e = Assert.Throws<ArgumentException>(() =>
            model.GradientFromHook("blocks.0.hook_resid_pre", value, GradientModels.Context, [new TokenTarget(0, 0, 1), new TokenTarget(sequence, position, token)]));
        Assert.Contains($"targets[1].{field}", e.Message);
        Assert.Equal("targets", e.ParamName);
    }

    [Fact]
    public void Bad_shapes_and_unknown_hooks_are_refused()
    {
        var model = GradientModels.Model("neox");
        using var value = new HostMatrix(Batch * GradientModels.Context, GradientModels.DModel);
        Assert.Contains("context", Assert.Throws<ArgumentException>(() => model.GradientFromHook("blocks.0.hook_resid_pre", value, 5, Targets)).Message);
        using var narrow = new HostMatrix(Batch * GradientModels.Context, 5);
        Assert.Contains("columns", Assert.Throws<ArgumentException>(() => model.GradientFromHook("blocks.0.hook_resid_pre", narrow, GradientModels.Context, Targets)).Message);
        // NeoX has a parallel residual: no hook_resid_mid.
        Assert.Contains("parallel residual", Assert.Throws<ArgumentException>(() => model.GradientFromHook("blocks.0.hook_resid_mid", value, GradientModels.Context, Targets)).Message);
    }

    /// <summary>Σ −log softmax(logits)[token] of the forward pass from <paramref name="hook"/> with value + step·direction.</summary>
    private static double Loss(LanguageModel model, string hook, HostMatrix value, float[] direction, double step, TokenTarget[] targets)
    {
        using var shifted = value.Clone();
        var s = shifted.Span;
        for (int i = 0; i < s.Length; i++) s[i] = (float)(s[i] + step * direction[i]);
        return ForwardLosses(model, hook, shifted, targets).Sum();
    }

    /// <summary>Per-target losses from <see cref="LanguageModel.ForwardFromHook(string, HostMatrix, TokenBatch?, int?, ForwardOptions?)"/>
    /// and the full logits, log-softmax in double.</summary>
    private static double[] ForwardLosses(LanguageModel model, string hook, HostMatrix value, TokenTarget[] targets)
    {
        using var forward = model.ForwardFromHook(hook, value, null, GradientModels.Context);
        using var logits = model.Logits(forward.RequireHidden());
        var losses = new double[targets.Length];
        for (int i = 0; i < targets.Length; i++)
        {
            var row = logits.Row(targets[i].Sequence * GradientModels.Context + targets[i].Position);
            double max = double.NegativeInfinity;
            foreach (var v in row) max = Math.Max(max, v);
            double sum = 0;
            foreach (var v in row) sum += Math.Exp(v - max);
            losses[i] = max + Math.Log(sum) - row[targets[i].Token];
        }
        return losses;
    }

    private static double Normal(Random rng) =>
        Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());
}
