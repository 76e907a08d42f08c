using SaeBench.Training.Objectives;
using SaeBench.Training.Optimization;

namespace SaeBench.Training.Tests.Objectives;

/// <summary>
/// Every objective's hand-derived gradient against central finite differences of its own loss, for every element of
/// every parameter. Stop-gradients are respected by perturbing only the live parameters (the detached copy stays
/// at the base point). Elements whose ±h perturbation changes a discrete choice (which codes are active, which are
/// selected) are skipped, and the test requires that almost all elements were checked.
/// </summary>
public sealed class GradientTests(Xunit.Abstractions.ITestOutputHelper output)
{
    private static readonly (string Architecture, string Capacity)[] Architectures =
    [
        ("relu", ""), ("p_anneal", ""), ("topk", ""), ("batchtopk", ""), ("jumprelu", ""), ("gated", ""),
        ("matryoshka_batchtopk", ""), ("mutual_choice", ""), ("feature_choice", "uniform"), ("feature_choice", "zipf"),
    ];

    /// <summary>Architectures without a sparse-code path (gated's two encoder paths stay dense).</summary>
    private static readonly HashSet<string> DenseOnly = ["gated"];

    /// <summary>Every architecture on the dense path and on the sparse-code path (forced: the problems are too small
    /// for <see cref="CodePath.Auto"/> to choose it).</summary>
    public static TheoryData<string, string, CodePath> Cases()
    {
        var data = new TheoryData<string, string, CodePath>();
        foreach (var (a, c) in Architectures)
        {
            data.Add(a, c, CodePath.Dense);
            if (!DenseOnly.Contains(a)) data.Add(a, c, CodePath.Sparse);
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Gradient_matches_central_differences(string architecture, string capacity, CodePath path)
    {
        var options = Some.Options(architecture, o => capacity == "" ? o : o with { Capacity = capacity });
        for (ulong seed = 1; seed <= 3; seed++) Check(options, seed, path);
    }

    private static void Check(TrainingOptions options, ulong seed, CodePath path)
    {
        var (objective, p, state, x) = Some.Problem(options, seed);
        objective.TrackSupport = true;
        objective.CodePath = path;
        var grads = p.ZerosLike();
        var baseResult = objective.Evaluate(x, p, p, state, grads);
        Assert.True(double.IsFinite(baseResult.Loss));
        Assert.True(baseResult.SparseCodes == (path == CodePath.Sparse), $"{options.Architecture}: sparse path taken = {baseResult.SparseCodes}, asked {path}.");
        var detached = p.Clone();

        foreach (var (name, tensor) in p.Tensors)
        {
            if (name == ParameterSet.LogThreshold) continue; // straight-through: tested against its formula below
            var g = grads[name].Span;
            int checkedCount = 0, nonZero = 0;
            for (int i = 0; i < tensor.Length; i++)
            {
                // A smaller step when the larger one crosses a kink.
                foreach (var h in new[] { 1e-2f, 2e-3f })
                {
                    var live = detached.Clone();
                    var s = live[name].Span;
                    float orig = s[i];
                    s[i] = orig + h;
                    var plus = objective.Evaluate(x, live, detached, state, null);
                    s[i] = orig - h;
                    var minus = objective.Evaluate(x, live, detached, state, null);
                    if (plus.Support != baseResult.Support || minus.Support != baseResult.Support) continue;
                    checkedCount++;
                    double fd = (plus.Loss - minus.Loss) / (2 * h);
                    double tol = 2e-3 * (1e-2 / h) + 1e-2 * Math.Max(Math.Abs(fd), Math.Abs(g[i]));
                    Assert.True(Math.Abs(fd - g[i]) <= tol,
                        $"{options.Architecture} seed {seed}: ∂L/∂{name}[{i}] = {g[i]:G6}, finite difference {fd:G6} (h = {h}).");
                    if (Math.Abs(g[i]) > 1e-4) nonZero++;
                    break;
                }
            }
            Assert.True(checkedCount >= 0.8 * tensor.Length, $"{options.Architecture}: only {checkedCount}/{tensor.Length} elements of {name} away from kinks.");
            Assert.True(nonZero > 0, $"{options.Architecture}: the gradient of {name} is zero everywhere, so the check proves nothing.");
        }
    }

    /// <summary>
    /// The sparse path computes the same loss and gradient as the dense GEMMs on a problem of a realistic shape (codes
    /// a few percent dense, some latents dead so the auxiliary terms run): only the summation order differs.
    /// </summary>
    [Theory]
    [MemberData(nameof(SparseArchitectures))]
    public void Sparse_path_matches_the_dense_path(string architecture, string capacity)
    {
        const int dIn = 48, width = 512, batch = 96;
        var options = Some.Options(architecture, o => (capacity == "" ? o : o with { Capacity = capacity }) with
        {
            Width = width, TargetL0 = 12, AuxK = 24, MatryoshkaPrefixes = [32, 128, 512], JumpReluBandwidth = 0.05,
        });
        var results = new List<(StepResult R, ParameterSet G)>();
        foreach (var path in new[] { CodePath.Dense, CodePath.Sparse })
        {
            var (objective, p, state, x) = Some.Problem(options, seed: 5, dIn, batch);
            // Penalty codes: shift the pre-activations (std ≈ 3.6 here) so that about 3 % fire.
            if (architecture is "relu" or "p_anneal")
                foreach (ref var v in p.Vector(ParameterSet.BEnc)) v -= 7f;
            if (architecture == "jumprelu")
                foreach (ref var v in p.Vector(ParameterSet.LogThreshold)) v = MathF.Log(7f) + 0.1f * v;
            objective.CodePath = path;
            var grads = p.ZerosLike();
            var r = objective.Evaluate(x, p, p, state, grads);
            Assert.Equal(path == CodePath.Sparse, r.SparseCodes);
            results.Add((r, grads));
        }
        var (dense, sparse) = (results[0], results[1]);
        Assert.Equal(dense.R.L0, sparse.R.L0);
        Assert.Equal(dense.R.FiresPerLatent, sparse.R.FiresPerLatent);
        Assert.True(dense.R.L0 > 0 && dense.R.L0 < 0.25 * width, $"L0 {dense.R.L0}: the problem should be sparse but not empty");
        Assert.True(Math.Abs(dense.R.Loss - sparse.R.Loss) <= 1e-5 * Math.Abs(dense.R.Loss), $"loss {dense.R.Loss} vs {sparse.R.Loss}");
        output.WriteLine($"{architecture}: loss dense {dense.R.Loss:R}, sparse {sparse.R.Loss:R}");
        if (architecture is not ("relu" or "p_anneal" or "jumprelu"))
            Assert.True(dense.R.Auxiliary > 0, "the auxiliary term should be active");
        foreach (var (name, g) in dense.G.Tensors)
        {
            var a = g.Span;
            var b = sparse.G[name].Span;
            double scale = 0, diff = 0;
            for (int i = 0; i < a.Length; i++)
            {
                scale = Math.Max(scale, Math.Abs(a[i]));
                diff = Math.Max(diff, Math.Abs(a[i] - b[i]));
            }
            Assert.True(scale > 0, $"{name}: zero gradient");
            output.WriteLine($"{architecture} ∂L/∂{name}: max |dense − sparse| = {diff:G3}, max |dense| = {scale:G3} (relative {diff / scale:G3})");
            Assert.True(diff <= 1e-5 * scale, $"{architecture}: ∂L/∂{name} differs by {diff:G3} (largest element {scale:G3}).");
        }
    }

    public static TheoryData<string, string> SparseArchitectures()
    {
        var data = new TheoryData<string, string>();
        foreach (var (a, c) in Architectures) if (!DenseOnly.Contains(a)) data.Add(a, c);
        return data;
    }

    [Fact]
    public void Auxiliary_terms_are_active_in_the_gradient_problems()
    {
        foreach (var arch in new[] { "topk", "batchtopk", "matryoshka_batchtopk", "mutual_choice", "feature_choice", "gated" })
        {
            var (objective, p, state, x) = Some.Problem(Some.Options(arch));
            Assert.True(objective.Evaluate(x, p, p, state, null).Auxiliary > 1e-4, arch);
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)] // the signed controller may drive λ below 0 (a reward for firing)
    public void JumpRelu_threshold_gradient_is_the_rectangle_kernel_pseudo_derivative(bool negativeLambda)
    {
        var options = Some.Options("jumprelu");
        var (objective, p, state, x) = Some.Problem(options);
        if (negativeLambda) state.Penalty = -0.25;
        var grads = p.ZerosLike();
        objective.Evaluate(x, p, p, state, grads);

        // Independent naive computation in double.
        int b = x.Rows, d = Some.DIn, f = Some.Width;
        double eps = options.JumpReluBandwidth, lambda = state.Penalty * state.PenaltyScale; // λ warm-up s(t) applies to jumprelu too
        var wEnc = p[ParameterSet.WEnc]; var wDec = p[ParameterSet.WDec];
        var bEnc = p.Vector(ParameterSet.BEnc).ToArray(); var bDec = p.Vector(ParameterSet.BDec).ToArray();
        var theta = p.Vector(ParameterSet.LogThreshold).ToArray().Select(t => Math.Exp(t)).ToArray();
        var expected = new double[f];
        int inKernel = 0;
        for (int r = 0; r < b; r++)
        {
            var pre = new double[f];
            for (int j = 0; j < f; j++)
            {
                pre[j] = bEnc[j];
                for (int c = 0; c < d; c++) pre[j] += x[r, c] * wEnc[c, j];
            }
            var xHat = new double[d];
            for (int c = 0; c < d; c++)
            {
                xHat[c] = bDec[c];
                for (int j = 0; j < f; j++) if (pre[j] > theta[j]) xHat[c] += pre[j] * wDec[j, c];
            }
            for (int j = 0; j < f; j++)
            {
                double dLdf = 0;
                for (int c = 0; c < d; c++) dLdf += 2.0 / b * (xHat[c] - x[r, c]) * wDec[j, c];
                double u = (pre[j] - theta[j]) / eps;
                double k = Math.Abs(u) <= 0.5 ? 1 : 0;
                inKernel += (int)k;
                double dTheta = dLdf * (-theta[j] / eps * k) + lambda / b * (-1 / eps * k);
                expected[j] += theta[j] * dTheta; // chain rule through θ = exp(t)
            }
        }
        Assert.True(inKernel > 3, "too few pre-activations inside the kernel window for a meaningful check");
        var got = grads.Vector(ParameterSet.LogThreshold);
        for (int j = 0; j < f; j++)
            Assert.True(Math.Abs(got[j] - expected[j]) <= 1e-4 + 1e-4 * Math.Abs(expected[j]), $"∂L/∂log θ[{j}] = {got[j]}, formula {expected[j]}");
    }
}
