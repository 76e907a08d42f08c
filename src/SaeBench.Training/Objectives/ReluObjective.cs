using System.Numerics.Tensors;
using SaeBench.Compute.Backends;
using SaeBench.Compute.Kernels;
using SaeBench.Compute.Tensors;
using SaeBench.Training.Optimization;

namespace SaeBench.Training.Objectives;

/// <summary>
/// <c>relu</c> (Anthropic's April 2024 update): <c>L = mean‖x − x̂‖² + λ·s(t)·mean Σ_j f_j·‖d_j‖</c>, no decoder
/// constraint (the penalty weights each code by its decoder norm), λ warm-up s(t).
/// <para>Gradients: ∂/∂pre_j adds λs‖d_j‖/B where f &gt; 0; ∂/∂d_j adds λs·(Σ_b f_bj/B)·d_j/‖d_j‖.</para>
/// </summary>
public sealed class ReluObjective(TrainingOptions options, int dIn, ComputeBackend backend) : SaeObjective(options, dIn, backend)
{
    public override string Id => "relu";
    public override bool ConstrainedDecoder => false;
    public override bool WarmsUpPenalty => true;

    protected override void Forward(HostMatrix x, ParameterSet live, ParameterSet detached, ObjectiveState state,
        ParameterSet? grads, Workspace ws, StepResult result)
    {
        int b = x.Rows;
        Encode(x, live, ws);
        ws.Pre.Span.CopyTo(ws.F.Span);
        RowOps.Relu(ws.F.Span);
        var codes = TryCompressCodes(ws.F, ws);
        if (codes is null) CountCodes(ws.F, result);
        else CountCodesSparse(codes, result);
        double sse = codes is null ? Reconstruct(ws.F, x, live, ws) : ReconstructSparse(codes, x, live, ws);

        var wDec = live[ParameterSet.WDec];
        var norms = new float[DSae];
        for (int j = 0; j < DSae; j++) norms[j] = TensorPrimitives.Norm(wDec.Row(j));
        var sums = new double[DSae];
        Reductions.ColumnSums(ws.F.Span, b, DSae, sums);
        double raw = 0;
        for (int j = 0; j < DSae; j++) raw += sums[j] * norms[j];
        raw /= b;
        double coef = state.Penalty * state.PenaltyScale;

        result.SquaredErrorSum = sse;
        result.Reconstruction = sse / b;
        result.RawPenalty = raw;
        result.Loss = result.Reconstruction + coef * raw;
        if (grads is null) return;

        float[]? sparseDf = null;
        if (codes is null)
        {
            BackwardDecoder(ws.F, live, grads, ws);
            var df = ws.DF.Span;
            for (int r = 0; r < b; r++)
            {
                var row = df.Slice(r * DSae, DSae);
                TensorPrimitives.MultiplyAdd(norms, (float)(coef / b), row, row);
            }
            MaskByActive(ws.DF, ws.F);
        }
        else
        {
            sparseDf = ws.CodeGrad(codes);
            BackwardDecoderSparse(codes, live, grads, ws, sparseDf);
            float c = (float)(coef / b);
            for (int r = 0; r < codes.Rows; r++)
                for (int e = codes.Start[r]; e < codes.End[r]; e++) sparseDf[e] = norms[codes.Index[e]] * c + sparseDf[e];
            MaskByActive(sparseDf, codes);
        }
        var gDec = grads[ParameterSet.WDec];
        for (int j = 0; j < DSae; j++)
        {
            if (norms[j] == 0f) continue;
            float c = (float)(coef * sums[j] / b / norms[j]);
            TensorPrimitives.MultiplyAdd(wDec.Row(j), c, gDec.Row(j), gDec.Row(j));
        }
        if (codes is null) BackwardEncoder(ws.DF, live, grads, ws);
        else BackwardEncoderSparse([(codes, sparseDf!)], live, grads, ws);
    }

    public override void Observe(StepResult result, ObjectiveState state) => AdaptPenalty(state, result.L0);
}

/// <summary>
/// <c>p_anneal</c> (dictionary_learning's PAnnealTrainer): <c>L = mean‖x − x̂‖² + α·mean Σ_j ((f_j + δ)^p − δ^p)</c>,
/// unit-norm decoder; p is stepped from 1 towards <see cref="TrainingOptions.PAnnealFloor"/> in
/// <see cref="TrainingOptions.PAnnealStages"/> steps, and at each p-step α is rescaled by
/// <c>P_old/P_new</c> on the current batch so the penalty is continuous. The small δ makes the penalty smooth at 0
/// (the plain f^p has an infinite derivative there for p &lt; 1).
/// </summary>
public sealed class PAnnealObjective(TrainingOptions options, int dIn, ComputeBackend backend) : SaeObjective(options, dIn, backend)
{
    private double _lastPenaltyAtNextP = double.NaN;

    public override string Id => "p_anneal";
    public override string CheckpointArchitecture => "relu";

    /// <summary>p for 0-based step <paramref name="step"/>.</summary>
    public double PAt(long step)
    {
        long start = (long)(Options.Steps * Options.PAnnealStartFraction);
        if (step < start || Options.PAnnealStages <= 0) return 1;
        long span = Math.Max(1, Options.Steps - start);
        int stage = (int)Math.Min(Options.PAnnealStages, (step - start) * (Options.PAnnealStages + 1) / span);
        return 1 - (1 - Options.PAnnealFloor) * stage / Options.PAnnealStages;
    }

    private double Penalty(ReadOnlySpan<float> f, double p, int rows)
    {
        double delta = Options.PAnnealDelta, d0 = Math.Pow(delta, p), s = 0;
        foreach (var v in f) if (v > 0f) s += Math.Pow(v + delta, p) - d0;
        return s / rows;
    }

    /// <summary>b_enc_j starts at minus the pre-activation quantile where latent j fires at the target density (L0/F).</summary>
    public override void Calibrate(HostMatrix rows, ParameterSet p, ObjectiveState state)
    {
        var q = PreActivationQuantiles(rows, p, Options.TargetL0 / DSae);
        var bEnc = p.Vector(ParameterSet.BEnc);
        for (int j = 0; j < DSae; j++) bEnc[j] -= q[j];
    }

    protected override void Forward(HostMatrix x, ParameterSet live, ParameterSet detached, ObjectiveState state,
        ParameterSet? grads, Workspace ws, StepResult result)
    {
        int b = x.Rows;
        Encode(x, live, ws);
        ws.Pre.Span.CopyTo(ws.F.Span);
        RowOps.Relu(ws.F.Span);
        var codes = TryCompressCodes(ws.F, ws);
        if (codes is null) CountCodes(ws.F, result);
        else CountCodesSparse(codes, result);
        double sse = codes is null ? Reconstruct(ws.F, x, live, ws) : ReconstructSparse(codes, x, live, ws);
        double p = state.P;
        double raw = Penalty(ws.F.Span, p, b);
        double nextP = PAt(state.Step + 1);
        _lastPenaltyAtNextP = nextP != p && grads is not null ? Penalty(ws.F.Span, nextP, b) : double.NaN;

        result.SquaredErrorSum = sse;
        result.Reconstruction = sse / b;
        result.RawPenalty = raw;
        result.Loss = result.Reconstruction + state.Penalty * raw;
        if (grads is null) return;

        double delta = Options.PAnnealDelta, c = state.Penalty * p / b;
        if (codes is null)
        {
            BackwardDecoder(ws.F, live, grads, ws);
            var df = ws.DF.Span;
            var f = ws.F.Span;
            for (int i = 0; i < df.Length; i++)
                df[i] = f[i] > 0f ? df[i] + (float)(c * Math.Pow(f[i] + delta, p - 1)) : 0f;
            BackwardEncoder(ws.DF, live, grads, ws);
            return;
        }
        var sdf = ws.CodeGrad(codes);
        BackwardDecoderSparse(codes, live, grads, ws, sdf);
        var v = codes.Value;
        for (int r = 0; r < codes.Rows; r++)
            for (int e = codes.Start[r]; e < codes.End[r]; e++)
                sdf[e] = v[e] > 0f ? sdf[e] + (float)(c * Math.Pow(v[e] + delta, p - 1)) : 0f;
        BackwardEncoderSparse([(codes, sdf)], live, grads, ws);
    }

    public override void Observe(StepResult result, ObjectiveState state)
    {
        AdaptPenalty(state, result.L0);
        double nextP = PAt(state.Step + 1);
        if (nextP != state.P)
        {
            if (_lastPenaltyAtNextP > 0 && result.RawPenalty > 0) state.Penalty *= result.RawPenalty / _lastPenaltyAtNextP;
            state.P = nextP;
        }
    }
}
