using SaeBench.Compute.Backends;

namespace SaeBench.Models.Language.Tests;

/// <summary>A tiny Llama-style configuration (d 16, 2 heads sharing one KV head, gated SiLU MLP, rotary) for tests that
/// need a real forward pass and nothing in particular of the family.</summary>
public static class TinyLlama
{
    public static TransformerConfig Config(int layers, int vocab) => new()
    {
        Family = ModelFamily.Llama,
        ModelType = "llama",
        DModel = 16,
        Layers = layers,
        Heads = 2,
        KvHeads = 1,
        HeadDim = 8,
        DMlp = 32,
        Vocab = vocab,
        MaxPositions = 64,
        Norm = NormKind.RmsNorm,
        NormEps = 1e-6f,
        Activation = PointwiseKind.Silu,
        GatedMlp = true,
        Rotary = new RotarySettings(8, 10000, RopeScaling.None),
        AttentionScale = Enumerable.Repeat(1 / MathF.Sqrt(8), layers).ToArray(),
        SlidingWindow = new int[layers],
    };
}
