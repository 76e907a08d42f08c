using SaeBench.Compute.Backends;
using SaeBench.Compute.Tensors;

namespace SaeBench.Models.Language;

/// <summary>
/// Random-weight models of real shapes, built in memory (nothing is downloaded): for benchmarks and for tests that
/// need sizes the fixtures do not have. Weights are N(0, 0.02²) (norm scales 1, biases 0), deterministic per seed.
/// </summary>
public static class RandomTransformer
{
    /// <summary>Shape names accepted by <see cref="Shape"/>.</summary>
    public static IReadOnlyList<string> ShapeNames { get; } = ["gpt2-small", "gpt2-medium", "pythia-70m", "pythia-160m"];

    /// <summary>GPT-2 small: 12 layers, d_model 768, 12 heads, d_mlp 3072, vocabulary 50257, 1024 positions, gelu_new.</summary>
    public static TransformerConfig Gpt2Small => Gpt2(12, 768, 12);

    /// <summary>A known real shape by name (see <see cref="ShapeNames"/>).</summary>
    public static TransformerConfig Shape(string name) => name.Trim().ToLowerInvariant() switch
    {
        "gpt2-small" or "gpt2" => Gpt2Small,
        "gpt2-medium" => Gpt2(24, 1024, 16),
        "pythia-70m" => NeoX(6, 512, 8, 50304),
        "pythia-160m" => NeoX(12, 768, 12, 50304),
        _ => throw new ArgumentException($"Unknown model shape '{name}' (known: {string.Join(", ", ShapeNames)})."),
    };

    private static TransformerConfig Gpt2(int layers, int d, int heads) => new()
    {
        Family = ModelFamily.Gpt2,
        ModelType = "gpt2",
        DModel = d,
        Layers = layers,
        Heads = heads,
        KvHeads = heads,
        HeadDim = d / heads,
        DMlp = 4 * d,
        Vocab = 50257,
        MaxPositions = 1024,
        Norm = NormKind.LayerNorm,
        NormEps = 1e-5f,
        Activation = PointwiseKind.GeluTanh,
        GatedMlp = false,
        QkvBias = true,
        OutBias = true,
        MlpBias = true,
        AttentionScale = Enumerable.Repeat(1f / MathF.Sqrt(d / heads), layers).ToArray(),
        SlidingWindow = new int[layers],
        TiedEmbeddings = true,
        BosTokenId = 50256,
        EosTokenId = 50256,
    };

    private static TransformerConfig NeoX(int layers, int d, int heads, int vocab) => new()
    {
        Family = ModelFamily.GptNeoX,
        ModelType = "gpt_neox",
        DModel = d,
        Layers = layers,
        Heads = heads,
        KvHeads = heads,
        HeadDim = d / heads,
        DMlp = 4 * d,
        Vocab = vocab,
        MaxPositions = 2048,
        Norm = NormKind.LayerNorm,
        NormEps = 1e-5f,
        Activation = PointwiseKind.GeluExact,
        GatedMlp = false,
        Rotary = new RotarySettings(d / heads / 4, 10000, RopeScaling.None),
        ParallelResidual = true,
        QkvBias = true,
        OutBias = true,
        MlpBias = true,
        AttentionScale = Enumerable.Repeat(1f / MathF.Sqrt(d / heads), layers).ToArray(),
        SlidingWindow = new int[layers],
        TiedEmbeddings = false,
    };

    /// <summary>Random weights for <paramref name="config"/>.</summary>
    public static TransformerWeights Weights(TransformerConfig config, ulong seed = 0)
    {
        config.Validate();
        var rng = new Gaussian(seed);
        int d = config.DModel;
        HostMatrix Random(int rows, int cols)
        {
            var m = new HostMatrix(rows, cols);
            rng.Fill(m.Span, 0.02f);
            return m;
        }
        HostMatrix Ones(int n)
        {
            var m = new HostMatrix(1, n);
            m.Span.Fill(1f);
            return m;
        }
        NormWeights Norm() => new() { Scale = Ones(d), Bias = config.Norm == NormKind.LayerNorm ? new HostMatrix(1, d) : null };
        var layers = new LayerWeights[config.Layers];
        for (int l = 0; l < layers.Length; l++)
        {
            layers[l] = new LayerWeights
            {
                Norm1 = Norm(),
                Qkv = Random(d, config.FusedQkvWidth),
                QkvBias = config.QkvBias ? new HostMatrix(1, config.FusedQkvWidth) : null,
                Out = Random(config.QueryWidth, d),
                OutBias = config.OutBias ? new HostMatrix(1, d) : null,
                PostAttentionNorm = config.PostNorms ? Norm() : null,
                Norm2 = Norm(),
                MlpIn = Random(d, config.MlpInWidth),
                MlpInBias = config.MlpBias ? new HostMatrix(1, config.MlpInWidth) : null,
                MlpOut = Random(config.DMlp, d),
                MlpOutBias = config.MlpBias ? new HostMatrix(1, d) : null,
                PostMlpNorm = config.PostNorms ? Norm() : null,
            };
        }
        var embed = Random(config.Vocab, d);
        return new TransformerWeights
        {
            Embed = embed,
            Positions = config.Rotary is null ? Random(config.MaxPositions, d) : null,
            Layers = layers,
            FinalNorm = Norm(),
            Unembed = config.TiedEmbeddings ? embed : Random(config.Vocab, d),
        };
    }

    /// <summary>A model of <paramref name="config"/> with random weights.</summary>
    public static LanguageModel Model(TransformerConfig config, ulong seed = 0, ComputeBackend? backend = null) =>
        new(config, Weights(config, seed), WeightProcessing.None, backend, source: "random");

    /// <summary>Uniform random token ids, <c>[batch, context]</c>.</summary>
    public static TokenBatch Tokens(int vocab, int batch, int context, ulong seed = 1)
    {
        var ids = new int[batch * context];
        ulong s = seed;
        for (int i = 0; i < ids.Length; i++) ids[i] = (int)(Gaussian.Next(ref s) % (ulong)vocab);
        return new TokenBatch(ids, batch, context);
    }

    /// <summary>SplitMix64 driving a Box–Muller normal generator.</summary>
    private sealed class Gaussian(ulong seed)
    {
        private ulong _state = seed;

        public static ulong Next(ref ulong state)
        {
            ulong z = state += 0x9E3779B97F4A7C15UL;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            return z ^ (z >> 31);
        }

        public void Fill(Span<float> destination, float std)
        {
            for (int i = 0; i < destination.Length; i += 2)
            {
                double u1 = ((Next(ref _state) >> 11) + 1.0) / 9007199254740993.0;
                double u2 = (Next(ref _state) >> 11) / 9007199254740992.0;
                double r = Math.Sqrt(-2 * Math.Log(u1)) * std;
                destination[i] = (float)(r * Math.Cos(2 * Math.PI * u2));
                if (i + 1 < destination.Length) destination[i + 1] = (float)(r * Math.Sin(2 * Math.PI * u2));
            }
        }
    }
}
