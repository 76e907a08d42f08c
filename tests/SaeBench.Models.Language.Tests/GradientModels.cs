using SaeBench.Compute.Backends;
using SaeBench.Compute.Tensors;

namespace SaeBench.Models.Language.Tests;

/// <summary>
/// Tiny random models of every family configuration the runner supports, for the loss-gradient tests. The weights are
/// <see cref="RandomTransformer"/>'s, scaled ×10 (std 0.2, so attention, activations and soft-caps work in their
/// non-linear range) with random norm scales and biases, so every parameter path of the backward is exercised.
/// </summary>
public static class GradientModels
{
    public const int DModel = 32;
    public const int Vocab = 61;
    public const int Context = 7;

    /// <summary>The configurations by name (see <see cref="Config"/>).</summary>
    public static IReadOnlyList<string> Names { get; } =
        ["gpt2", "gpt2-tl", "gpt2-quickgelu", "neox", "llama", "llama-gelu", "qwen2", "gemma2"];

    public static TransformerConfig Config(string name) => name switch
    {
        // LayerNorm, tanh GELU, learned positions, biases everywhere, tied; scale_attn_by_inverse_layer_idx.
        "gpt2" or "gpt2-tl" => Gpt2(PointwiseKind.GeluTanh),
        "gpt2-quickgelu" => Gpt2(PointwiseKind.QuickGelu),
        // Parallel residual, partial rotary (half the head), exact GELU, untied.
        "neox" => Gpt2(PointwiseKind.GeluExact) with
        {
            Family = ModelFamily.GptNeoX,
            ModelType = "gpt_neox",
            Rotary = new RotarySettings(4, 10000, RopeScaling.None),
            ParallelResidual = true,
            TiedEmbeddings = false,
            AttentionScale = Uniform(1f / MathF.Sqrt(8)),
        },
        // RMSNorm, GQA, SwiGLU, full rotary with llama3 scaling, no biases, untied.
        "llama" => Llama(PointwiseKind.Silu, new RopeScaling("llama3", Factor: 8, OriginalMaxPositions: 4)),
        // Gated exact GELU and linear rope scaling.
        "llama-gelu" => Llama(PointwiseKind.GeluExact, new RopeScaling("linear", Factor: 2)),
        // q/k/v biases, tied.
        "qwen2" => Llama(PointwiseKind.Silu, RopeScaling.None) with { Family = ModelFamily.Qwen2, ModelType = "qwen2", QkvBias = true, TiedEmbeddings = true },
        // Soft-capped scores and logits, post norms, sliding window on even layers, head_dim ≠ d/heads, per-layer scale, GeGLU.
        "gemma2" => Llama(PointwiseKind.GeluTanh, RopeScaling.None) with
        {
            Family = ModelFamily.Gemma2,
            ModelType = "gemma2",
            HeadDim = 16,
            AttentionScale = [0.25f, 0.3f, 0.2f],
            AttentionSoftCap = 2f,
            FinalSoftCap = 1.5f,
            SlidingWindow = [3, 0, 3],
            PostNorms = true,
            EmbeddingScale = MathF.Sqrt(DModel),
            TiedEmbeddings = true,
            Rotary = new RotarySettings(16, 10000, RopeScaling.None),
        },
        _ => throw new ArgumentException($"Unknown test model '{name}'."),
    };

    /// <summary>The model called <paramref name="name"/> (<c>gpt2-tl</c> gets TransformerLens's default processing:
    /// no norm weights, an unembedding bias).</summary>
    public static LanguageModel Model(string name, ulong seed = 7)
    {
        var config = Config(name);
        var weights = RandomTransformer.Weights(config, seed);
        var rng = new Random((int)seed);
        void Scale(HostMatrix? m, float factor)
        {
            if (m is null) return;
            foreach (ref var v in m.Span) v *= factor;
        }
        void Noise(HostMatrix? m, float center, float spread)
        {
            if (m is null) return;
            foreach (ref var v in m.Span) v = center + spread * (float)(rng.NextDouble() * 2 - 1);
        }
        void Norm(NormWeights? n)
        {
            if (n is null) return;
            Noise(n.Scale, 1f, 0.3f);
            Noise(n.Bias, 0f, 0.2f);
        }
        Scale(weights.Embed, 10f);
        Scale(weights.Positions, 10f);
        if (!ReferenceEquals(weights.Unembed, weights.Embed)) Scale(weights.Unembed, 10f);
        Norm(weights.FinalNorm);
        foreach (var l in weights.Layers)
        {
            Scale(l.Qkv, 10f);
            Scale(l.Out, 10f);
            Scale(l.MlpIn, 10f);
            Scale(l.MlpOut, 10f);
            Noise(l.QkvBias, 0f, 0.2f);
            Noise(l.OutBias, 0f, 0.2f);
            Noise(l.MlpInBias, 0f, 0.2f);
            Noise(l.MlpOutBias, 0f, 0.2f);
            Norm(l.Norm1);
            Norm(l.Norm2);
            Norm(l.PostAttentionNorm);
            Norm(l.PostMlpNorm);
        }
        var processing = name == "gpt2-tl" ? WeightProcessing.TlDefault : WeightProcessing.None;
        return new LanguageModel(config, weights, processing, source: name);
    }

    /// <summary>A realistic hook value: the model's own activation at <paramref name="hook"/> for random tokens.</summary>
    public static HostMatrix ValueAt(LanguageModel model, string hook, int batch, ulong seed = 3) =>
        model.RunToHook(RandomTransformer.Tokens(model.Config.Vocab, batch, Context, seed), hook);

    private static float[] Uniform(float v) => [v, v, v];

    private static TransformerConfig Gpt2(PointwiseKind activation) => new()
    {
        Family = ModelFamily.Gpt2,
        ModelType = "gpt2",
        DModel = DModel,
        Layers = 3,
        Heads = 4,
        KvHeads = 4,
        HeadDim = 8,
        DMlp = 64,
        Vocab = Vocab,
        MaxPositions = 16,
        Norm = NormKind.LayerNorm,
        NormEps = 1e-5f,
        Activation = activation,
        GatedMlp = false,
        QkvBias = true,
        OutBias = true,
        MlpBias = true,
        AttentionScale = [1f / MathF.Sqrt(8), 1f / MathF.Sqrt(8) / 2, 1f / MathF.Sqrt(8) / 3],
        SlidingWindow = new int[3],
        TiedEmbeddings = true,
    };

    private static TransformerConfig Llama(PointwiseKind activation, RopeScaling scaling) => new()
    {
        Family = ModelFamily.Llama,
        ModelType = "llama",
        DModel = DModel,
        Layers = 3,
        Heads = 4,
        KvHeads = 2,
        HeadDim = 8,
        DMlp = 48,
        Vocab = Vocab,
        MaxPositions = 16,
        Norm = NormKind.RmsNorm,
        NormEps = 1e-6f,
        Activation = activation,
        GatedMlp = true,
        Rotary = new RotarySettings(8, 500000, scaling),
        AttentionScale = Uniform(1f / MathF.Sqrt(8)),
        SlidingWindow = new int[3],
        TiedEmbeddings = false,
    };
}
