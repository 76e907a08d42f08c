using SaeBench.Compute.Backends;

namespace SaeBench.Models.Language;

/// <summary>The model families the runner implements (Hugging Face <c>model_type</c> in brackets).</summary>
public enum ModelFamily
{
    /// <summary>GPT-2 (<c>gpt2</c>).</summary>
    Gpt2,

    /// <summary>GPT-NeoX / Pythia (<c>gpt_neox</c>).</summary>
    GptNeoX,

    /// <summary>Gemma 2 (<c>gemma2</c>).</summary>
    Gemma2,

    /// <summary>Llama 1–3 and Mistral-style configs written as <c>llama</c>.</summary>
    Llama,

    /// <summary>Qwen 2 / 2.5 (<c>qwen2</c>).</summary>
    Qwen2,
}

/// <summary>Which normalisation a model uses before attention, before the MLP and before the unembedding.</summary>
public enum NormKind
{
    /// <summary>LayerNorm with weight and bias.</summary>
    LayerNorm,

    /// <summary>RMSNorm with a weight (Gemma's <c>(1 + w)</c> is stored already added).</summary>
    RmsNorm,
}

/// <summary>Rotary position embedding settings (absent for learned positions).</summary>
/// <param name="Dim">Rotated dimensions per head (even; ≤ head dimension).</param>
/// <param name="Theta">Base θ of the frequencies.</param>
/// <param name="Scaling">Frequency scaling (<c>rope_type</c>), <see cref="RopeScaling.None"/> for the default.</param>
public sealed record RotarySettings(int Dim, double Theta, RopeScaling Scaling)
{
    /// <summary>The inverse frequencies after scaling, <c>Dim/2</c> of them.</summary>
    public double[] InverseFrequencies() => Scaling.Apply(RotaryTable.DefaultFrequencies(Dim, Theta));
}

/// <summary>
/// The architecture of a decoder-only transformer, in one family-neutral form: everything the forward pass,
/// the weight loader and the TransformerLens processing need. Built from a Hugging Face <c>config.json</c> by
/// <see cref="HfConfig"/>, or directly (random-weight benchmark models).
/// </summary>
public sealed record TransformerConfig
{
    public required ModelFamily Family { get; init; }

    /// <summary>The <c>model_type</c> as the config spells it.</summary>
    public required string ModelType { get; init; }

    public required int DModel { get; init; }
    public required int Layers { get; init; }
    public required int Heads { get; init; }

    /// <summary>Key/value heads (= <see cref="Heads"/> without grouped-query attention).</summary>
    public required int KvHeads { get; init; }

    public required int HeadDim { get; init; }

    /// <summary>MLP hidden width (of each of gate and up for gated MLPs).</summary>
    public required int DMlp { get; init; }

    public required int Vocab { get; init; }

    /// <summary>Longest context the model supports (learned positions / rotary table size).</summary>
    public required int MaxPositions { get; init; }

    public required NormKind Norm { get; init; }
    public required float NormEps { get; init; }

    /// <summary>The MLP activation (of the gate for gated MLPs).</summary>
    public required PointwiseKind Activation { get; init; }

    /// <summary><c>down(act(gate(x)) ⊙ up(x))</c> rather than <c>out(act(in(x)))</c>.</summary>
    public required bool GatedMlp { get; init; }

    /// <summary>Rotary settings, or null for learned absolute positions (GPT-2).</summary>
    public RotarySettings? Rotary { get; init; }

    /// <summary>NeoX's parallel residual: <c>x + attn(ln1(x)) + mlp(ln2(x))</c> (no <c>hook_resid_mid</c>).</summary>
    public bool ParallelResidual { get; init; }

    public bool QkvBias { get; init; }
    public bool OutBias { get; init; }
    public bool MlpBias { get; init; }

    /// <summary>Attention score scale per layer (GPT-2's <c>scale_attn_by_inverse_layer_idx</c> makes it vary).</summary>
    public required IReadOnlyList<float> AttentionScale { get; init; }

    /// <summary>tanh soft-cap of the attention scores, 0 for none.</summary>
    public float AttentionSoftCap { get; init; }

    /// <summary>tanh soft-cap of the final logits, 0 for none.</summary>
    public float FinalSoftCap { get; init; }

    /// <summary>Sliding window per layer (0 = full causal attention).</summary>
    public required IReadOnlyList<int> SlidingWindow { get; init; }

    /// <summary>Gemma-2 norms after attention and after the MLP (before they join the residual stream).</summary>
    public bool PostNorms { get; init; }

    /// <summary>Multiplier of the token embedding (Gemma: √d_model).</summary>
    public float EmbeddingScale { get; init; } = 1f;

    public bool TiedEmbeddings { get; init; }

    public int? BosTokenId { get; init; }
    public int? EosTokenId { get; init; }
    public int? PadTokenId { get; init; }

    /// <summary>The dtype the weights declare (<c>torch_dtype</c> / <c>dtype</c>); computation is float32 regardless.</summary>
    public string? DeclaredDType { get; init; }

    public int QueryWidth => Heads * HeadDim;
    public int KvWidth => KvHeads * HeadDim;

    /// <summary>Columns of the fused Q|K|V projection.</summary>
    public int FusedQkvWidth => QueryWidth + 2 * KvWidth;

    /// <summary>Columns of the first MLP projection (gate and up fused for gated MLPs).</summary>
    public int MlpInWidth => GatedMlp ? 2 * DMlp : DMlp;

    /// <summary>TransformerLens's default for prepending BOS: every family here except GPT-NeoX and Qwen2.</summary>
    public bool DefaultPrependBos => Family is not (ModelFamily.GptNeoX or ModelFamily.Qwen2);

    /// <summary>Throws <see cref="ArgumentException"/> unless the sizes are consistent.</summary>
    public void Validate()
    {
        if (DModel <= 0 || Layers <= 0 || Heads <= 0 || KvHeads <= 0 || HeadDim <= 0 || DMlp <= 0 || Vocab <= 0 || MaxPositions <= 0)
            throw new ArgumentException($"Transformer config has a non-positive size: {this}");
        if (Heads % KvHeads != 0) throw new ArgumentException($"{Heads} attention heads are not a multiple of {KvHeads} key/value heads.");
        if (AttentionScale.Count != Layers || SlidingWindow.Count != Layers)
            throw new ArgumentException($"Per-layer settings need {Layers} entries (scale: {AttentionScale.Count}, window: {SlidingWindow.Count}).");
        if (Rotary is { } r && (r.Dim <= 0 || r.Dim % 2 != 0 || r.Dim > HeadDim))
            throw new ArgumentException($"Rotary dimension {r.Dim} must be even and in (0, {HeadDim}].");
    }
}
