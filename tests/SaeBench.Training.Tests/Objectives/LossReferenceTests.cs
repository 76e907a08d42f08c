using SaeBench.Compute.Tensors;
using SaeBench.Training.Objectives;
using SaeBench.Training.Optimization;

namespace SaeBench.Training.Tests.Objectives;

/// <summary>Each loss value against a naive re-implementation in double, written from ARCHITECTURES.md's formulas.</summary>
public sealed class LossReferenceTests
{
    private static double[] Pre(HostMatrix x, ParameterSet p, int r, bool subtractBDec, bool bias = true)
    {
        int d = p.DIn, f = p.DSae;
        var pre = new double[f];
        for (int j = 0; j < f; j++)
        {
            pre[j] = bias ? p[ParameterSet.BEnc][0, j] : 0;
            for (int c = 0; c < d; c++) pre[j] += (x[r, c] - (subtractBDec ? p[ParameterSet.BDec][0, c] : 0)) * p[ParameterSet.WEnc][c, j];
        }
        return pre;
    }

    private static double[] Decode(double[] f, ParameterSet p, int upTo = int.MaxValue, bool bias = true)
    {
        int d = p.DIn;
        var xh = new double[d];
        for (int c = 0; c < d; c++)
        {
            xh[c] = bias ? p[ParameterSet.BDec][0, c] : 0;
            for (int j = 0; j < Math.Min(upTo, f.Length); j++) xh[c] += f[j] * p[ParameterSet.WDec][j, c];
        }
        return xh;
    }

    private static double Sq(HostMatrix x, int r, double[] xh) => Enumerable.Range(0, xh.Length).Sum(c => (x[r, c] - xh[c]) * (x[r, c] - xh[c]));

    private static double[] TopK(double[] v, int k)
    {
        var keep = v.Select((val, i) => (val, i)).OrderByDescending(t => t.val).Take(k).Select(t => t.i).ToHashSet();
        return v.Select((val, i) => keep.Contains(i) ? Math.Max(val, 0) : 0).ToArray();
    }

    /// <summary>AuxK: top-k_aux of the dead latents' pre-activations reconstruct e = x − x̂.</summary>
    private static double AuxK(HostMatrix x, double[][] pre, double[][] xHat, ParameterSet p, int[] dead, double[] w, int kAux, double alpha)
    {
        int b = x.Rows, d = p.DIn;
        var e = new double[b][];
        for (int r = 0; r < b; r++) e[r] = Enumerable.Range(0, d).Select(c => x[r, c] - xHat[r][c]).ToArray();
        double num = 0, den = 0;
        for (int c = 0; c < d; c++)
        {
            double mean = e.Average(row => row[c]);
            den += e.Sum(row => (row[c] - mean) * (row[c] - mean));
        }
        for (int r = 0; r < b; r++)
        {
            var cand = dead.Select(j => pre[r][j]).ToArray();
            var z = TopK(cand, Math.Min(kAux, dead.Length));
            var eh = new double[d];
            for (int i = 0; i < dead.Length; i++)
                for (int c = 0; c < d; c++) eh[c] += w[i] * z[i] * p[ParameterSet.WDec][dead[i], c];
            for (int c = 0; c < d; c++) num += (e[r][c] - eh[c]) * (e[r][c] - eh[c]);
        }
        return alpha * num / den;
    }

    [Fact]
    public void Relu_loss_is_mse_plus_decoder_norm_weighted_l1()
    {
        var (obj, p, state, x) = Some.Problem(Some.Options("relu"));
        double expected = 0;
        for (int r = 0; r < x.Rows; r++)
        {
            var f = Pre(x, p, r, true).Select(v => Math.Max(v, 0)).ToArray();
            expected += Sq(x, r, Decode(f, p));
            for (int j = 0; j < f.Length; j++)
                expected += state.Penalty * state.PenaltyScale * f[j] * Math.Sqrt(Enumerable.Range(0, p.DIn).Sum(c => Math.Pow(p[ParameterSet.WDec][j, c], 2)));
        }
        Assert.Equal(expected / x.Rows, obj.Evaluate(x, p, p, state, null).Loss, 4);
    }

    [Fact]
    public void TopK_loss_is_mse_plus_auxk_over_dead_latents()
    {
        var o = Some.Options("topk");
        var (obj, p, state, x) = Some.Problem(o);
        int b = x.Rows;
        var pre = new double[b][];
        var xh = new double[b][];
        double mse = 0;
        for (int r = 0; r < b; r++)
        {
            pre[r] = Pre(x, p, r, true);
            xh[r] = Decode(TopK(pre[r], 3), p);
            mse += Sq(x, r, xh[r]) / b;
        }
        int[] dead = [6, 7, 8, 9];
        double aux = AuxK(x, pre, xh, p, dead, [1, 1, 1, 1], 2, 1.0 / 32);
        var result = obj.Evaluate(x, p, p, state, null);
        Assert.Equal(mse, result.Reconstruction, 4);
        Assert.Equal(aux, result.Auxiliary, 5);
        Assert.Equal(3.0, result.L0, 9);
    }

    [Fact]
    public void BatchTopK_keeps_the_k_times_batch_largest_codes_of_the_batch()
    {
        var (obj, p, state, x) = Some.Problem(Some.Options("batchtopk"));
        int b = x.Rows;
        var all = new List<(double v, int r, int j)>();
        var pre = new double[b][];
        for (int r = 0; r < b; r++)
        {
            pre[r] = Pre(x, p, r, true);
            for (int j = 0; j < pre[r].Length; j++) all.Add((Math.Max(pre[r][j], 0), r, j));
        }
        var keep = all.OrderByDescending(t => t.v).Take(3 * b).Where(t => t.v > 0).ToHashSet();
        double mse = 0;
        for (int r = 0; r < b; r++)
        {
            var f = pre[r].Select((v, j) => keep.Contains((Math.Max(v, 0), r, j)) ? Math.Max(v, 0) : 0).ToArray();
            mse += Sq(x, r, Decode(f, p)) / b;
        }
        var result = obj.Evaluate(x, p, p, state, null);
        Assert.Equal(mse, result.Reconstruction, 4);
        Assert.Equal(keep.Min(t => t.v), result.MinSelected, 5);
    }

    [Fact]
    public void Matryoshka_loss_averages_the_prefix_reconstructions()
    {
        var (obj, p, state, x) = Some.Problem(Some.Options("matryoshka_batchtopk"));
        int b = x.Rows;
        var all = new List<(double v, int r, int j)>();
        var pre = new double[b][];
        for (int r = 0; r < b; r++)
        {
            pre[r] = Pre(x, p, r, true);
            for (int j = 0; j < pre[r].Length; j++) all.Add((Math.Max(pre[r][j], 0), r, j));
        }
        var keep = all.OrderByDescending(t => t.v).Take(3 * b).ToHashSet();
        double total = 0;
        foreach (int m in new[] { 2, 5, 10 })
            for (int r = 0; r < b; r++)
            {
                var f = pre[r].Select((v, j) => keep.Contains((Math.Max(v, 0), r, j)) ? Math.Max(v, 0) : 0).ToArray();
                total += Sq(x, r, Decode(f, p, upTo: m)) / b / 3;
            }
        Assert.Equal(total, obj.Evaluate(x, p, p, state, null).Reconstruction, 4);
    }

    [Fact]
    public void JumpRelu_loss_is_mse_plus_lambda_l0_without_bdec_subtraction()
    {
        var (obj, p, state, x) = Some.Problem(Some.Options("jumprelu"));
        double expected = 0;
        for (int r = 0; r < x.Rows; r++)
        {
            var pre = Pre(x, p, r, subtractBDec: false);
            var f = pre.Select((v, j) => v > Math.Exp(p[ParameterSet.LogThreshold][0, j]) ? v : 0).ToArray();
            expected += Sq(x, r, Decode(f, p)) + state.Penalty * state.PenaltyScale * f.Count(v => v != 0);
        }
        Assert.Equal(expected / x.Rows, obj.Evaluate(x, p, p, state, null).Loss, 4);
    }

    [Fact]
    public void Gated_loss_has_gate_l1_and_the_frozen_decoder_reconstruction()
    {
        var (obj, p, state, x) = Some.Problem(Some.Options("gated"));
        double expected = 0;
        for (int r = 0; r < x.Rows; r++)
        {
            var u = Pre(x, p, r, true, bias: false);
            var piGate = u.Select((v, j) => v + p[ParameterSet.BGate][0, j]).ToArray();
            var piMag = u.Select((v, j) => Math.Exp(p[ParameterSet.RMag][0, j]) * v + p[ParameterSet.BMag][0, j]).ToArray();
            var f = piGate.Select((g, j) => g > 0 ? Math.Max(piMag[j], 0) : 0).ToArray();
            var gate = piGate.Select(g => Math.Max(g, 0)).ToArray();
            expected += Sq(x, r, Decode(f, p)) + state.Penalty * gate.Sum() + Sq(x, r, Decode(gate, p));
        }
        Assert.Equal(expected / x.Rows, obj.Evaluate(x, p, p, state, null).Loss, 4);
    }

    [Fact]
    public void FeatureChoice_each_latent_keeps_its_capacity_of_largest_tokens()
    {
        var (obj, p, state, x) = Some.Problem(Some.Options("feature_choice", o => o with { Capacity = "uniform" }));
        int b = x.Rows, f = p.DSae;
        int m = (3 * b + f - 1) / f; // ⌈kB/F⌉ = 3
        var pre = Enumerable.Range(0, b).Select(r => Pre(x, p, r, true)).ToArray();
        var codes = new double[b][];
        for (int r = 0; r < b; r++) codes[r] = new double[f];
        for (int j = 0; j < f; j++)
            foreach (var r in Enumerable.Range(0, b).OrderByDescending(r => pre[r][j]).Take(m))
                codes[r][j] = Math.Max(pre[r][j], 0);
        double mse = Enumerable.Range(0, b).Sum(r => Sq(x, r, Decode(codes[r], p))) / b;
        var result = obj.Evaluate(x, p, p, state, null);
        Assert.Equal(mse, result.Reconstruction, 4);
        Assert.All(((FeatureChoiceObjective)obj).Capacities(b, state.Density), c => Assert.Equal(m, c));
    }

    [Fact]
    public void Zipf_capacities_sum_to_the_budget_and_favour_dense_latents()
    {
        var (obj, _, state, _) = Some.Problem(Some.Options("feature_choice", o => o with { Capacity = "zipf", CapacityZipfOffset = 1, CapacityZipfAlpha = 1 }));
        var caps = ((FeatureChoiceObjective)obj).Capacities(64, state.Density);
        Assert.Equal(3 * 64, caps.Sum());
        // Latent 0 is the densest, latent 1 the second: m ∝ 1/(r + 1) gives them about 2:1.
        Assert.True(caps[0] > caps[1] && caps[1] > caps[2]);
        Assert.InRange(caps[0] / (double)caps[1], 1.7, 2.3);
    }

    [Fact]
    public void Zipf_capacities_with_exponent_one_are_the_default_and_follow_one_over_rank_plus_offset()
    {
        var defaults = Some.Options("feature_choice");
        Assert.Equal("zipf", defaults.Capacity);
        Assert.Equal(1.0, defaults.CapacityZipfAlpha);
        Assert.Equal(10.0, defaults.CapacityZipfOffset);
        // With every density equal, ranks are the indices (ties → lower index): m_j ∝ 1/(j + 10), rescaled to Σ m = k·B.
        // Hand-computed for F = 10, k = 3, B = 1000: budget 3000, shares 1/10 … 1/19 (sum H = 0.71877...).
        var (obj, _, state, _) = Some.Problem(defaults);
        Array.Fill(state.Density, 0.0);
        var caps = ((FeatureChoiceObjective)obj).Capacities(1000, state.Density);
        Assert.Equal(3000, caps.Sum());
        double h = Enumerable.Range(0, 10).Sum(j => 1.0 / (j + 10));
        for (int j = 0; j < 10; j++) Assert.InRange(caps[j], Math.Floor(3000 / (j + 10.0) / h), Math.Ceiling(3000 / (j + 10.0) / h));
    }
}
