using System.Globalization;
using System.Text.Json;
using SaeBench.Compute.Backends;

namespace SaeBench.Models.Language;

/// <summary>
/// Reads a Hugging Face <c>config.json</c> into a <see cref="TransformerConfig"/>. Accepts the transformers 4.x
/// spelling (<c>rope_theta</c>, <c>rope_scaling</c>, <c>torch_dtype</c>, <c>rotary_pct</c>, <c>rotary_emb_base</c>) and the v5
/// spelling (<c>rope_parameters: {rope_theta, rope_type, partial_rotary_factor}</c>, <c>dtype</c>, explicit
/// <c>layer_types</c>). Every problem is an <see cref="InvalidDataException"/> naming the file and the field.
/// </summary>
public static class HfConfig
{
    /// <summary>The <c>model_type</c> values this runner implements.</summary>
    public static IReadOnlyList<string> SupportedModelTypes { get; } = ["gpt2", "gpt_neox", "gemma2", "llama", "qwen2"];

    private static readonly string[] MixtureOfExpertsFields =
        ["num_experts", "num_local_experts", "n_routed_experts", "num_experts_per_tok", "moe_intermediate_size", "n_shared_experts"];

    /// <summary>Reads and interprets <paramref name="path"/>.</summary>
    public static TransformerConfig Read(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: config.json not found.", path);
        JsonDocument doc;
        try
        {
            doc = Core.StrictJson.Parse(File.ReadAllBytes(path), allowTrailingCommas: true, allowComments: true);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: not valid JSON ({e.Message}).", e);
        }
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
                throw new InvalidDataException($"{path}: expected a JSON object, found {doc.RootElement.ValueKind}.");
            return Parse(new Fields(path, doc.RootElement));
        }
    }

    /// <summary>Interprets an already parsed config object (<paramref name="source"/> names it in errors).</summary>
    public static TransformerConfig Parse(string source, JsonElement root) => Parse(new Fields(source, root));

    private static TransformerConfig Parse(Fields f)
    {
        string modelType = f.String("model_type") ?? throw f.Error("model_type", "missing: cannot tell which architecture this is");
        foreach (var field in MixtureOfExpertsFields)
        {
            if (f.Has(field) && f.Raw(field) is { } v && !(v.ValueKind == JsonValueKind.Number && v.GetDouble() == 0))
                throw f.Error(field, $"mixture-of-experts models are not supported ({field} = {v.GetRawText()})");
        }
        var config = modelType switch
        {
            "gpt2" => Gpt2(f),
            "gpt_neox" => GptNeoX(f),
            "gemma2" => Gemma2(f),
            "llama" => LlamaLike(f, ModelFamily.Llama),
            "qwen2" => LlamaLike(f, ModelFamily.Qwen2),
            _ => throw f.Error("model_type",
                $"unsupported model_type '{modelType}' (supported: {string.Join(", ", SupportedModelTypes)})"),
        };
        config = config with
        {
            ModelType = modelType,
            BosTokenId = f.OptionalInt("bos_token_id"),
            EosTokenId = f.FirstInt("eos_token_id"),
            PadTokenId = f.FirstInt("pad_token_id"),
            DeclaredDType = f.String("dtype") ?? f.String("torch_dtype"),
        };
        try
        {
            config.Validate();
        }
        catch (ArgumentException e)
        {
            throw new InvalidDataException($"{f.Source}: {e.Message}", e);
        }
        return config;
    }

    private static TransformerConfig Gpt2(Fields f)
    {
        int d = f.Int("n_embd");
        int layers = f.Int("n_layer");
        int heads = f.Int("n_head");
        if (d % heads != 0) throw f.Error("n_head", $"{heads} heads do not divide n_embd = {d}");
        bool scale = f.Bool("scale_attn_weights") ?? true;
        bool byLayer = f.Bool("scale_attn_by_inverse_layer_idx") ?? false;
        int headDim = d / heads;
        var scales = Enumerable.Range(0, layers)
            .Select(l => (float)((scale ? 1.0 / Math.Sqrt(headDim) : 1.0) / (byLayer ? l + 1 : 1)))
            .ToArray();
        if (f.Bool("add_cross_attention") == true) throw f.Error("add_cross_attention", "encoder-decoder GPT-2 is not supported");
        return new TransformerConfig
        {
            Family = ModelFamily.Gpt2,
            ModelType = "gpt2",
            DModel = d,
            Layers = layers,
            Heads = heads,
            KvHeads = heads,
            HeadDim = headDim,
            DMlp = f.OptionalInt("n_inner") ?? 4 * d,
            Vocab = f.Int("vocab_size"),
            MaxPositions = f.Int("n_positions"),
            Norm = NormKind.LayerNorm,
            NormEps = (float)(f.Double("layer_norm_epsilon") ?? 1e-5),
            Activation = Activation(f, "activation_function", "gelu_new"),
            GatedMlp = false,
            QkvBias = true,
            OutBias = true,
            MlpBias = true,
            AttentionScale = scales,
            SlidingWindow = new int[layers],
            TiedEmbeddings = f.Bool("tie_word_embeddings") ?? true,
        };
    }

    private static TransformerConfig GptNeoX(Fields f)
    {
        int d = f.Int("hidden_size");
        int layers = f.Int("num_hidden_layers");
        int heads = f.Int("num_attention_heads");
        if (d % heads != 0) throw f.Error("num_attention_heads", $"{heads} heads do not divide hidden_size = {d}");
        int headDim = d / heads;
        double pct = f.RopeDouble("partial_rotary_factor") ?? f.Double("partial_rotary_factor") ?? f.Double("rotary_pct") ?? 0.25;
        double theta = f.RopeDouble("rope_theta") ?? f.Double("rope_theta") ?? f.Double("rotary_emb_base") ?? 10000;
        int rotaryDim = (int)(headDim * pct);
        if (rotaryDim <= 0 || rotaryDim % 2 != 0)
            throw f.Error("rotary_pct", $"rotary dimension int({headDim} × {pct.ToString(CultureInfo.InvariantCulture)}) = {rotaryDim} must be positive and even");
        bool bias = f.Bool("attention_bias") ?? true;
        return new TransformerConfig
        {
            Family = ModelFamily.GptNeoX,
            ModelType = "gpt_neox",
            DModel = d,
            Layers = layers,
            Heads = heads,
            KvHeads = heads,
            HeadDim = headDim,
            DMlp = f.Int("intermediate_size"),
            Vocab = f.Int("vocab_size"),
            MaxPositions = f.OptionalInt("max_position_embeddings") ?? 2048,
            Norm = NormKind.LayerNorm,
            NormEps = (float)(f.Double("layer_norm_eps") ?? 1e-5),
            Activation = Activation(f, "hidden_act", "gelu"),
            GatedMlp = false,
            Rotary = new RotarySettings(rotaryDim, theta, Scaling(f)),
            ParallelResidual = f.Bool("use_parallel_residual") ?? true,
            QkvBias = bias,
            OutBias = bias,
            MlpBias = true,
            AttentionScale = Enumerable.Repeat((float)(1.0 / Math.Sqrt(headDim)), layers).ToArray(),
            SlidingWindow = new int[layers],
            TiedEmbeddings = f.Bool("tie_word_embeddings") ?? false,
        };
    }

    private static TransformerConfig Gemma2(Fields f)
    {
        int d = f.Int("hidden_size");
        int layers = f.Int("num_hidden_layers");
        int heads = f.Int("num_attention_heads");
        int headDim = f.OptionalInt("head_dim") ?? 256;
        double queryScalar = f.Double("query_pre_attn_scalar") ?? 256;
        int? window = f.OptionalInt("sliding_window") ?? (f.Has("sliding_window") ? null : 4096);
        var layerTypes = LayerTypes(f, layers, i => i % 2 == 0);
        bool bias = f.Bool("attention_bias") ?? false;
        if (f.Bool("use_bidirectional_attention") == true) throw f.Error("use_bidirectional_attention", "bidirectional attention is not supported");
        return new TransformerConfig
        {
            Family = ModelFamily.Gemma2,
            ModelType = "gemma2",
            DModel = d,
            Layers = layers,
            Heads = heads,
            KvHeads = f.OptionalInt("num_key_value_heads") ?? heads,
            HeadDim = headDim,
            DMlp = f.Int("intermediate_size"),
            Vocab = f.Int("vocab_size"),
            MaxPositions = f.OptionalInt("max_position_embeddings") ?? 8192,
            Norm = NormKind.RmsNorm,
            NormEps = (float)(f.Double("rms_norm_eps") ?? 1e-6),
            Activation = f.String("hidden_activation") is not null
                ? Activation(f, "hidden_activation", "gelu_pytorch_tanh")
                : Activation(f, "hidden_act", "gelu_pytorch_tanh"),
            GatedMlp = true,
            Rotary = new RotarySettings(headDim, Theta(f), Scaling(f)),
            QkvBias = bias,
            OutBias = bias,
            MlpBias = false,
            AttentionScale = Enumerable.Repeat((float)(1.0 / Math.Sqrt(queryScalar)), layers).ToArray(),
            AttentionSoftCap = (float)(f.Double("attn_logit_softcapping") ?? (f.Has("attn_logit_softcapping") ? 0 : 50)),
            FinalSoftCap = (float)(f.Double("final_logit_softcapping") ?? (f.Has("final_logit_softcapping") ? 0 : 30)),
            SlidingWindow = layerTypes.Select(sliding => sliding && window is > 0 ? window.Value : 0).ToArray(),
            PostNorms = true,
            EmbeddingScale = MathF.Sqrt(d),
            TiedEmbeddings = f.Bool("tie_word_embeddings") ?? true,
        };
    }

    private static TransformerConfig LlamaLike(Fields f, ModelFamily family)
    {
        int d = f.Int("hidden_size");
        int layers = f.Int("num_hidden_layers");
        int heads = f.Int("num_attention_heads");
        int headDim = f.OptionalInt("head_dim") ?? (d % heads == 0 ? d / heads : throw f.Error("num_attention_heads", $"{heads} heads do not divide hidden_size = {d} and head_dim is not given"));
        double partial = f.RopeDouble("partial_rotary_factor") ?? f.Double("partial_rotary_factor") ?? 1.0;
        int rotaryDim = (int)(headDim * partial);
        bool qkvBias, outBias, mlpBias;
        int[] windows;
        if (family == ModelFamily.Qwen2)
        {
            qkvBias = true;
            outBias = false;
            mlpBias = false;
            bool useSliding = f.Bool("use_sliding_window") ?? false;
            int? window = useSliding ? f.OptionalInt("sliding_window") ?? 4096 : null;
            int maxWindowLayers = f.OptionalInt("max_window_layers") ?? 28;
            var types = LayerTypes(f, layers, i => window is not null && i >= maxWindowLayers);
            windows = types.Select(sliding => sliding && window is > 0 ? window.Value : 0).ToArray();
        }
        else
        {
            qkvBias = outBias = f.Bool("attention_bias") ?? false;
            mlpBias = f.Bool("mlp_bias") ?? false;
            windows = new int[layers];
        }
        return new TransformerConfig
        {
            Family = family,
            ModelType = family == ModelFamily.Qwen2 ? "qwen2" : "llama",
            DModel = d,
            Layers = layers,
            Heads = heads,
            KvHeads = f.OptionalInt("num_key_value_heads") ?? heads,
            HeadDim = headDim,
            DMlp = f.Int("intermediate_size"),
            Vocab = f.Int("vocab_size"),
            MaxPositions = f.OptionalInt("max_position_embeddings") ?? 2048,
            Norm = NormKind.RmsNorm,
            NormEps = (float)(f.Double("rms_norm_eps") ?? 1e-6),
            Activation = Activation(f, "hidden_act", "silu"),
            GatedMlp = true,
            Rotary = new RotarySettings(rotaryDim, Theta(f), Scaling(f)),
            QkvBias = qkvBias,
            OutBias = outBias,
            MlpBias = mlpBias,
            AttentionScale = Enumerable.Repeat((float)(1.0 / Math.Sqrt(headDim)), layers).ToArray(),
            SlidingWindow = windows,
            TiedEmbeddings = f.Bool("tie_word_embeddings") ?? false,
        };
    }

    private static double Theta(Fields f) => f.RopeDouble("rope_theta") ?? f.Double("rope_theta") ?? 10000;

    /// <summary><c>layer_types</c> when given (v5 / Gemma-2 spelling), else the family default.</summary>
    private static bool[] LayerTypes(Fields f, int layers, Func<int, bool> defaultSliding)
    {
        if (f.Raw("layer_types") is not { ValueKind: JsonValueKind.Array } array)
            return Enumerable.Range(0, layers).Select(defaultSliding).ToArray();
        if (array.GetArrayLength() != layers)
            throw f.Error("layer_types", $"has {array.GetArrayLength()} entries for {layers} layers");
        var result = new bool[layers];
        int i = 0;
        foreach (var e in array.EnumerateArray())
        {
            result[i] = e.ValueKind == JsonValueKind.String ? e.GetString() switch
            {
                "sliding_attention" => true,
                "full_attention" => false,
                var other => throw f.Error($"layer_types[{i}]", $"unknown layer type '{other}' (known: sliding_attention, full_attention)"),
            } : throw f.Error($"layer_types[{i}]", $"expected a string, found {e.ValueKind}");
            i++;
        }
        return result;
    }

    private static RopeScaling Scaling(Fields f)
    {
        // v5: rope_parameters carries rope_type and the scaling fields; 4.x: rope_scaling (type or rope_type).
        string field = f.Raw("rope_parameters") is { ValueKind: JsonValueKind.Object } ? "rope_parameters" : "rope_scaling";
        if (f.Raw(field) is not { ValueKind: JsonValueKind.Object } o) return RopeScaling.None;
        var p = new Fields($"{f.Source}: {field}", o);
        string type = p.String("rope_type") ?? p.String("type") ?? "default";
        return type switch
        {
            "default" => RopeScaling.None,
            "linear" => new RopeScaling("linear", p.Double("factor") ?? throw f.Error($"{field}.factor", "required for linear rope scaling")),
            "llama3" => new RopeScaling("llama3",
                p.Double("factor") ?? throw f.Error($"{field}.factor", "required for llama3 rope scaling"),
                p.Double("low_freq_factor") ?? 1,
                p.Double("high_freq_factor") ?? 4,
                p.OptionalInt("original_max_position_embeddings") ?? 8192),
            _ => throw f.Error($"{field}.rope_type", $"unsupported rope type '{type}' (supported: default, linear, llama3)"),
        };
    }

    private static PointwiseKind Activation(Fields f, string field, string fallback)
    {
        string name = f.String(field) ?? fallback;
        return name switch
        {
            "gelu" => PointwiseKind.GeluExact,
            "gelu_new" or "gelu_pytorch_tanh" or "gelu_fast" => PointwiseKind.GeluTanh,
            "silu" or "swish" => PointwiseKind.Silu,
            "relu" => PointwiseKind.Relu,
            "quick_gelu" => PointwiseKind.QuickGelu,
            _ => throw f.Error(field, $"unsupported activation '{name}' (supported: gelu, gelu_new, gelu_pytorch_tanh, gelu_fast, silu, swish, relu, quick_gelu)"),
        };
    }

    /// <summary>Typed access to a JSON object's fields with errors that name the file and the field.</summary>
    private sealed class Fields(string source, JsonElement root)
    {
        public string Source { get; } = source;

        public bool Has(string name) => root.TryGetProperty(name, out _);

        /// <summary>The field's value, or null when it is absent or JSON null.</summary>
        public JsonElement? Raw(string name) =>
            root.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null ? v : null;

        public InvalidDataException Error(string field, string problem) => new($"{Source}: field '{field}': {problem}.");

        public int Int(string name) => OptionalInt(name) ?? throw Error(name, "required but missing");

        public int? OptionalInt(string name)
        {
            if (Raw(name) is not { } v) return null;
            if (v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out int i)) return i;
            if (v.ValueKind == JsonValueKind.Number && v.TryGetDouble(out double d) && d == Math.Floor(d) && Math.Abs(d) < int.MaxValue) return (int)d;
            throw Error(name, $"expected an integer, found {v.GetRawText()}");
        }

        /// <summary>An integer, or the first of a list of integers (<c>eos_token_id</c> may be a list).</summary>
        public int? FirstInt(string name)
        {
            if (Raw(name) is { ValueKind: JsonValueKind.Array } a)
            {
                foreach (var e in a.EnumerateArray())
                    return e.ValueKind == JsonValueKind.Number && e.TryGetInt32(out int i) ? i : throw Error(name, $"expected integers, found {e.GetRawText()}");
                return null;
            }
            return OptionalInt(name);
        }

        public double? Double(string name)
        {
            if (Raw(name) is not { } v) return null;
            return v.ValueKind == JsonValueKind.Number ? v.GetDouble() : throw Error(name, $"expected a number, found {v.GetRawText()}");
        }

        /// <summary>A number inside <c>rope_parameters</c> (the v5 spelling), if present.</summary>
        public double? RopeDouble(string name)
        {
            if (Raw("rope_parameters") is not { ValueKind: JsonValueKind.Object } o) return null;
            if (!o.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null) return null;
            return v.ValueKind == JsonValueKind.Number ? v.GetDouble() : throw Error($"rope_parameters.{name}", $"expected a number, found {v.GetRawText()}");
        }

        public bool? Bool(string name)
        {
            if (Raw(name) is not { } v) return null;
            return v.ValueKind switch
            {
                JsonValueKind.True => true,
                JsonValueKind.False => false,
                _ => throw Error(name, $"expected true or false, found {v.GetRawText()}"),
            };
        }

        public string? String(string name)
        {
            if (Raw(name) is not { } v) return null;
            return v.ValueKind == JsonValueKind.String ? v.GetString() : throw Error(name, $"expected a string, found {v.GetRawText()}");
        }
    }
}
