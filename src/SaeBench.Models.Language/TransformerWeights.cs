using SaeBench.Compute.Tensors;

namespace SaeBench.Models.Language;

/// <summary>A norm's parameters as <c>1 × d</c> rows; either may be absent (RMSNorm has no bias; after
/// <c>fold_ln</c> both are gone and only the normalisation itself remains).</summary>
public sealed class NormWeights
{
    public HostMatrix? Scale { get; internal set; }
    public HostMatrix? Bias { get; internal set; }
}

/// <summary>
/// One block's weights in the runner's layout: every projection is <c>[in, out]</c> (<c>y = x·W + b</c>), the
/// attention projections fused as <c>Qkv = [W_Q | W_K | W_V]</c> (head h of Q in columns <c>h·d_head…</c>, then the
/// K heads, then the V heads) and gated MLPs fused as <c>MlpIn = [W_gate | W_up]</c>. Biases are <c>1 × out</c> rows.
/// </summary>
public sealed class LayerWeights
{
    public required NormWeights Norm1 { get; init; }
    public required HostMatrix Qkv { get; init; }
    public HostMatrix? QkvBias { get; internal set; }

    /// <summary><c>[heads·d_head, d_model]</c>: row block h is W_O of head h.</summary>
    public required HostMatrix Out { get; init; }

    public HostMatrix? OutBias { get; internal set; }

    /// <summary>Gemma-2's <c>post_attention_layernorm</c> (applied to the attention output).</summary>
    public NormWeights? PostAttentionNorm { get; init; }

    /// <summary>The norm before the MLP.</summary>
    public required NormWeights Norm2 { get; init; }

    public required HostMatrix MlpIn { get; init; }
    public HostMatrix? MlpInBias { get; internal set; }
    public required HostMatrix MlpOut { get; init; }
    public HostMatrix? MlpOutBias { get; internal set; }

    /// <summary>Gemma-2's <c>post_feedforward_layernorm</c>.</summary>
    public NormWeights? PostMlpNorm { get; init; }
}

/// <summary>
/// All weights of a model in float32, in the runner's layout (see <see cref="LayerWeights"/>). The token embedding
/// is <c>[vocab, d_model]</c>; the unembedding is kept as <c>[vocab, d_model]</c> too (logits = x·Uᵀ + b), and is the
/// same matrix as the embedding for tied models until weight processing separates them.
/// </summary>
public sealed class TransformerWeights
{
    public required HostMatrix Embed { get; init; }

    /// <summary>Learned absolute positions <c>[max_positions, d_model]</c> (GPT-2), null with rotary.</summary>
    public HostMatrix? Positions { get; internal set; }

    public required IReadOnlyList<LayerWeights> Layers { get; init; }
    public required NormWeights FinalNorm { get; init; }

    /// <summary><c>[vocab, d_model]</c>.</summary>
    public required HostMatrix Unembed { get; set; }

    /// <summary><c>1 × vocab</c>, present after <c>fold_ln</c> of a LayerNorm model.</summary>
    public HostMatrix? UnembedBias { get; internal set; }

    /// <summary>Number of float parameters held (a tied embedding counted once).</summary>
    public long ParameterCount()
    {
        long n = Embed.Length + (Positions?.Length ?? 0) + (ReferenceEquals(Unembed, Embed) ? 0 : Unembed.Length) + (UnembedBias?.Length ?? 0) + Count(FinalNorm);
        foreach (var l in Layers)
        {
            n += Count(l.Norm1) + Count(l.Norm2) + Count(l.PostAttentionNorm) + Count(l.PostMlpNorm);
            n += l.Qkv.Length + (l.QkvBias?.Length ?? 0) + l.Out.Length + (l.OutBias?.Length ?? 0);
            n += l.MlpIn.Length + (l.MlpInBias?.Length ?? 0) + l.MlpOut.Length + (l.MlpOutBias?.Length ?? 0);
        }
        return n;
    }

    private static long Count(NormWeights? n) => (n?.Scale?.Length ?? 0) + (n?.Bias?.Length ?? 0);
}
