using System.Numerics.Tensors;
using SaeBench.Compute.Backends;
using SaeBench.Compute.Kernels;
using SaeBench.Compute.Tensors;
using SaeBench.Training.Optimization;

namespace SaeBench.Training.Objectives;

/// <summary>
/// <c>gated</c> (Rajamanoharan et al. 2024): <c>u = x̄·W_enc</c>, <c>π_gate = u + b_gate</c>,
/// <c>π_mag = exp(r_mag) ⊙ u + b_mag</c>, <c>f = H(π_gate) ⊙ ReLU(π_mag)</c>, unit-norm decoder, no b_enc.
/// <c>L = mean‖x − x̂‖² + λ·mean Σ_j ReLU(π_gate) + mean‖x − x̂_frozen(ReLU(π_gate))‖²</c> where x̂_frozen decodes with
/// stop-gradient copies of W_dec and b_dec (the <c>detached</c> parameters).
/// </summary>
public sealed class GatedObjective(TrainingOptions options, int dIn, ComputeBackend backend) : SaeObjective(options, dIn, backend)
{
    public override string Id => "gated";

    public override IReadOnlyList<string> ParameterNames { get; } =
        [ParameterSet.WEnc, ParameterSet.WDec, ParameterSet.BDec, ParameterSet.BGate, ParameterSet.RMag, ParameterSet.BMag];

    protected override void Forward(HostMatrix x, ParameterSet live, ParameterSet detached, ObjectiveState state,
        ParameterSet? grads, Workspace ws, StepResult result)
    {
        int b = x.Rows;
        Encode(x, live, ws, addBias: false);
        var u = ws.Pre.Span;
        var bGate = live.Vector(ParameterSet.BGate);
        var rMag = live.Vector(ParameterSet.RMag);
        var bMag = live.Vector(ParameterSet.BMag);
        var scale = new float[DSae];
        TensorPrimitives.Exp(rMag, scale);
        var gateRelu = ws.Extra("gate", b, DSae);
        var g = gateRelu.Span;
        var f = ws.F.Span;
        for (int r = 0; r < b; r++)
        for (int j = 0; j < DSae; j++)
        {
            int i = r * DSae + j;
            float pg = u[i] + bGate[j];
            float pm = scale[j] * u[i] + bMag[j];
            g[i] = pg > 0f ? pg : 0f;
            f[i] = pg > 0f && pm > 0f ? pm : 0f;
        }
        CountCodes(ws.F, result);
        if (TrackSupport) result.Support = MixMask(result.Support, g, v => v > 0f);
        double sse = Reconstruct(ws.F, x, live, ws);

        // Auxiliary: x̂_frozen = ReLU(π_gate)·W_dec' + b_dec' with detached W_dec', b_dec'.
        var xFrozen = ws.Extra("xfrozen", b, DIn);
        Backend.Gemm.Gemm(gateRelu, false, detached[ParameterSet.WDec], false, xFrozen);
        RowOps.AddRowVector(xFrozen.Span, DIn, detached.Vector(ParameterSet.BDec));
        var g2 = ws.Extra("g2", b, DIn);
        double sseFrozen = ResidualGradient(xFrozen, x, g2, 2.0 / b);

        double raw = 0;
        foreach (var v in g) raw += v;
        raw /= b;
        double lambda = state.Penalty;
        result.SquaredErrorSum = sse;
        result.Reconstruction = sse / b;
        result.RawPenalty = raw;
        result.Auxiliary = sseFrozen / b;
        result.Loss = result.Reconstruction + lambda * raw + result.Auxiliary;
        if (grads is null) return;

        BackwardDecoder(ws.F, live, grads, ws);          // ws.DF = ∂L/∂f
        var dGate = ws.Extra("dgate", b, DSae);
        Backend.Gemm.Gemm(g2, false, detached[ParameterSet.WDec], true, dGate); // ∂L_aux/∂ReLU(π_gate)
        var df = ws.DF.Span;
        var dg = dGate.Span;
        var du = df; // reuse: ∂L/∂u overwrites ∂L/∂f element by element
        var gRMag = grads.Vector(ParameterSet.RMag);
        var gBMag = grads.Vector(ParameterSet.BMag);
        var gBGate = grads.Vector(ParameterSet.BGate);
        var dr = new double[DSae];
        var dbm = new double[DSae];
        var dbg = new double[DSae];
        float pen = (float)(lambda / b);
        for (int r = 0; r < b; r++)
        for (int j = 0; j < DSae; j++)
        {
            int i = r * DSae + j;
            float dPiMag = f[i] > 0f ? df[i] : 0f;              // H(π_gate)·1[π_mag > 0]
            float dPiGate = g[i] > 0f ? dg[i] + pen : 0f;       // through ReLU(π_gate)
            dr[j] += dPiMag * u[i] * scale[j];
            dbm[j] += dPiMag;
            dbg[j] += dPiGate;
            du[i] = dPiMag * scale[j] + dPiGate;
        }
        for (int j = 0; j < DSae; j++)
        {
            gRMag[j] += (float)dr[j];
            gBMag[j] += (float)dbm[j];
            gBGate[j] += (float)dbg[j];
        }
        BackwardEncoder(ws.DF, live, grads, ws);
    }

    public override void Observe(StepResult result, ObjectiveState state) => AdaptPenalty(state, result.L0);
}
