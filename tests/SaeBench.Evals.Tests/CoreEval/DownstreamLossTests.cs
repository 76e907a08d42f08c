using SaeBench.Compute.Tensors;
using SaeBench.Core.Models;
using SaeBench.Evals.CoreEval;

namespace SaeBench.Evals.Tests.CoreEval;

public class DownstreamLossTests
{
    private static HostMatrix M(int rows, int cols, params float[] v) => HostMatrix.Wrap(v, rows, cols);

    /// <summary>Logits → per-row outcomes (through the model side's <see cref="LogitStatistics"/>) → the accumulator.</summary>
    private static void Observe(DownstreamLossAccumulator acc, HostMatrix clean, HostMatrix sae, HostMatrix ablated, int[] targets, bool[] valid)
    {
        var outcomes = LogitStatistics.Allocate(clean.Rows, 2);
        LogitStatistics.Fill(clean, [sae, ablated], targets, outcomes);
        acc.Observe(outcomes.Clean, outcomes.Replaced[0], outcomes.Replaced[1], valid);
    }

    [Fact]
    public void Hand_computed_cross_entropy_and_kl()
    {
        var acc = new DownstreamLossAccumulator();
        // clean p = (1/2, 1/2); sae q = softmax(0, ln 3) = (1/4, 3/4); ablation = softmax(0, ln 7) = (1/8, 7/8)
        Observe(acc, M(1, 2, 0, 0), M(1, 2, 0, (float)Math.Log(3)), M(1, 2, 0, (float)Math.Log(7)), [0], [true]);
        var r = acc.Result();
        Assert.Equal(Math.Log(2), r.CeLossWithoutSae!.Value, 5);
        Assert.Equal(Math.Log(4), r.CeLossWithSae!.Value, 5);
        Assert.Equal(Math.Log(8), r.CeLossWithAblation!.Value, 5);
        Assert.Equal((Math.Log(8) - Math.Log(4)) / (Math.Log(8) - Math.Log(2)), r.CeLossScore!.Value, 5);
        double klSae = 0.5 * Math.Log(0.5 / 0.25) + 0.5 * Math.Log(0.5 / 0.75);
        double klAbl = 0.5 * Math.Log(0.5 / 0.125) + 0.5 * Math.Log(0.5 / 0.875);
        Assert.Equal(klSae, r.KlDivWithSae!.Value, 5);
        Assert.Equal(klAbl, r.KlDivWithAblation!.Value, 5);
        Assert.Equal((klAbl - klSae) / klAbl, r.KlDivScore!.Value, 5);
    }

    [Fact]
    public void Oracle_scores_one_and_ablation_scores_zero()
    {
        var clean = M(2, 3, 1, 2, 3, -1, 0, 4);
        var abl = M(2, 3, 0, 0, 0, 0, 0, 0);
        var oracle = new DownstreamLossAccumulator();
        Observe(oracle, clean, clean, abl, [2, 0], [true, true]);
        Assert.Equal(1.0, oracle.Result().CeLossScore!.Value, 12);
        Assert.Equal(1.0, oracle.Result().KlDivScore!.Value, 12);
        var zero = new DownstreamLossAccumulator();
        Observe(zero, clean, abl, abl, [2, 0], [true, true]);
        Assert.Equal(0.0, zero.Result().CeLossScore!.Value, 12);
        Assert.Equal(0.0, zero.Result().KlDivScore!.Value, 12);
    }

    [Fact]
    public void Extreme_logits_stay_finite()
    {
        var acc = new DownstreamLossAccumulator();
        Observe(acc, M(1, 2, 1000, -1000), M(1, 2, -1000, 1000), M(1, 2, 0, 0), [0], [true]);
        var r = acc.Result();
        Assert.True(double.IsFinite(r.CeLossWithSae!.Value));
        Assert.Equal(2000, r.CeLossWithSae!.Value, 3);
        Assert.True(double.IsFinite(r.KlDivWithSae!.Value));
    }

    [Fact]
    public void Unlabelled_tokens_count_for_kl_only_and_identical_ablation_is_undefined()
    {
        var acc = new DownstreamLossAccumulator();
        var l = M(1, 2, 0, 1);
        Observe(acc, l, l, l, [-1], [true]);
        var r = acc.Result();
        Assert.Null(r.CeLossWithoutSae);
        Assert.Null(r.CeLossScore);
        Assert.Equal(1, r.KlTokens);
        Assert.Null(r.KlDivScore); // KL_abl = 0: the score is undefined, not NaN
    }
}
