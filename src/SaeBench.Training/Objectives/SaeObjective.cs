using System.Numerics.Tensors;
using SaeBench.Compute.Backends;
using SaeBench.Compute.Kernels;
using SaeBench.Compute.Tensors;
using SaeBench.Training.Optimization;

namespace SaeBench.Training.Objectives;

/// <summary>Dense GEMMs, sparse products over the codes' non-zeros, or the sparse path whenever the code is sparse enough.</summary>
public enum CodePath
{
    Auto,
    Dense,
    Sparse,
}

/// <summary>
/// One architecture's training objective: its parameters, initialisation, loss with hand-derived gradients, and the
/// state updates after a step. Shared pieces (encoder, reconstruction, their backward passes) live here.
/// <para>
/// <see cref="Evaluate"/> takes two parameter sets: <c>live</c>, which gradients are taken with respect to, and
/// <c>detached</c>, the values seen through stop-gradients (the AuxK residual, gated's frozen decoder). Training
/// passes the same object twice; a finite-difference test perturbs only <c>live</c>, so the loss it differentiates
/// numerically is exactly the function whose gradient <see cref="Evaluate"/> returns.
/// </para>
/// </summary>
public abstract class SaeObjective
{
    private Workspace? _ws;
    private Workspace? _detachedWs;

    protected SaeObjective(TrainingOptions options, int dIn, ComputeBackend backend)
    {
        Options = options;
        DIn = dIn;
        DSae = options.Width;
        Backend = backend;
    }

    public TrainingOptions Options { get; }
    public int DIn { get; }
    public int DSae { get; }
    protected ComputeBackend Backend { get; }

    /// <summary>The trainer id (e.g. <c>p_anneal</c>).</summary>
    public abstract string Id { get; }

    /// <summary>The architecture id written to the checkpoint (ARCHITECTURES.md table).</summary>
    public virtual string CheckpointArchitecture => Id;

    /// <summary>Whether decoder rows are kept at unit norm.</summary>
    public virtual bool ConstrainedDecoder => true;

    /// <summary>Whether the encoder sees x − b_dec.</summary>
    public virtual bool ApplyBDecToInput => true;

    /// <summary>Whether the penalty λ is warmed up by s(t) over <see cref="TrainingOptions.PenaltyWarmupFraction"/> of the steps.</summary>
    public virtual bool WarmsUpPenalty => false;

    /// <summary>Names of the trained tensors (see <see cref="ParameterSet"/>).</summary>
    public virtual IReadOnlyList<string> ParameterNames { get; } =
        [ParameterSet.WEnc, ParameterSet.BEnc, ParameterSet.WDec, ParameterSet.BDec];

    /// <summary>When true, <see cref="StepResult.Support"/> is computed (tests).</summary>
    public bool TrackSupport { get; set; }

    /// <summary>
    /// Whether the decoder forward, the decoder gradient and the encoder gradient use the codes' sparsity
    /// (<see cref="SparseCodeOps"/>) instead of dense GEMMs. <see cref="CodePath.Auto"/> takes the sparse path when the
    /// batch's codes are at most <see cref="SparseMaxDensity"/> dense; the two paths compute the same function (only
    /// the summation order differs), so this is not part of a run's content key.
    /// </summary>
    public CodePath CodePath { get; set; } = CodePath.Auto;

    /// <summary>
    /// The densest code (non-zeros / (batch × width)) for which <see cref="CodePath.Auto"/> goes sparse. Measured on
    /// 2 cores (benchmarks/README.md, TopK at d_in 128, width 1024, batch 256): sparse ≈ dense at 1/32 (both bound by
    /// the rest of the step), 1.5–1.9× faster at 1/16, and still level or ahead at 1/8 and 1/4 at that small shape. Kept
    /// at 1/16 because larger shapes run the dense GEMMs nearer peak, which moves the break-even towards sparser codes.
    /// </summary>
    public const double SparseMaxDensity = 1.0 / 16;

    /// <summary>The most stored entries a sparse code of <paramref name="rows"/> rows may have on the current path
    /// (0: dense only).</summary>
    protected long SparseEntryBudget(int rows) => CodePath switch
    {
        CodePath.Dense => 0,
        CodePath.Sparse => (long)rows * DSae,
        _ => (long)Math.Floor((long)rows * DSae * SparseMaxDensity),
    };

    /// <summary>Creates the parameters, zero-filled.</summary>
    public ParameterSet CreateParameters()
    {
        var p = new ParameterSet(DIn, DSae);
        foreach (var n in ParameterNames) p.Add(n);
        return p;
    }

    /// <summary>
    /// Initialises parameters and state: decoder rows random directions (unit, or norm 0.1 when unconstrained),
    /// <c>W_enc = W_decᵀ</c>, <c>b_enc = 0</c>, <c>b_dec</c> = <paramref name="bDec"/> (the geometric median).
    /// </summary>
    public virtual void Initialize(ParameterSet p, ObjectiveState state, ReadOnlySpan<double> bDec, ref SplitMix64 rng)
    {
        var wDec = p[ParameterSet.WDec];
        float rowNorm = ConstrainedDecoder ? 1f : 0.1f;
        for (int j = 0; j < DSae; j++)
        {
            var row = wDec.Row(j);
            for (int c = 0; c < DIn; c++) row[c] = (float)rng.NextGaussian();
            float n = TensorPrimitives.Norm(row);
            TensorPrimitives.Multiply(row, rowNorm / n, row);
        }
        var wEnc = p[ParameterSet.WEnc];
        for (int j = 0; j < DSae; j++)
        {
            var row = wDec.Row(j);
            for (int c = 0; c < DIn; c++) wEnc[c, j] = row[c];
        }
        var b = p.Vector(ParameterSet.BDec);
        for (int c = 0; c < DIn; c++) b[c] = (float)bDec[c];
        state.Penalty = Options.InitialPenalty;
        double initialDensity = Math.Min(1, Options.TargetL0 / DSae);
        Array.Fill(state.Density, initialDensity);
    }

    /// <summary>
    /// A short calibration on the first rows (already scaled) after <see cref="Initialize"/>; by default nothing. Penalty
    /// trainers use it to start at the target L0 (per-latent thresholds or biases at the matching quantile).
    /// </summary>
    public virtual void Calibrate(HostMatrix rows, ParameterSet p, ObjectiveState state)
    {
    }

    /// <summary>
    /// Per latent, the pre-activation value exceeded by a fraction <paramref name="rate"/> of <paramref name="rows"/>
    /// (computed with <see cref="Encode"/>, so with the current parameters).
    /// </summary>
    protected float[] PreActivationQuantiles(HostMatrix rows, ParameterSet p, double rate, bool addBias = true)
    {
        var ws = new Workspace(rows.Rows, DIn, DSae);
        Encode(rows, p, ws, addBias);
        var t = ws.Pre.Transpose();
        int k = Math.Clamp((int)Math.Round(rate * rows.Rows), 1, rows.Rows);
        var q = new float[DSae];
        for (int j = 0; j < DSae; j++) q[j] = Selection.KthLargest(t.Row(j), k);
        return q;
    }

    /// <summary>
    /// Loss of the batch <paramref name="x"/> [B, d_in]; when <paramref name="gradients"/> is given, the gradient is
    /// added into it (the caller clears it).
    /// </summary>
    public StepResult Evaluate(HostMatrix x, ParameterSet live, ParameterSet detached, ObjectiveState state, ParameterSet? gradients)
    {
        if (x.Cols != DIn) throw new ArgumentException($"Batch has {x.Cols} columns, the SAE has d_in = {DIn}.");
        var ws = _ws is { } w && w.Rows == x.Rows ? w : (_ws = new Workspace(x.Rows, DIn, DSae));
        var result = new StepResult(DSae);
        ws.SparseDPre.Clear();
        ws.SparseActive = false;
        Forward(x, live, detached, state, gradients, ws, result);
        return result;
    }

    /// <summary>The architecture's loss and gradient. <paramref name="ws"/> holds <c>X</c>-sized and code-sized buffers.</summary>
    protected abstract void Forward(HostMatrix x, ParameterSet live, ParameterSet detached, ObjectiveState state,
        ParameterSet? grads, Workspace ws, StepResult result);

    /// <summary>Updates architecture state after a step (thresholds, penalty controller, annealing).</summary>
    public virtual void Observe(StepResult result, ObjectiveState state)
    {
    }

    /// <summary>Moves the penalty coefficient towards the target L0: <c>log λ += rate · log((L0 + 0.1)/(target + 0.1))</c>.</summary>
    protected void AdaptPenalty(ObjectiveState state, double l0, double negativeFloor = 0)
    {
        if (!Options.AdaptPenalty || state.PenaltyScale < 1) return;
        double step = Math.Clamp(Options.PenaltyAdaptRate * Math.Log((l0 + 0.1) / (Options.TargetL0 + 0.1)), -0.1, 0.1);
        if (negativeFloor <= 0)
        {
            state.Penalty = Math.Clamp(state.Penalty * Math.Exp(step), 1e-8, 1e8);
            return;
        }
        // Signed: multiplicative while |λ| > s0, additive with step size s0 near zero, never below −s0.
        double s0 = negativeFloor * Options.InitialPenalty;
        double scale = Math.Max(Math.Abs(state.Penalty), s0);
        state.Penalty = Math.Clamp(state.Penalty + scale * (Math.Exp(step) - 1), -s0, 1e8);
    }

    // ---------------------------------------------------------------- shared forward/backward pieces

    /// <summary><c>ws.XBar = x − b_dec</c> (or x) and <c>ws.Pre = x̄·W_enc + b_enc</c>.</summary>
    protected void Encode(HostMatrix x, ParameterSet p, Workspace ws, bool addBias = true)
    {
        x.Span.CopyTo(ws.XBar.Span);
        if (ApplyBDecToInput) RowOps.SubtractRowVector(ws.XBar.Span, DIn, p.Vector(ParameterSet.BDec));
        Backend.Gemm.Gemm(ws.XBar, false, p[ParameterSet.WEnc], false, ws.Pre);
        ws.EncoderBias = p.Has(ParameterSet.BEnc) ? p[ParameterSet.BEnc].Memory.ToArray() : null;
        if (addBias && ws.EncoderBias is not null) RowOps.AddRowVector(ws.Pre.Span, DSae, ws.EncoderBias);
    }

    /// <summary>
    /// <c>ws.XHat = f·W_dec + b_dec</c>, <c>ws.G = (2/B)(x̂ − x)</c> (the gradient of the mean squared error w.r.t. x̂);
    /// returns Σ‖x − x̂‖².
    /// </summary>
    protected double Reconstruct(HostMatrix f, HostMatrix x, ParameterSet p, Workspace ws)
    {
        Backend.Gemm.Gemm(f, false, p[ParameterSet.WDec], false, ws.XHat);
        RowOps.AddRowVector(ws.XHat.Span, DIn, p.Vector(ParameterSet.BDec));
        return ResidualGradient(ws.XHat, x, ws.G, 2.0 / x.Rows);
    }

    /// <summary><c>g = scale·(x̂ − x)</c>; returns Σ‖x̂ − x‖² in double.</summary>
    protected static double ResidualGradient(HostMatrix xHat, HostMatrix x, HostMatrix g, double scale)
    {
        TensorPrimitives.Subtract(xHat.Span, x.Span, g.Span);
        double sse = Reductions.Dot(g.Span, g.Span);
        TensorPrimitives.Multiply(g.Span, (float)scale, g.Span);
        return sse;
    }

    /// <summary>From <c>ws.G</c> = ∂L/∂x̂: adds <c>fᵀG</c> to ∂W_dec and Σ_b G to ∂b_dec, and writes <c>ws.DF = G·W_decᵀ</c>.</summary>
    protected void BackwardDecoder(HostMatrix f, ParameterSet p, ParameterSet grads, Workspace ws)
    {
        Backend.Gemm.Gemm(f, true, ws.G, false, grads[ParameterSet.WDec], 1f, 1f);
        AddColumnSums(ws.G, grads.Vector(ParameterSet.BDec));
        Backend.Gemm.Gemm(ws.G, false, p[ParameterSet.WDec], true, ws.DF);
    }

    /// <summary>From ∂L/∂pre: adds <c>x̄ᵀ·dpre</c> to ∂W_enc, Σ_b dpre to ∂b_enc (when present) and, when the encoder
    /// sees x − b_dec, <c>−W_enc·Σ_b dpre</c> to ∂b_dec.</summary>
    protected void BackwardEncoder(HostMatrix dPre, ParameterSet p, ParameterSet grads, Workspace ws)
    {
        Backend.Gemm.Gemm(ws.XBar, true, dPre, false, grads[ParameterSet.WEnc], 1f, 1f);
        var colSum = ws.ColumnSum;
        Array.Clear(colSum);
        Reductions.ColumnSums(dPre.Span, dPre.Rows, dPre.Cols, colSum);
        AddEncoderBiasGradients(colSum, p, grads);
    }

    /// <summary>Sparse <see cref="Reconstruct"/>: <c>ws.XHat = f·W_dec + b_dec</c> over the stored entries, <c>ws.G</c>; returns Σ‖x − x̂‖².</summary>
    protected double ReconstructSparse(SparseRows f, HostMatrix x, ParameterSet p, Workspace ws)
    {
        var bDec = p.Vector(ParameterSet.BDec);
        for (int r = 0; r < x.Rows; r++) bDec.CopyTo(ws.XHat.Row(r));
        SparseCodeOps.AddDecode(f, null, p[ParameterSet.WDec], ws.XHat);
        return ResidualGradient(ws.XHat, x, ws.G, 2.0 / x.Rows);
    }

    /// <summary>Sparse <see cref="BackwardDecoder"/>: adds <c>fᵀG</c> to ∂W_dec and Σ_b G to ∂b_dec, and writes
    /// <c>(G·W_decᵀ)</c> at the stored entries of f into <paramref name="df"/> (the rest of it is never used).</summary>
    protected void BackwardDecoderSparse(SparseRows f, ParameterSet p, ParameterSet grads, Workspace ws, float[] df)
    {
        SparseCodeOps.AddTransposedProduct(f, null, ws.G, grads[ParameterSet.WDec]);
        AddColumnSums(ws.G, grads.Vector(ParameterSet.BDec));
        SparseCodeOps.SampledDots(f, ws.G, p[ParameterSet.WDec], df);
    }

    /// <summary>Sparse <see cref="BackwardEncoder"/>: ∂L/∂pre is the sum of the given parts (patterns with values,
    /// overlapping entries add up); adds <c>x̄ᵀ·dpre</c> to ∂W_enc, Σ_b dpre to ∂b_enc and −W_enc·Σ_b dpre to ∂b_dec.</summary>
    protected void BackwardEncoderSparse(IReadOnlyList<(SparseRows Pattern, float[] Values)> parts, ParameterSet p, ParameterSet grads, Workspace ws)
    {
        var colSum = ws.ColumnSum;
        Array.Clear(colSum);
        foreach (var (pattern, values) in parts)
            SparseCodeOps.AddTransposedProduct(pattern, values, ws.XBar, grads[ParameterSet.WEnc], transposedDestination: true, columnSums: colSum);
        AddEncoderBiasGradients(colSum, p, grads);
    }

    private void AddEncoderBiasGradients(double[] colSum, ParameterSet p, ParameterSet grads)
    {
        if (grads.Has(ParameterSet.BEnc))
        {
            var gb = grads.Vector(ParameterSet.BEnc);
            for (int j = 0; j < DSae; j++) gb[j] += (float)colSum[j];
        }
        if (ApplyBDecToInput)
        {
            var wEnc = p[ParameterSet.WEnc];
            var gbd = grads.Vector(ParameterSet.BDec);
            for (int c = 0; c < DIn; c++)
            {
                var row = wEnc.Row(c);
                double s = 0;
                for (int j = 0; j < DSae; j++) s += row[j] * colSum[j];
                gbd[c] -= (float)s;
            }
        }
    }

    /// <summary>dpre = df where the stored code is non-zero, else 0 (sparse <see cref="MaskByActive"/>).</summary>
    protected static void MaskByActive(float[] df, SparseRows f)
    {
        for (int r = 0; r < f.Rows; r++)
            for (int e = f.Start[r]; e < f.End[r]; e++)
                if (f.Value[e] == 0f) df[e] = 0f;
    }

    /// <summary>Sparse <see cref="CountCodes"/> (same L0, fires and support hash: entries are in ascending column order).</summary>
    protected void CountCodesSparse(SparseRows f, StepResult result)
    {
        var nonZero = result.FiresPerLatent;
        long total = 0;
        ulong h = result.Support ^ 0x9E3779B97F4A7C15UL;
        for (int r = 0; r < f.Rows; r++)
            for (int e = f.Start[r]; e < f.End[r]; e++)
            {
                if (f.Value[e] == 0f) continue;
                int j = f.Index[e];
                nonZero[j]++;
                total++;
                if (TrackSupport) h = (h ^ (ulong)((long)r * DSae + j)) * 0x100000001B3UL;
            }
        result.L0 = total / (double)f.Rows;
        if (TrackSupport) result.Support = h;
        result.SparseCodes = true;
    }

    /// <summary>Stores the non-zeros of <paramref name="f"/> in <c>ws</c>'s sparse code when there are at most
    /// <see cref="SparseEntryBudget"/> of them; null (dense path) otherwise.</summary>
    protected SparseRows? TryCompressCodes(HostMatrix f, Workspace ws)
    {
        long budget = SparseEntryBudget(f.Rows);
        if (budget <= 0) return null;
        var codes = ws.Codes(f.Rows, DSae, budget);
        return codes.TryCompress(f, budget) ? codes : null;
    }

    /// <summary>The residual the auxiliary losses reconstruct, <c>e = x − x̂</c>, computed from the detached parameters.</summary>
    protected HostMatrix DetachedResidual(HostMatrix x, ParameterSet live, ParameterSet detached, ObjectiveState state, Workspace ws)
    {
        var e = ws.Residual;
        if (ReferenceEquals(live, detached))
        {
            TensorPrimitives.Subtract(x.Span, FullReconstruction(ws).Span, e.Span);
            return e;
        }
        var dws = _detachedWs is { } w && w.Rows == x.Rows ? w : (_detachedWs = new Workspace(x.Rows, DIn, DSae));
        var track = TrackSupport;
        TrackSupport = false;
        try
        {
            Forward(x, detached, detached, state, null, dws, new StepResult(DSae));
        }
        finally
        {
            TrackSupport = track;
        }
        TensorPrimitives.Subtract(x.Span, FullReconstruction(dws).Span, e.Span);
        return e;
    }

    /// <summary>The buffer holding the full reconstruction after <see cref="Forward"/> (matryoshka overrides).</summary>
    protected virtual HostMatrix FullReconstruction(Workspace ws) => ws.XHat;

    /// <summary>Fills L0, fires per latent and (when tracked) the support hash from the codes.</summary>
    protected void CountCodes(HostMatrix f, StepResult result)
    {
        var nonZero = result.FiresPerLatent;
        var positive = new long[DSae];
        Reductions.ColumnCounts(f.Span, f.Rows, f.Cols, nonZero, positive);
        long total = 0;
        foreach (var c in nonZero) total += c;
        result.L0 = total / (double)f.Rows;
        if (TrackSupport) result.Support = MixMask(result.Support, f.Span, v => v != 0f);
    }

    protected static ulong MixMask(ulong hash, ReadOnlySpan<float> values, Func<float, bool> active)
    {
        ulong h = hash ^ 0x9E3779B97F4A7C15UL;
        for (int i = 0; i < values.Length; i++)
            if (active(values[i])) h = (h ^ (ulong)i) * 0x100000001B3UL;
        return h;
    }

    protected static void AddColumnSums(HostMatrix m, Span<float> destination)
    {
        var sums = new double[m.Cols];
        Reductions.ColumnSums(m.Span, m.Rows, m.Cols, sums);
        for (int j = 0; j < sums.Length; j++) destination[j] += (float)sums[j];
    }

    /// <summary>dpre = df where the code is non-zero, else 0 (the derivative through ReLU/top-k selection), in place in <c>ws.DF</c>.</summary>
    protected static void MaskByActive(HostMatrix df, HostMatrix f)
    {
        var d = df.Span;
        var a = f.Span;
        for (int i = 0; i < d.Length; i++) if (a[i] == 0f) d[i] = 0f;
    }

    /// <summary>Buffers for one batch size.</summary>
    protected internal sealed class Workspace(int rows, int dIn, int dSae)
    {
        public int Rows { get; } = rows;
        public HostMatrix XBar { get; } = new(rows, dIn);
        public HostMatrix Pre { get; } = new(rows, dSae);
        public HostMatrix F { get; } = new(rows, dSae);
        public HostMatrix DF { get; } = new(rows, dSae);
        public HostMatrix XHat { get; } = new(rows, dIn);
        public HostMatrix G { get; } = new(rows, dIn);
        public HostMatrix Residual { get; } = new(rows, dIn);
        public double[] ColumnSum { get; } = new double[dSae];

        /// <summary>True while the current pass runs on the sparse path (auxiliary terms then add their ∂L/∂pre to
        /// <see cref="SparseDPre"/> instead of <see cref="DF"/>).</summary>
        public bool SparseActive { get; set; }

        /// <summary>b_enc of the last <see cref="Encode"/> (for a selection that adds it itself), or null.</summary>
        public float[]? EncoderBias { get; set; }

        /// <summary>∂L/∂pre on the sparse path, as parts (a pattern and its values) that add up.</summary>
        public List<(SparseRows Pattern, float[] Values)> SparseDPre { get; } = [];

        private SparseRows? _codes;
        private float[]? _codeGrad;

        /// <summary>The sparse code buffer, grown to hold <paramref name="capacity"/> entries.</summary>
        public SparseRows Codes(int rows, int cols, long capacity)
        {
            if (_codes is null || _codes.MaxRows < rows || _codes.Cols != cols || _codes.Capacity < capacity)
                _codes = new SparseRows(rows, cols, (int)Math.Min(int.MaxValue, capacity));
            return _codes;
        }

        /// <summary>A per-entry buffer matching <see cref="Codes"/> (∂L/∂f at the stored entries).</summary>
        public float[] CodeGrad(SparseRows codes) =>
            _codeGrad is { } g && g.Length >= codes.Capacity ? g : (_codeGrad = new float[codes.Capacity]);

        private readonly Dictionary<string, HostMatrix> _extra = [];

        /// <summary>An extra named buffer, allocated on first use (contents persist between steps).</summary>
        public HostMatrix Extra(string name, int r, int c)
        {
            if (_extra.TryGetValue(name, out var m) && m.Rows == r && m.Cols == c) return m;
            return _extra[name] = new HostMatrix(r, c);
        }
    }
}
