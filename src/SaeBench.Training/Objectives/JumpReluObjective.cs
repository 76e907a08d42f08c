using SaeBench.Compute.Backends;
using SaeBench.Compute.Kernels;
using SaeBench.Compute.Tensors;
using SaeBench.Training.Optimization;

namespace SaeBench.Training.Objectives;

/// <summary>
/// <c>jumprelu</c> (Rajamanoharan et al. 2024, Gemma Scope): <c>f = pre·H(pre − θ)</c>, <c>pre = x·W_enc + b_enc</c>
/// (no b_dec subtraction), <c>L = mean‖x − x̂‖² + λ·mean Σ_j H(pre_j − θ_j)</c>, θ trained as t = log θ, unit-norm decoder.
/// <para>
/// Straight-through pseudo-derivatives with the rectangle kernel K(u) = 1[|u| ≤ ½] and bandwidth ε:
/// ∂f/∂pre = H(pre − θ); ∂f/∂θ = −(θ/ε)·K((pre − θ)/ε); ∂H/∂θ = −(1/ε)·K((pre − θ)/ε); ∂H/∂pre = 0; and ∂/∂t = θ·∂/∂θ.
/// </para>
/// </summary>
public sealed class JumpReluObjective(TrainingOptions options, int dIn, ComputeBackend backend) : SaeObjective(options, dIn, backend)
{
    public override string Id => "jumprelu";
    public override bool ApplyBDecToInput => false;
    public override bool WarmsUpPenalty => true;

    public override IReadOnlyList<string> ParameterNames { get; } =
        [ParameterSet.WEnc, ParameterSet.BEnc, ParameterSet.WDec, ParameterSet.BDec, ParameterSet.LogThreshold];

    public override void Initialize(ParameterSet p, ObjectiveState state, ReadOnlySpan<double> bDec, ref SplitMix64 rng)
    {
        base.Initialize(p, state, bDec, ref rng);
        p.Vector(ParameterSet.LogThreshold).Fill((float)Math.Log(Options.JumpReluInitialThreshold));
        // Without b_dec subtraction, centre the encoder on the median: b_enc = −b_dec·W_enc.
        var bEnc = p.Vector(ParameterSet.BEnc);
        var wEnc = p[ParameterSet.WEnc];
        for (int c = 0; c < DIn; c++)
        {
            var row = wEnc.Row(c);
            for (int j = 0; j < DSae; j++) bEnc[j] -= (float)(bDec[c] * row[j]);
        }
    }

    /// <summary>θ_j starts at the pre-activation quantile where latent j fires at <see cref="TrainingOptions.JumpReluCalibrationFactor"/> × the target density (L0/F), at least θ₀: starting at exactly the target density left 60–70 % of latents dead (a latent firing on few tokens with a random decoder mostly hurts, its encoder shrinks, and nothing revives it); starting denser and letting the (warmed-up) penalty bring L0 down keeps most alive.</summary>
    public override void Calibrate(HostMatrix rows, ParameterSet p, ObjectiveState state)
    {
        if (!Options.JumpReluCalibrate) return;
        var q = PreActivationQuantiles(rows, p, Math.Min(1, Math.Max(Options.JumpReluCalibrationMinDensity, Options.JumpReluCalibrationFactor * Options.TargetL0 / DSae)));
        var logTheta = p.Vector(ParameterSet.LogThreshold);
        for (int j = 0; j < DSae; j++) logTheta[j] = (float)Math.Log(Math.Max(q[j], Options.JumpReluInitialThreshold));
    }

    protected override void Forward(HostMatrix x, ParameterSet live, ParameterSet detached, ObjectiveState state,
        ParameterSet? grads, Workspace ws, StepResult result)
    {
        int b = x.Rows;
        Encode(x, live, ws);
        var logTheta = live.Vector(ParameterSet.LogThreshold);
        var theta = new float[DSae];
        for (int j = 0; j < DSae; j++) theta[j] = MathF.Exp(logTheta[j]);
        var pre = ws.Pre.Span;
        pre.CopyTo(ws.F.Span);
        RowOps.ThresholdColumns(ws.F.Span, DSae, theta); // f = pre·H(pre − θ)
        double eps = Options.JumpReluBandwidth;
        var codes = SparseCodes(ws, theta, eps);
        if (codes is null) CountCodes(ws.F, result);
        else CountCodesSparse(codes, result);
        double sse = codes is null ? Reconstruct(ws.F, x, live, ws) : ReconstructSparse(codes, x, live, ws);
        double l0 = result.L0;
        double lambda = state.Penalty * state.PenaltyScale;
        result.SquaredErrorSum = sse;
        result.Reconstruction = sse / b;
        result.RawPenalty = l0;
        result.Loss = result.Reconstruction + lambda * l0;
        if (grads is null) return;

        var dTheta = new double[DSae];
        var gLog = grads.Vector(ParameterSet.LogThreshold);
        if (codes is not null)
        {
            var sdf = ws.CodeGrad(codes);
            BackwardDecoderSparse(codes, live, grads, ws, sdf);
            for (int r = 0; r < b; r++)
                for (int e = codes.Start[r]; e < codes.End[r]; e++)
                {
                    int j = codes.Index[e], i = r * DSae + j;
                    double u = (pre[i] - theta[j]) / eps;
                    if (Math.Abs(u) <= 0.5)
                        dTheta[j] += sdf[e] * (-theta[j] / eps) + lambda / b * (-1 / eps);
                    if (!(pre[i] > theta[j])) sdf[e] = 0f;
                }
            for (int j = 0; j < DSae; j++) gLog[j] += (float)(theta[j] * dTheta[j]);
            BackwardEncoderSparse([(codes, sdf)], live, grads, ws);
            return;
        }
        BackwardDecoder(ws.F, live, grads, ws);
        var df = ws.DF.Span;
        for (int r = 0; r < b; r++)
        for (int j = 0; j < DSae; j++)
        {
            int i = r * DSae + j;
            double u = (pre[i] - theta[j]) / eps;
            if (Math.Abs(u) <= 0.5)
                dTheta[j] += df[i] * (-theta[j] / eps) + lambda / b * (-1 / eps);
            if (!(pre[i] > theta[j])) df[i] = 0f;
        }
        for (int j = 0; j < DSae; j++) gLog[j] += (float)(theta[j] * dTheta[j]);
        BackwardEncoder(ws.DF, live, grads, ws);
    }

    /// <summary>
    /// The sparse code for the sparse path, or null: the non-zero codes and, with value 0, every entry inside the kernel
    /// window |pre − θ| ≤ ε/2 (the threshold's pseudo-gradient needs ∂L/∂f there too). Built through <c>ws.DF</c>
    /// (unused on the sparse path): f where it is non-zero, −1 for a window-only entry (codes are &gt; θ &gt; 0), then
    /// compressed and the −1s zeroed.
    /// </summary>
    private SparseRows? SparseCodes(Workspace ws, float[] theta, double eps)
    {
        long budget = SparseEntryBudget(ws.Rows);
        if (budget <= 0) return null;
        var pre = ws.Pre.Span;
        var f = ws.F.Span;
        var mark = ws.DF.Span;
        for (int r = 0; r < ws.Rows; r++)
            for (int j = 0; j < DSae; j++)
            {
                int i = r * DSae + j;
                double u = (pre[i] - theta[j]) / eps;
                mark[i] = f[i] != 0f ? f[i] : Math.Abs(u) <= 0.5 ? -1f : 0f;
            }
        var codes = ws.Codes(ws.Rows, DSae, budget);
        if (!codes.TryCompress(ws.DF, budget)) return null;
        for (int r = 0; r < codes.Rows; r++)
            for (int e = codes.Start[r]; e < codes.End[r]; e++)
                if (codes.Value[e] < 0f) codes.Value[e] = 0f;
        return codes;
    }

    public override void Observe(StepResult result, ObjectiveState state) => AdaptPenalty(state, result.L0, Options.JumpReluNegativePenaltyFloor);
}
