using System.Numerics.Tensors;
using SaeBench.Compute.Backends;
using SaeBench.Compute.Tensors;

namespace SaeBench.Core.Autoencoders;

/// <summary>
/// A sparse autoencoder ready for inference: <c>f = σ(x̄·W_enc + b_enc)</c>, <c>x̂ = f·W_dec + b_dec</c>, with the
/// activation σ of its architecture (ARCHITECTURES.md). Inputs and reconstructions are in the model's own units:
/// the checkpoint's input scale is applied inside <see cref="Encode"/> and undone inside <see cref="Decode"/>.
/// </summary>
public sealed class Sae
{
    /// <summary>At or below this fraction of non-zeros, <see cref="Decode"/> uses the sparse path.</summary>
    public const double SparseDecodeMaxDensity = 1.0 / 32;

    /// <summary>Builds an SAE from weights; throws <see cref="ArgumentException"/> naming the field when they do not fit the architecture.</summary>
    public Sae(string architecture, SaeParameters parameters, SaeConfig? config = null)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        Architecture = SaeArchitectures.Canonical(architecture);
        Parameters = parameters;
        Config = config ?? new SaeConfig();
        if (Config.ArchitectureName is null && !string.Equals(architecture, Architecture, StringComparison.Ordinal))
            Config.ArchitectureName = architecture;
        Validate(Architecture, parameters);
    }

    /// <summary>Canonical architecture id (see <see cref="SaeArchitectures"/>).</summary>
    public string Architecture { get; }

    public int DIn => Parameters.DIn;
    public int DSae => Parameters.DSae;
    public SaeParameters Parameters { get; }
    public SaeConfig Config { get; }

    /// <summary>The identity baseline: f = x, x̂ = f.</summary>
    public static Sae Identity(int dIn, SaeConfig? config = null)
    {
        var eye = new HostMatrix(dIn, dIn);
        for (int i = 0; i < dIn; i++) eye[i, i] = 1f;
        return new Sae(SaeArchitectures.Identity, new SaeParameters
        {
            WEnc = eye,
            BEnc = new float[dIn],
            WDec = eye.Clone(),
            BDec = new float[dIn],
        }, config);
    }

    /// <summary>The PCA baseline: f = (x − mean)·Cᵀ, x̂ = f·C + mean, for orthonormal component rows C [k, d_in].</summary>
    public static Sae Pca(HostMatrix components, float[] mean, SaeConfig? config = null)
    {
        if (mean.Length != components.Cols) throw new ArgumentException($"mean has {mean.Length} elements, components have {components.Cols} columns.");
        return new Sae(SaeArchitectures.Pca, new SaeParameters
        {
            WEnc = components.Transpose(),
            BEnc = new float[components.Rows],
            WDec = components.Clone(),
            BDec = (float[])mean.Clone(),
            ApplyBDecToInput = true,
        }, config);
    }

    /// <summary>Checks that the weights agree with each other and with what the architecture needs.</summary>
    public static void Validate(string architecture, SaeParameters p)
    {
        int dIn = p.WEnc.Rows, f = p.WEnc.Cols;
        if (dIn <= 0 || f <= 0) throw new ArgumentException($"W_enc: shape [{dIn}, {f}] must be non-empty.");
        if (p.WDec.Rows != f || p.WDec.Cols != dIn)
            throw new ArgumentException($"W_dec: shape [{p.WDec.Rows}, {p.WDec.Cols}] disagrees with W_enc [{dIn}, {f}]; expected [{f}, {dIn}].");
        Length("b_enc", p.BEnc, f);
        Length("b_dec", p.BDec, dIn);
        if (p.Threshold is not null) Length("threshold", p.Threshold, f);
        if (p.BGate is not null) Length("b_gate", p.BGate, f);
        if (p.RMag is not null) Length("r_mag", p.RMag, f);
        if (p.BMag is not null) Length("b_mag", p.BMag, f);
        ValidateSettings(architecture, dIn, f, p.K, p.Threshold is not null, p.ScalarThreshold,
            p.BGate is not null && p.RMag is not null && p.BMag is not null, p.GroupSizes, p.InputScale);
    }

    /// <summary>Checks the non-tensor settings against the architecture (usable before any weight is read).</summary>
    public static void ValidateSettings(string architecture, int dIn, int dSae, int? k, bool hasThreshold, float? scalarThreshold,
        bool hasGateParameters, int[]? groupSizes, float inputScale)
    {
        if (!(inputScale > 0) || !float.IsFinite(inputScale)) throw new ArgumentException($"input scale: {inputScale} must be a positive finite number.");
        if (k is { } kk && (kk <= 0 || kk > dSae)) throw new ArgumentException($"k: {kk} must be in 1..{dSae}.");
        switch (architecture)
        {
            case SaeArchitectures.TopK:
                if (k is null) throw new ArgumentException("k: topk needs k.");
                break;
            case SaeArchitectures.BatchTopK or SaeArchitectures.MatryoshkaBatchTopK or SaeArchitectures.MutualChoice:
                if (!hasThreshold && scalarThreshold is null && k is null)
                    throw new ArgumentException($"threshold: {architecture} needs a threshold θ (or k for batch-level top-k).");
                break;
            case SaeArchitectures.JumpRelu:
                if (!hasThreshold) throw new ArgumentException("threshold: jumprelu needs a per-latent threshold.");
                break;
            case SaeArchitectures.FeatureChoice:
                if (!hasThreshold && k is null) throw new ArgumentException("threshold: feature_choice needs per-latent thresholds (or k for batch-level selection).");
                break;
            case SaeArchitectures.Gated:
                if (!hasGateParameters) throw new ArgumentException("b_gate, r_mag, b_mag: gated needs all three.");
                break;
            case SaeArchitectures.Identity:
                if (dSae != dIn) throw new ArgumentException($"W_enc: identity needs d_sae = d_in, got [{dIn}, {dSae}].");
                break;
        }
        if (groupSizes is not null && (groupSizes.Any(g => g <= 0) || groupSizes.Sum(g => (long)g) != dSae)) // long: sizes from a file may overflow int
            throw new ArgumentException($"group_sizes: [{string.Join(", ", groupSizes)}] must be positive and sum to d_sae = {dSae}.");
    }

    private static void Length(string name, float[] v, int expected)
    {
        if (v.Length != expected) throw new ArgumentException($"{name}: length {v.Length}, expected {expected}.");
    }

    /// <summary>
    /// Encodes a batch: <paramref name="x"/> tokens × d_in → <paramref name="f"/> tokens × d_sae (overwritten). When
    /// <paramref name="nonzeros"/> is given it also receives the code's stored entries — straight from the top-k
    /// selection for a TopK SAE, otherwise by one sweep of <paramref name="f"/> when at most
    /// <see cref="SparseDecodeMaxDensity"/> of it is non-zero (it is left unset for denser codes).
    /// </summary>
    public void Encode(ComputeBackend backend, HostMatrix x, HostMatrix f, SparseRows? nonzeros)
    {
        nonzeros?.Reset();
        EncodeInto(backend, x, f, nonzeros);
        if (nonzeros is { IsSet: false } && x.Rows > 0 && nonzeros.MaxRows >= x.Rows)
            nonzeros.TryCompress(f, SparseEntryLimit(f));
    }

    /// <summary>Encodes a batch: <paramref name="x"/> tokens × d_in → <paramref name="f"/> tokens × d_sae (overwritten).</summary>
    public void Encode(ComputeBackend backend, HostMatrix x, HostMatrix f) => EncodeInto(backend, x, f, null);

    /// <summary>The encoder; a TopK selection also fills <paramref name="kept"/> when it has room.</summary>
    private void EncodeInto(ComputeBackend backend, HostMatrix x, HostMatrix f, SparseRows? kept)
    {
        var p = Parameters;
        if (x.Cols != DIn) throw new ArgumentException($"Input has {x.Cols} columns, the SAE expects d_in = {DIn}.");
        if (f.Rows != x.Rows || f.Cols != DSae) throw new ArgumentException($"Code buffer is {f.Rows}×{f.Cols}, expected {x.Rows}×{DSae}.");
        if (x.Rows == 0) return;

        HostMatrix? prepared = null;
        try
        {
            var input = x;
            if (p.InputScale != 1f || p.ApplyBDecToInput)
            {
                prepared = HostMatrix.Rent(x.Rows, x.Cols, clear: false);
                var span = prepared.Span;
                x.Span.CopyTo(span);
                if (p.InputScale != 1f) TensorPrimitives.Multiply(span, p.InputScale, span);
                if (p.ApplyBDecToInput) Compute.Kernels.RowOps.SubtractRowVector(span, DIn, p.BDec);
                input = prepared;
            }

            if (Architecture == SaeArchitectures.Identity)
            {
                input.Span.CopyTo(f.Span);
                return;
            }

            backend.Gemm.Gemm(input, false, p.WEnc, false, f);
            if (Architecture == SaeArchitectures.Gated)
            {
                GatedActivation(f);
                return;
            }
            if (Architecture == SaeArchitectures.TopK)
            {
                // bias, top-k and ReLU in one sweep over the code; the kept entries come out as they are chosen
                bool room = kept is not null && kept.MaxRows >= f.Rows && kept.Capacity >= (long)f.Rows * p.K!.Value;
                backend.Selection.KeepRowTopK(f, p.K!.Value, relu: true, bias: Vector(p.BEnc), kept: room ? kept : null);
                return;
            }
            backend.Activations.AddRowVector(f, Vector(p.BEnc));
            Activate(backend, f);
        }
        finally
        {
            prepared?.Dispose();
        }
    }

    private void Activate(ComputeBackend backend, HostMatrix f)
    {
        var p = Parameters;
        var act = backend.Activations;
        switch (Architecture)
        {
            case SaeArchitectures.Relu:
                act.Relu(f);
                break;
            case SaeArchitectures.BatchTopK or SaeArchitectures.MatryoshkaBatchTopK or SaeArchitectures.MutualChoice:
                act.Relu(f);
                if (p.Threshold is not null) act.Threshold(f, 0f, Vector(p.Threshold));
                else if (p.ScalarThreshold is { } theta) act.Threshold(f, theta, null);
                else backend.Selection.KeepGlobalTopK(f, (int)Math.Min(f.Length, (long)p.K!.Value * f.Rows));
                break;
            case SaeArchitectures.JumpRelu:
                act.Threshold(f, 0f, Vector(p.Threshold!));
                act.Relu(f);
                break;
            case SaeArchitectures.FeatureChoice:
                act.Relu(f);
                if (p.Threshold is not null) act.Threshold(f, 0f, Vector(p.Threshold));
                else backend.Selection.KeepColumnTopM(f, (int)Math.Min(f.Rows, ((long)p.K!.Value * f.Rows + DSae - 1) / DSae));
                break;
            case SaeArchitectures.Pca:
                break;
            default:
                throw new InvalidOperationException($"No encoder for architecture '{Architecture}'.");
        }
    }

    private void GatedActivation(HostMatrix u)
    {
        var p = Parameters;
        int cols = DSae;
        var scale = new float[cols];
        TensorPrimitives.Exp(p.RMag!, scale);
        var bGate = p.BGate!;
        var bMag = p.BMag!;
        var span = u.Span;
        for (int o = 0; o < span.Length; o += cols)
        {
            var row = span.Slice(o, cols);
            for (int j = 0; j < cols; j++)
            {
                float v = row[j];
                row[j] = v + bGate[j] > 0f ? Math.Max(scale[j] * v + bMag[j], 0f) : 0f;
            }
        }
    }

    /// <summary>
    /// Decodes a batch of codes: f tokens × d_sae → x̂ tokens × d_in (overwritten), in the model's units. Chooses the
    /// sparse path when at most <see cref="SparseDecodeMaxDensity"/> of <paramref name="f"/> is non-zero.
    /// </summary>
    public void Decode(ComputeBackend backend, HostMatrix f, HostMatrix xHat) => Decode(backend, f, xHat, null);

    /// <summary>
    /// As <see cref="Decode(ComputeBackend, HostMatrix, HostMatrix)"/>, from <paramref name="nonzeros"/> (the stored
    /// entries of <paramref name="f"/>, e.g. from <see cref="Encode(ComputeBackend, HostMatrix, HostMatrix, SparseRows)"/>)
    /// without sweeping <paramref name="f"/> when they are set.
    /// </summary>
    public void Decode(ComputeBackend backend, HostMatrix f, HostMatrix xHat, SparseRows? nonzeros)
    {
        CheckDecodeShapes(f, xHat);
        bool stored = nonzeros is { IsSet: true } && nonzeros.Rows == f.Rows && nonzeros.Cols == DSae;
        // A top-k code with k ≤ d_sae/32 is known to be sparse enough; otherwise count the non-zeros (from the stored
        // entries when there are some: a few per row instead of d_sae).
        bool sparse = Architecture == SaeArchitectures.TopK && Parameters.K is { } k && k <= DSae * SparseDecodeMaxDensity
            || (stored ? nonzeros!.CountNonZero() : f.Length - ((ReadOnlySpan<float>)f.Span).Count(0f)) <= SparseEntryLimit(f);
        if (!sparse) DecodeDense(backend, f, xHat);
        else if (stored) DecodeSparse(nonzeros!, xHat);
        else DecodeSparse(f, xHat);
    }

    /// <summary>The most non-zeros for which the sparse decode beats the GEMM: <see cref="SparseDecodeMaxDensity"/> of the code.</summary>
    private static long SparseEntryLimit(HostMatrix f) => (long)Math.Floor(f.Length * SparseDecodeMaxDensity);

    /// <summary>x̂ = f·W_dec + b_dec by one GEMM.</summary>
    public void DecodeDense(ComputeBackend backend, HostMatrix f, HostMatrix xHat)
    {
        CheckDecodeShapes(f, xHat);
        if (f.Rows == 0) return;
        if (Architecture == SaeArchitectures.Identity) f.Span.CopyTo(xHat.Span);
        else backend.Gemm.Gemm(f, false, Parameters.WDec, false, xHat);
        backend.Activations.AddRowVector(xHat, Vector(Parameters.BDec));
        Unscale(xHat);
    }

    /// <summary>x̂ = Σ_j f_j·W_dec[j] + b_dec over the non-zeros only (host memory; rows in parallel).</summary>
    public void DecodeSparse(HostMatrix f, HostMatrix xHat)
    {
        CheckDecodeShapes(f, xHat);
        ForEachRow(xHat.Rows, r =>
        {
            var acc = xHat.Row(r);
            Parameters.BDec.CopyTo(acc);
            var code = f.Row(r);
            for (int j = 0; j < code.Length; j++)
            {
                if ((j & 7) == 0 && j + 8 <= code.Length
                    && System.Runtime.Intrinsics.Vector256.EqualsAll(System.Runtime.Intrinsics.Vector256.Create<float>(code.Slice(j, 8)), System.Runtime.Intrinsics.Vector256<float>.Zero))
                {
                    j += 7;
                    continue;
                }
                AddLatent(acc, j, code[j]);
            }
        });
        Unscale(xHat);
    }

    /// <summary>x̂ = Σ f_j·W_dec[j] + b_dec over stored entries (ascending j, as the dense sweep; rows in parallel).</summary>
    public void DecodeSparse(SparseRows nonzeros, HostMatrix xHat)
    {
        if (!nonzeros.IsSet || nonzeros.Cols != DSae || nonzeros.Rows != xHat.Rows || xHat.Cols != DIn)
            throw new ArgumentException($"Stored entries ({nonzeros.Rows}×{nonzeros.Cols}, set: {nonzeros.IsSet}) do not fit a {xHat.Rows}×{DIn} reconstruction of d_sae = {DSae}.");
        ForEachRow(xHat.Rows, r =>
        {
            var acc = xHat.Row(r);
            Parameters.BDec.CopyTo(acc);
            var index = nonzeros.RowIndices(r);
            var value = nonzeros.RowValues(r);
            for (int e = 0; e < index.Length; e++) AddLatent(acc, index[e], value[e]);
        });
        Unscale(xHat);
    }

    /// <summary>acc += v·W_dec[j] (acc[j] += v for the identity SAE); zeros skipped.</summary>
    private void AddLatent(Span<float> acc, int j, float v)
    {
        if (v == 0f) return;
        if (Architecture == SaeArchitectures.Identity) acc[j] += v;
        else TensorPrimitives.MultiplyAdd(Parameters.WDec.Row(j), v, acc, acc);
    }

    private static void ForEachRow(int rows, Action<int> row)
    {
        if (rows >= 64 && Environment.ProcessorCount > 1)
            Parallel.For(0, rows, row);
        else
            for (int r = 0; r < rows; r++) row(r);
    }

    private void CheckDecodeShapes(HostMatrix f, HostMatrix xHat)
    {
        if (f.Cols != DSae) throw new ArgumentException($"Codes have {f.Cols} columns, the SAE has d_sae = {DSae}.");
        if (xHat.Rows != f.Rows || xHat.Cols != DIn) throw new ArgumentException($"Reconstruction buffer is {xHat.Rows}×{xHat.Cols}, expected {f.Rows}×{DIn}.");
    }

    private void Unscale(HostMatrix xHat)
    {
        if (Parameters.InputScale != 1f) TensorPrimitives.Divide(xHat.Span, Parameters.InputScale, xHat.Span);
    }

    /// <summary>Euclidean norm of each decoder row (length d_sae).</summary>
    public float[] DecoderNorms()
    {
        var norms = new float[DSae];
        for (int j = 0; j < DSae; j++) norms[j] = TensorPrimitives.Norm(Parameters.WDec.Row(j));
        return norms;
    }

    /// <summary>
    /// An equivalent SAE whose decoder rows have unit norm: row j is divided by n_j and W_enc[:, j], b_enc[j], θ_j
    /// (and gated b_gate, b_mag) are multiplied by it; codes scale by n_j, reconstructions are unchanged. A scalar θ
    /// becomes per-latent θ·n_j. Zero rows are left as they are. Top-k selection across latents is not invariant to
    /// per-latent rescaling, so a top-k (or threshold-less batch) SAE with non-unit rows cannot be folded.
    /// </summary>
    public Sae FoldDecoderNorms()
    {
        var norms = DecoderNorms();
        for (int j = 0; j < norms.Length; j++) if (norms[j] == 0f || !float.IsFinite(norms[j])) norms[j] = 1f;
        bool unit = norms.All(n => Math.Abs(n - 1f) <= 1e-6f);
        var p = Parameters.Clone();
        if (unit || Architecture is SaeArchitectures.Identity) return new Sae(Architecture, p, Config.Clone());
        bool rankAcrossLatents = Architecture == SaeArchitectures.TopK
            || (SaeArchitectures.UsesBatchThreshold(Architecture) && p.Threshold is null && p.ScalarThreshold is null);
        if (rankAcrossLatents)
            throw new InvalidOperationException(
                $"Cannot fold decoder norms of a {Architecture} SAE with non-unit decoder rows (norms {norms.Min():G4}..{norms.Max():G4}): " +
                "its selection ranks latents against each other, which rescaling would change.");

        int dIn = DIn, dSae = DSae;
        for (int j = 0; j < dSae; j++)
        {
            var row = p.WDec.Row(j);
            TensorPrimitives.Divide(row, norms[j], row);
        }
        var enc = p.WEnc.Span;
        for (int i = 0; i < dIn; i++) TensorPrimitives.Multiply(enc.Slice(i * dSae, dSae), norms, enc.Slice(i * dSae, dSae));
        TensorPrimitives.Multiply(p.BEnc, norms, p.BEnc);
        if (p.BGate is not null) TensorPrimitives.Multiply(p.BGate, norms, p.BGate);
        if (p.BMag is not null) TensorPrimitives.Multiply(p.BMag, norms, p.BMag);
        if (p.Threshold is not null) TensorPrimitives.Multiply(p.Threshold, norms, p.Threshold);
        else if (p.ScalarThreshold is { } theta)
        {
            p.Threshold = norms.Select(n => theta * n).ToArray();
            p.ScalarThreshold = null;
        }
        return new Sae(Architecture, p, Config.Clone());
    }

    private static HostMatrix Vector(float[] v) => HostMatrix.Wrap(v, 1, v.Length);

    public override string ToString() => $"Sae({Architecture}, d_in={DIn}, d_sae={DSae})";
}
