using SaeBench.Compute.Tensors;

namespace SaeBench.Compute.Backends;

/// <summary>Element-wise functions a transformer applies (MLP activations and tanh soft-capping).</summary>
public enum PointwiseKind
{
    /// <summary>Exact GELU, <c>0.5·x·(1 + erf(x/√2))</c> (Hugging Face <c>gelu</c>).</summary>
    GeluExact,

    /// <summary>Tanh-approximated GELU, <c>0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))</c>
    /// (<c>gelu_new</c>, <c>gelu_pytorch_tanh</c>, <c>gelu_fast</c>).</summary>
    GeluTanh,

    /// <summary><c>x·σ(x)</c> (<c>silu</c>, <c>swish</c>).</summary>
    Silu,

    /// <summary><c>max(x, 0)</c>.</summary>
    Relu,

    /// <summary><c>x·σ(1.702·x)</c> (<c>quick_gelu</c>).</summary>
    QuickGelu,

    /// <summary><c>c·tanh(x/c)</c> with c = <see cref="Pointwise.Parameter"/> (Gemma-2 logit soft-capping).</summary>
    SoftCap,
}

/// <summary>An element-wise function and its parameter (only <see cref="PointwiseKind.SoftCap"/> has one).</summary>
public readonly record struct Pointwise(PointwiseKind Kind, float Parameter = 0f)
{
    public static Pointwise SoftCap(float cap) =>
        cap > 0f && float.IsFinite(cap) ? new(PointwiseKind.SoftCap, cap) : throw new ArgumentOutOfRangeException(nameof(cap), cap, "A soft cap must be positive.");
}

/// <summary>
/// How one fused projection row is laid out: <c>[Q heads | K heads | V heads]</c>, each head <see cref="HeadDim"/>
/// contiguous values, rows ordered example-major (<c>row = b·Context + t</c>, position t).
/// Query head h reads key/value head <c>h / (Heads / KvHeads)</c> (grouped-query attention).
/// </summary>
public readonly record struct AttentionLayout(int Batch, int Context, int Heads, int KvHeads, int HeadDim)
{
    public int Rows => Batch * Context;
    public int QueryWidth => Heads * HeadDim;
    public int KvWidth => KvHeads * HeadDim;
    public int FusedWidth => QueryWidth + 2 * KvWidth;

    /// <summary>Throws unless the shape is consistent (positive sizes, heads a multiple of kv heads).</summary>
    public void Validate()
    {
        if (Batch <= 0 || Context <= 0 || Heads <= 0 || KvHeads <= 0 || HeadDim <= 0)
            throw new ArgumentException($"Attention layout {this} has a non-positive size.");
        if (Heads % KvHeads != 0) throw new ArgumentException($"{Heads} query heads are not a multiple of {KvHeads} key/value heads.");
    }
}

/// <summary>Causal attention options: score scale, tanh soft-cap of the scores (0 = none) and a sliding window
/// (0 = none; otherwise query t sees keys <c>t − Window &lt; s ≤ t</c>, the Hugging Face rule).</summary>
public readonly record struct AttentionOptions(float Scale, float SoftCap = 0f, int Window = 0);

/// <summary>
/// Rotary position tables: <c>cos</c> and <c>sin</c> of <c>position · inv_freq[i]</c> for positions
/// <c>[0, Positions)</c> and <c>i &lt; RotaryDim/2</c>, applied rotate-half style to the first <see cref="RotaryDim"/>
/// dimensions of every query and key head (pairs <c>i</c>, <c>i + RotaryDim/2</c>).
/// </summary>
public sealed class RotaryTable
{
    private readonly float[] _cos;
    private readonly float[] _sin;

    private RotaryTable(int rotaryDim, int positions, float[] cos, float[] sin)
    {
        RotaryDim = rotaryDim;
        Positions = positions;
        _cos = cos;
        _sin = sin;
    }

    public int RotaryDim { get; }
    public int Positions { get; }

    /// <summary><c>[Positions, RotaryDim/2]</c>.</summary>
    public ReadOnlySpan<float> Cos => _cos;

    /// <summary><c>[Positions, RotaryDim/2]</c>.</summary>
    public ReadOnlySpan<float> Sin => _sin;

    /// <summary>Tables for the given inverse frequencies (<c>RotaryDim/2</c> of them); angles are computed in double.</summary>
    public static RotaryTable Create(ReadOnlySpan<double> inverseFrequencies, int positions)
    {
        int half = inverseFrequencies.Length;
        if (half <= 0 || positions <= 0) throw new ArgumentException("Rotary tables need at least one frequency and one position.");
        var cos = new float[positions * half];
        var sin = new float[positions * half];
        for (int p = 0; p < positions; p++)
        for (int i = 0; i < half; i++)
        {
            double angle = p * inverseFrequencies[i];
            cos[p * half + i] = (float)Math.Cos(angle);
            sin[p * half + i] = (float)Math.Sin(angle);
        }
        return new RotaryTable(2 * half, positions, cos, sin);
    }

    /// <summary>The standard frequencies <c>θ^(−2i/RotaryDim)</c>.</summary>
    public static double[] DefaultFrequencies(int rotaryDim, double theta)
    {
        if (rotaryDim <= 0 || rotaryDim % 2 != 0) throw new ArgumentException($"Rotary dimension {rotaryDim} must be positive and even.");
        var f = new double[rotaryDim / 2];
        for (int i = 0; i < f.Length; i++) f[i] = 1.0 / Math.Pow(theta, 2.0 * i / rotaryDim);
        return f;
    }
}

/// <summary>Row-wise normalisations (one row = one token's vector).</summary>
public interface INormOps
{
    /// <summary><c>output = (x − mean)/√(var + eps) · weight + bias</c> per row; weight and bias (1 × cols) are optional.</summary>
    void LayerNorm(ITensor input, ITensor output, ITensor? weight, ITensor? bias, float eps);

    /// <summary><c>output = x/√(mean(x²) + eps) · weight</c> per row; weight (1 × cols) is optional. Input and output may be the same tensor.</summary>
    void RmsNorm(ITensor input, ITensor output, ITensor? weight, float eps);
}

/// <summary>Element-wise work on whole tensors.</summary>
public interface IPointwiseOps
{
    /// <summary>Applies <paramref name="function"/> in place.</summary>
    void Apply(ITensor matrix, Pointwise function);

    /// <summary><c>output = f(gate) ⊙ up</c> where <paramref name="gateAndUp"/> is <c>[rows, 2·cols]</c> = <c>[gate | up]</c>
    /// and <paramref name="output"/> is <c>[rows, cols]</c> (SwiGLU, GeGLU).</summary>
    void Gate(ITensor gateAndUp, ITensor output, Pointwise function);

    /// <summary><c>target += addend</c> (same shape).</summary>
    void Add(ITensor target, ITensor addend);
}

/// <summary>Causal self-attention over a fused Q|K|V projection.</summary>
public interface IAttentionOps
{
    /// <summary>Rotates the first <c>table.RotaryDim</c> dimensions of every query and key head of
    /// <paramref name="qkv"/> in place; row r has position <c>r % layout.Context</c>.</summary>
    void Rotary(ITensor qkv, AttentionLayout layout, RotaryTable table);

    /// <summary>Writes <c>z = softmax(mask(cap(scale·Q·Kᵀ)))·V</c> per query head into <paramref name="z"/>
    /// (<c>[rows, Heads·HeadDim]</c>, head h in columns <c>h·HeadDim…</c>).</summary>
    void Attend(ITensor qkv, ITensor z, AttentionLayout layout, AttentionOptions options);
}

/// <summary>Table look-ups (token and position embeddings).</summary>
public interface IEmbeddingOps
{
    /// <summary><c>output[r] (+)= scale · table[indices[r]]</c>; adds when <paramref name="accumulate"/>, else overwrites.</summary>
    void Gather(ReadOnlySpan<int> indices, ITensor table, ITensor output, float scale, bool accumulate);
}

/// <summary>Row reductions over logits (per token: log-sum-exp, the target's logit, arg-max, KL).</summary>
public interface ILogitOps
{
    /// <summary>Per row r: <paramref name="logSumExp"/>[r], the logit of <paramref name="targets"/>[r] (NaN where the target is
    /// negative) and the index of the largest logit.</summary>
    void RowStatistics(ITensor logits, ReadOnlySpan<int> targets, Span<double> logSumExp, Span<double> targetLogit, Span<int> argMax);

    /// <summary>Per row: <c>KL(p ‖ q) = Σ p·(log p − log q)</c> with p = softmax(<paramref name="reference"/>), q = softmax(<paramref name="other"/>),
    /// given both rows' log-sum-exp (from <see cref="RowStatistics"/>).</summary>
    void RowKl(ITensor reference, ReadOnlySpan<double> referenceLogSumExp, ITensor other, ReadOnlySpan<double> otherLogSumExp, Span<double> destination);
}

/// <summary>
/// The kernels of a transformer forward pass on one backend. GEMMs go through <see cref="IGemm"/>; everything
/// else a language model does per token is here, so a device backend can take it over.
/// </summary>
public interface ITransformerOps : INormOps, IPointwiseOps, IAttentionOps, IEmbeddingOps, ILogitOps;
