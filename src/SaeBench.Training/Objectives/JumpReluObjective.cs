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
        CountCodes(ws.F, result);
        double sse = Reconstruct(ws.F, x, live, ws);
        double l0 = result.L0;
        double lambda = state.Penalty * state.PenaltyScale;
        result.SquaredErrorSum = sse;
        result.Reconstruction = sse / b;
        result.RawPenalty = l0;
        result.Loss = result.Reconstruction + lambda * l0;
        if (grads is null) return;

        BackwardDecoder(ws.F, live, grads, ws);
        var df = ws.DF.Span;
        double eps = Options.JumpReluBandwidth;
        var dTheta = new double[DSae];
        for (int r = 0; r < b; r++)
        for (int j = 0; j < DSae; j++)
        {
            int i = r * DSae + j;
            double u = (pre[i] - theta[j]) / eps;
            if (Math.Abs(u) <= 0.5)
                dTheta[j] += df[i] * (-theta[j] / eps) + lambda / b * (-1 / eps);
            if (!(pre[i] > theta[j])) df[i] = 0f;
        }
        var gLog = grads.Vector(ParameterSet.LogThreshold);
        for (int j = 0; j < DSae; j++) gLog[j] += (float)(theta[j] * dTheta[j]);
        BackwardEncoder(ws.DF, live, grads, ws);
    }

    public override void Observe(StepResult result, ObjectiveState state) => AdaptPenalty(state, result.L0, Options.JumpReluNegativePenaltyFloor);
}
