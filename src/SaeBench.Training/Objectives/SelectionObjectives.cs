using SaeBench.Compute.Backends;
using SaeBench.Compute.Kernels;
using SaeBench.Compute.Tensors;
using SaeBench.Training.Optimization;

namespace SaeBench.Training.Objectives;

/// <summary>
/// Objectives whose sparsity comes from a selection (top-k per token, per batch or per latent) rather than a
/// penalty: <c>L = mean‖x − x̂‖² + auxiliary</c>, with the gradient flowing through the selected codes only.
/// </summary>
public abstract class SelectionObjective(TrainingOptions options, int dIn, ComputeBackend backend) : SaeObjective(options, dIn, backend)
{
    /// <summary>k: latents per token (on average for batch selections), the target L0 rounded.</summary>
    public int K => Math.Max(1, (int)Math.Round(Options.TargetL0));

    /// <summary>k_aux: the option, or d_in/2.</summary>
    public int KAux => Options.AuxK ?? Math.Max(1, DIn / 2);

    /// <summary>Turns <c>ws.Pre</c> into codes in <c>ws.F</c> (selected, ReLU'd) and records observations.</summary>
    protected abstract void Select(Workspace ws, ObjectiveState state, StepResult result);

    /// <summary>The auxiliary loss (AuxK by default); adds into ws.DF (already ∂L/∂pre of the main loss) when grads are given.</summary>
    protected virtual double Auxiliary(HostMatrix x, ParameterSet live, ParameterSet detached, ObjectiveState state,
        ParameterSet? grads, Workspace ws, StepResult result)
    {
        var dead = state.DeadLatents(Options.DeadWindowTokens);
        if (dead.Length == 0) return 0;
        var e = DetachedResidual(x, live, detached, state, ws);
        var ones = new float[dead.Length];
        Array.Fill(ones, 1f);
        ulong support = result.Support;
        var (dense, sparse) = AuxiliaryTarget(grads, ws);
        double loss = AuxiliaryReconstruction.Evaluate(Backend, ws.Pre, dead, ones, KAux, Options.AuxKCoefficient, e, live, grads, dense, ref support, sparse);
        result.Support = support;
        return loss;
    }

    /// <summary>
    /// The selection as a sparse code (stored entries in ascending column order, values after ReLU), or null for the
    /// dense path. By default: the dense <see cref="Select"/>, then the non-zeros are stored when they fit the budget
    /// (the budget is about k/F of the batch by construction of every selection). Returning null leaves the dense
    /// selection in <c>ws.F</c> (the selection has side effects and runs once per pass).
    /// </summary>
    protected virtual SparseRows? SelectSparse(Workspace ws, ObjectiveState state, StepResult result)
    {
        ws.Pre.Span.CopyTo(ws.F.Span);
        Select(ws, state, result);
        return TryCompressCodes(ws.F, ws);
    }

    /// <summary>True when <see cref="SelectSparse"/> adds b_enc to <c>ws.Pre</c> itself (then <see cref="SaeObjective.Encode"/> does not).</summary>
    protected virtual bool FusesEncoderBias => false;

    /// <summary>Whether the sparse path is worth trying this step (Auto: when k/F is at most <see cref="SaeObjective.SparseMaxDensity"/>).</summary>
    protected bool TrySparse => CodePath == CodePath.Sparse || (CodePath == CodePath.Auto && K <= DSae * SparseMaxDensity);

    /// <summary>Where the auxiliary terms add their ∂L/∂pre: the dense <c>ws.DF</c>, or the sparse parts.</summary>
    protected static (HostMatrix? Dense, List<(SparseRows, float[])>? Sparse) AuxiliaryTarget(ParameterSet? grads, Workspace ws) =>
        grads is null ? (null, null) : ws.SparseActive ? (null, ws.SparseDPre) : (ws.DF, null);

    protected override void Forward(HostMatrix x, ParameterSet live, ParameterSet detached, ObjectiveState state,
        ParameterSet? grads, Workspace ws, StepResult result)
    {
        int b = x.Rows;
        bool trySparse = TrySparse;
        // A selection that adds b_enc itself, row by row as it selects, saves a sweep over the [B, F] pre-activations.
        Encode(x, live, ws, addBias: !(trySparse && FusesEncoderBias));
        if (trySparse)
        {
            var sparse = SelectSparse(ws, state, result);
            if (sparse is not null)
            {
                ForwardSparse(x, live, detached, state, grads, ws, result, sparse);
                return;
            }
            // Not sparse enough this step: the dense selection, already in ws.F, takes over.
        }
        else
        {
            ws.Pre.Span.CopyTo(ws.F.Span);
            Select(ws, state, result);
        }
        CountCodes(ws.F, result);
        double recon = ReconstructAndBackward(x, live, grads, ws, result);
        double aux = Auxiliary(x, live, detached, state, grads, ws, result);
        result.Reconstruction = recon;
        result.Auxiliary = aux;
        result.Loss = recon + aux;
        if (grads is not null) BackwardEncoder(ws.DF, live, grads, ws);
    }

    /// <summary>Reconstruction loss; with grads, the decoder gradients and ∂L/∂pre (masked to the selection) in ws.DF.</summary>
    protected virtual double ReconstructAndBackward(HostMatrix x, ParameterSet live, ParameterSet? grads, Workspace ws, StepResult result)
    {
        double sse = Reconstruct(ws.F, x, live, ws);
        result.SquaredErrorSum = sse;
        if (grads is not null)
        {
            BackwardDecoder(ws.F, live, grads, ws);
            MaskByActive(ws.DF, ws.F);
        }
        return sse / x.Rows;
    }

    private void ForwardSparse(HostMatrix x, ParameterSet live, ParameterSet detached, ObjectiveState state,
        ParameterSet? grads, Workspace ws, StepResult result, SparseRows codes)
    {
        CountCodesSparse(codes, result);
        var df = ws.CodeGrad(codes);
        double recon = ReconstructAndBackwardSparse(x, live, grads, ws, result, codes, df);
        ws.SparseActive = true;
        if (grads is not null) ws.SparseDPre.Add((codes, df));
        double aux = Auxiliary(x, live, detached, state, grads, ws, result);
        result.Reconstruction = recon;
        result.Auxiliary = aux;
        result.Loss = recon + aux;
        if (grads is not null) BackwardEncoderSparse(ws.SparseDPre, live, grads, ws);
    }

    /// <summary>Sparse <see cref="ReconstructAndBackward"/>: ∂L/∂pre at the stored entries (masked to the selection) in <paramref name="df"/>.</summary>
    protected virtual double ReconstructAndBackwardSparse(HostMatrix x, ParameterSet live, ParameterSet? grads, Workspace ws, StepResult result,
        SparseRows codes, float[] df)
    {
        double sse = ReconstructSparse(codes, x, live, ws);
        result.SquaredErrorSum = sse;
        if (grads is not null)
        {
            BackwardDecoderSparse(codes, live, grads, ws, df);
            MaskByActive(df, codes);
        }
        return sse / x.Rows;
    }

    /// <summary>Smallest positive code (NaN when none).</summary>
    protected static double MinPositive(ReadOnlySpan<float> f)
    {
        float min = float.PositiveInfinity;
        foreach (var v in f) if (v > 0f && v < min) min = v;
        return float.IsPositiveInfinity(min) ? double.NaN : min;
    }

    /// <summary>θ ← (1−β)θ + β·observed (θ = observed the first time).</summary>
    protected void UpdateScalarThreshold(ObjectiveState state, double observed)
    {
        if (double.IsNaN(observed)) return;
        state.ScalarThreshold = double.IsNaN(state.ScalarThreshold)
            ? observed
            : (1 - Options.ThresholdRate) * state.ScalarThreshold + Options.ThresholdRate * observed;
    }
}

/// <summary><c>topk</c>: keep the k largest pre-activations per token, ReLU; AuxK on dead latents.</summary>
public sealed class TopKObjective(TrainingOptions options, int dIn, ComputeBackend backend) : SelectionObjective(options, dIn, backend)
{
    public override string Id => "topk";

    protected override void Select(Workspace ws, ObjectiveState state, StepResult result)
    {
        Backend.Selection.KeepRowTopK(ws.F, K);
        Backend.Activations.Relu(ws.F);
    }

    /// <summary>The k largest pre-activations of each row straight into the sparse code (ReLU on the kept values); the
    /// dense code is never formed.</summary>
    protected override bool FusesEncoderBias => true;

    protected override SparseRows? SelectSparse(Workspace ws, ObjectiveState state, StepResult result)
    {
        int b = ws.Rows, k = K;
        var bias = ws.EncoderBias!;
        var pre = ws.Pre;
        if (k >= DSae)
        {
            RowOps.AddRowVector(pre.Span, DSae, bias);
            return base.SelectSparse(ws, state, result);
        }
        var codes = ws.Codes(b, DSae, (long)b * k);
        codes.UseFixedRows(b, k);
        int chunks = b >= 64 && Environment.ProcessorCount > 1 ? Math.Min(b, Environment.ProcessorCount * 4) : 1;
        Parallel.For(0, chunks, c =>
        {
            int r0 = (int)((long)b * c / chunks), r1 = (int)((long)b * (c + 1) / chunks);
            for (int r = r0; r < r1; r++)
            {
                var idx = codes.Index.AsSpan(r * k, k);
                var val = codes.Value.AsSpan(r * k, k);
                var row = pre.Row(r);
                System.Numerics.Tensors.TensorPrimitives.Add(row, bias, row);
                Selection.TopK(row, k, idx, val);
                for (int i = 0; i < k; i++) if (val[i] < 0f) val[i] = 0f; // ReLU
            }
        });
        return codes;
    }
}

/// <summary>
/// <c>batchtopk</c>: ReLU, then keep the k·B largest entries of the whole batch; the inference threshold θ is an EMA of
/// the smallest selected positive activation; AuxK on dead latents.
/// </summary>
public class BatchTopKObjective(TrainingOptions options, int dIn, ComputeBackend backend) : SelectionObjective(options, dIn, backend)
{
    public override string Id => "batchtopk";

    protected override void Select(Workspace ws, ObjectiveState state, StepResult result)
    {
        Backend.Activations.Relu(ws.F);
        int budget = (int)Math.Min(ws.F.Length, (long)K * ws.F.Rows);
        Backend.Selection.KeepGlobalTopK(ws.F, budget);
        result.MinSelected = MinPositive(ws.F.Span);
    }

    public override void Observe(StepResult result, ObjectiveState state) => UpdateScalarThreshold(state, result.MinSelected);
}

/// <summary>
/// <c>mutual_choice</c>: the budget M = k·B is allocated freely over the batch (global top-M, the same allocation as
/// BatchTopK), θ as BatchTopK; the auxiliary term is <see cref="AuxZipf">aux_zipf_loss</see>.
/// </summary>
public sealed class MutualChoiceObjective(TrainingOptions options, int dIn, ComputeBackend backend) : BatchTopKObjective(options, dIn, backend)
{
    public override string Id => "mutual_choice";

    protected override double Auxiliary(HostMatrix x, ParameterSet live, ParameterSet detached, ObjectiveState state,
        ParameterSet? grads, Workspace ws, StepResult result)
    {
        var e = DetachedResidual(x, live, detached, state, ws);
        ulong support = result.Support;
        var (dense, sparse) = AuxiliaryTarget(grads, ws);
        double loss = AuxZipf.Evaluate(Backend, ws.Pre, state, Options, KAux, e, live, grads, dense, ref support, sparse);
        result.Support = support;
        return loss;
    }
}

/// <summary>
/// <c>matryoshka_batchtopk</c>: BatchTopK selection; every nested prefix of latents [0, m_i) reconstructs on its own,
/// <c>L = (1/P) Σ_i mean‖x − x̂_i‖² + AuxK</c> with <c>x̂_i = f[:, :m_i]·W_dec[:m_i] + b_dec</c>.
/// <para>Gradient: with r_i = 2(x̂_i − x)/(B·P), latents in group g (columns [m_{g−1}, m_g)) feed every prefix i ≥ g, so
/// ∂f_g = R_g·W_dec[g]ᵀ and ∂W_dec[g] = f_gᵀ·R_g where R_g = Σ_{i≥g} r_i; ∂b_dec = Σ_b R_1.</para>
/// </summary>
public sealed class MatryoshkaObjective : BatchTopKObjective
{
    public MatryoshkaObjective(TrainingOptions options, int dIn, ComputeBackend backend) : base(options, dIn, backend)
    {
        Prefixes = options.MatryoshkaPrefixes?.ToArray() ?? DefaultPrefixes(options.Width);
        if (Prefixes.Length == 0 || Prefixes[^1] != options.Width || Prefixes.Zip(Prefixes.Skip(1)).Any(t => t.First >= t.Second) || Prefixes[0] <= 0)
            throw new ArgumentException($"matryoshka prefixes [{string.Join(", ", Prefixes)}] must increase strictly and end at the width {options.Width}.");
    }

    public override string Id => "matryoshka_batchtopk";

    /// <summary>Prefix widths m_1 &lt; … &lt; m_P = F.</summary>
    public int[] Prefixes { get; }

    /// <summary>Group sizes (differences of the prefixes), as written to the checkpoint.</summary>
    public int[] GroupSizes => Prefixes.Select((m, i) => m - (i == 0 ? 0 : Prefixes[i - 1])).ToArray();

    public static int[] DefaultPrefixes(int width) =>
        new[] { width / 16, width / 8, width / 4, width / 2, width }.Where(m => m > 0).Distinct().ToArray();

    protected override HostMatrix FullReconstruction(Workspace ws) => ws.Extra("xhat" + (Prefixes.Length - 1), ws.Rows, DIn);

    protected override double ReconstructAndBackward(HostMatrix x, ParameterSet live, ParameterSet? grads, Workspace ws, StepResult result)
    {
        var wDec = live[ParameterSet.WDec];
        var packs = new HostMatrix[Prefixes.Length];
        double total = Nested(x, live, grads, ws, result,
            (g, start, end, xHat) =>
            {
                var pack = packs[g] = ws.Extra("f" + g, x.Rows, end - start);
                CopyColumns(ws.F, start, pack);
                Backend.Gemm.Gemm(pack, false, wDec.SliceRows(start, end - start), false, xHat, 1f, 1f);
            },
            (g, start, end, residualGrad, gDec) =>
            {
                Backend.Gemm.Gemm(packs[g], true, residualGrad, false, gDec.SliceRows(start, end - start), 1f, 1f);
                var dPack = ws.Extra("df" + g, x.Rows, end - start);
                Backend.Gemm.Gemm(residualGrad, false, wDec.SliceRows(start, end - start), true, dPack);
                ScatterColumns(dPack, start, ws.DF);
            });
        if (grads is not null) MaskByActive(ws.DF, ws.F);
        return total;
    }

    /// <summary>The same as <see cref="ReconstructAndBackward"/> over the stored entries: group g is the column range
    /// [m_{g−1}, m_g) of the sparse code.</summary>
    protected override double ReconstructAndBackwardSparse(HostMatrix x, ParameterSet live, ParameterSet? grads, Workspace ws, StepResult result,
        SparseRows codes, float[] df)
    {
        var wDec = live[ParameterSet.WDec];
        double total = Nested(x, live, grads, ws, result,
            (_, start, end, xHat) => SparseCodeOps.AddDecode(codes, null, wDec, xHat, start, end),
            (_, start, end, residualGrad, gDec) =>
            {
                SparseCodeOps.AddTransposedProduct(codes, null, residualGrad, gDec, colStart: start, colEnd: end);
                SparseCodeOps.SampledDots(codes, residualGrad, wDec, df, start, end);
            });
        if (grads is not null) MaskByActive(df, codes);
        return total;
    }

    /// <summary>Adds group g's decode (latents [start, end)) onto the reconstruction so far.</summary>
    private delegate void GroupDecode(int g, int start, int end, HostMatrix xHat);

    /// <summary>Group g's backward from its accumulated residual gradient R_g: the decoder gradient into <c>gDec</c> and
    /// ∂L/∂f of its latents.</summary>
    private delegate void GroupBackward(int g, int start, int end, HostMatrix residualGrad, HostMatrix gDec);

    /// <summary>
    /// The nested loss both paths share: prefix g reconstructs x̂_g = x̂_{g−1} + decode(group g) (x̂_{−1} = b_dec), the loss is
    /// the mean over groups of ‖x − x̂_g‖² / B, and each group's latents receive R_g = Σ_{i≥g} r_i, the residual gradients
    /// of every prefix that contains them.
    /// </summary>
    private double Nested(HostMatrix x, ParameterSet live, ParameterSet? grads, Workspace ws, StepResult result, GroupDecode decode, GroupBackward backward)
    {
        int b = x.Rows, groups = Prefixes.Length;
        var bDec = live.Vector(ParameterSet.BDec);
        double total = 0;
        var residualGrads = new HostMatrix[groups];
        HostMatrix? previous = null;
        for (int g = 0; g < groups; g++)
        {
            var xHat = ws.Extra("xhat" + g, b, DIn);
            if (previous is null)
            {
                for (int r = 0; r < b; r++) bDec.CopyTo(xHat.Row(r));
            }
            else previous.Span.CopyTo(xHat.Span);
            decode(g, g == 0 ? 0 : Prefixes[g - 1], Prefixes[g], xHat);
            var rg = residualGrads[g] = ws.Extra("r" + g, b, DIn);
            double sse = ResidualGradient(xHat, x, rg, 2.0 / (b * (double)groups));
            total += sse / b;
            if (g == groups - 1) result.SquaredErrorSum = sse;
            previous = xHat;
        }
        if (grads is not null)
        {
            // R_g = Σ_{i≥g} r_i, accumulated in place from the last group down.
            for (int g = groups - 2; g >= 0; g--)
                System.Numerics.Tensors.TensorPrimitives.Add(residualGrads[g].Span, residualGrads[g + 1].Span, residualGrads[g].Span);
            var gDec = grads[ParameterSet.WDec];
            AddColumnSums(residualGrads[0], grads.Vector(ParameterSet.BDec));
            for (int g = 0; g < groups; g++) backward(g, g == 0 ? 0 : Prefixes[g - 1], Prefixes[g], residualGrads[g], gDec);
        }
        return total / groups;
    }

    private static void CopyColumns(HostMatrix source, int start, HostMatrix destination)
    {
        for (int r = 0; r < source.Rows; r++) source.Row(r).Slice(start, destination.Cols).CopyTo(destination.Row(r));
    }

    private static void ScatterColumns(HostMatrix source, int start, HostMatrix destination)
    {
        for (int r = 0; r < source.Rows; r++) source.Row(r).CopyTo(destination.Row(r).Slice(start, source.Cols));
    }
}

/// <summary>
/// <c>feature_choice</c>: each latent j keeps its m_j largest positive activations along the batch. Capacities are
/// uniform (m = ⌈kB/F⌉) or Zipf-shaped (m_j ∝ (r_j + c)^(−α), r_j the latent's rank by running density, rescaled to
/// sum to M = kB by largest remainders, each in [1, B]). Inference: θ_j = EMA of the smallest selected positive
/// activation of latent j. Auxiliary term: <see cref="AuxZipf">aux_zipf_loss</see>.
/// </summary>
public sealed class FeatureChoiceObjective : SelectionObjective
{
    public FeatureChoiceObjective(TrainingOptions options, int dIn, ComputeBackend backend) : base(options, dIn, backend)
    {
        if (options.Capacity is not ("uniform" or "zipf"))
            throw new ArgumentException($"capacity: '{options.Capacity}' is not one of uniform, zipf.");
    }

    public override string Id => "feature_choice";

    /// <summary>The capacities m_j for a batch of <paramref name="rows"/> tokens given the running densities.</summary>
    public int[] Capacities(int rows, ReadOnlySpan<double> density)
    {
        long budget = Math.Min((long)K * rows, (long)rows * DSae);
        var m = new int[DSae];
        if (Options.Capacity == "uniform")
        {
            Array.Fill(m, (int)Math.Min(rows, (budget + DSae - 1) / DSae));
            return m;
        }
        var rank = AuxZipf.Ranks(density);
        var share = new double[DSae];
        double sum = 0;
        for (int j = 0; j < DSae; j++) sum += share[j] = Math.Pow(rank[j] + Options.CapacityZipfOffset, -Options.CapacityZipfAlpha);
        long assigned = 0;
        var remainder = new double[DSae];
        for (int j = 0; j < DSae; j++)
        {
            double exact = budget * share[j] / sum;
            m[j] = Math.Clamp((int)Math.Floor(exact), 1, rows);
            remainder[j] = exact - Math.Floor(exact);
            assigned += m[j];
        }
        var order = Enumerable.Range(0, DSae).OrderByDescending(j => remainder[j]).ThenBy(j => j).ToArray();
        for (int i = 0; assigned < budget && i < order.Length * 2; i++)
        {
            int j = order[i % order.Length];
            if (m[j] < rows) { m[j]++; assigned++; }
        }
        return m;
    }

    protected override void Select(Workspace ws, ObjectiveState state, StepResult result)
    {
        int b = ws.Rows;
        var caps = Capacities(b, state.Density);
        caps.CopyTo(state.Capacity, 0);
        var f = ws.F;
        Backend.Activations.Relu(f);
        var t = ws.Extra("fT", DSae, b);
        Transpose(f, t);
        var minSel = new float[DSae];
        int maxCap = caps.Max();
        var idx = new int[maxCap];
        var val = new float[maxCap];
        for (int j = 0; j < DSae; j++)
        {
            var col = t.Row(j);
            int m = caps[j];
            Selection.TopK(col, m, idx, val);
            col.Clear();
            float min = float.NaN;
            for (int i = 0; i < m; i++)
            {
                col[idx[i]] = val[i];
                if (val[i] > 0f && !(val[i] >= min)) min = val[i];
            }
            minSel[j] = min;
        }
        Transpose(t, f);
        result.MinSelectedPerLatent = minSel;
    }

    private static void Transpose(HostMatrix source, HostMatrix destination)
    {
        int rows = source.Rows, cols = source.Cols;
        var s = source.Span;
        var d = destination.Span;
        const int block = 32;
        for (int r0 = 0; r0 < rows; r0 += block)
        for (int c0 = 0; c0 < cols; c0 += block)
        {
            int r1 = Math.Min(rows, r0 + block), c1 = Math.Min(cols, c0 + block);
            for (int r = r0; r < r1; r++)
            for (int c = c0; c < c1; c++)
                d[c * rows + r] = s[r * cols + c];
        }
    }

    protected override double Auxiliary(HostMatrix x, ParameterSet live, ParameterSet detached, ObjectiveState state,
        ParameterSet? grads, Workspace ws, StepResult result)
    {
        var e = DetachedResidual(x, live, detached, state, ws);
        ulong support = result.Support;
        var (dense, sparse) = AuxiliaryTarget(grads, ws);
        double loss = AuxZipf.Evaluate(Backend, ws.Pre, state, Options, KAux, e, live, grads, dense, ref support, sparse);
        result.Support = support;
        return loss;
    }

    public override void Observe(StepResult result, ObjectiveState state)
    {
        var min = result.MinSelectedPerLatent;
        if (min is null) return;
        float rate = (float)Options.ThresholdRate;
        for (int j = 0; j < DSae; j++)
        {
            if (float.IsNaN(min[j])) continue;
            state.LatentThreshold[j] = state.LatentThreshold[j] == 0f ? min[j] : (1 - rate) * state.LatentThreshold[j] + rate * min[j];
        }
    }
}
