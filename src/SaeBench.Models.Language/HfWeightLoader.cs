using System.Buffers;
using SaeBench.Compute.Tensors;
using SaeBench.Core.Safetensors;

namespace SaeBench.Models.Language;

/// <summary>
/// Reads a snapshot's tensors into <see cref="TransformerWeights"/>: maps each family's Hugging Face names and
/// layouts (GPT-2 Conv1D <c>[in, out]</c>, Linear <c>[out, in]</c>, NeoX's per-head fused Q|K|V rows) onto the runner's
/// layout, converts F16/BF16 to float32, checks every shape against the config, skips non-parameter buffers and
/// refuses tensors it does not know. Errors are <see cref="InvalidDataException"/>s naming the file and the tensor.
/// </summary>
public static class HfWeightLoader
{
    /// <summary>Name endings of buffers that checkpoints carry but that are not parameters (causal masks, rotary caches).</summary>
    private static readonly string[] BufferSuffixes = [".attn.bias", ".attn.masked_bias", ".attention.bias", ".attention.masked_bias", "rotary_emb.inv_freq"];

    public static TransformerWeights Load(HfSnapshot snapshot)
    {
        var reader = new Reader(snapshot);
        var c = snapshot.Config;
        var weights = c.Family switch
        {
            ModelFamily.Gpt2 => Gpt2(reader, c),
            ModelFamily.GptNeoX => NeoX(reader, c),
            _ => LlamaLike(reader, c),
        };
        reader.CheckAllUsed(c);
        return weights;
    }

    private static TransformerWeights Gpt2(Reader r, TransformerConfig c)
    {
        string p = snapshotPrefix(r);
        int d = c.DModel;
        var layers = new LayerWeights[c.Layers];
        for (int l = 0; l < c.Layers; l++)
        {
            string h = $"{p}h.{l}.";
            layers[l] = new LayerWeights
            {
                Norm1 = new NormWeights { Scale = r.Vector(h + "ln_1.weight", d), Bias = r.Vector(h + "ln_1.bias", d) },
                Qkv = r.Matrix(h + "attn.c_attn.weight", d, 3 * d),
                QkvBias = r.Vector(h + "attn.c_attn.bias", 3 * d),
                Out = r.Matrix(h + "attn.c_proj.weight", d, d),
                OutBias = r.Vector(h + "attn.c_proj.bias", d),
                Norm2 = new NormWeights { Scale = r.Vector(h + "ln_2.weight", d), Bias = r.Vector(h + "ln_2.bias", d) },
                MlpIn = r.Matrix(h + "mlp.c_fc.weight", d, c.DMlp),
                MlpInBias = r.Vector(h + "mlp.c_fc.bias", c.DMlp),
                MlpOut = r.Matrix(h + "mlp.c_proj.weight", c.DMlp, d),
                MlpOutBias = r.Vector(h + "mlp.c_proj.bias", d),
            };
        }
        var embed = r.Matrix(p + "wte.weight", c.Vocab, d);
        return new TransformerWeights
        {
            Embed = embed,
            Positions = r.Matrix(p + "wpe.weight", c.MaxPositions, d),
            Layers = layers,
            FinalNorm = new NormWeights { Scale = r.Vector(p + "ln_f.weight", d), Bias = r.Vector(p + "ln_f.bias", d) },
            Unembed = c.TiedEmbeddings ? embed : r.Matrix("lm_head.weight", c.Vocab, d),
        };

        // The original GPT-2 checkpoints name tensors without the "transformer." prefix; Hugging Face accepts both.
        static string snapshotPrefix(Reader r) => r.Has("transformer.wte.weight") || !r.Has("wte.weight") ? "transformer." : "";
    }

    private static TransformerWeights NeoX(Reader r, TransformerConfig c)
    {
        int d = c.DModel, heads = c.Heads, dh = c.HeadDim;
        var layers = new LayerWeights[c.Layers];
        for (int l = 0; l < c.Layers; l++)
        {
            string h = $"gpt_neox.layers.{l}.";
            // query_key_value rows are laid out per head: [head][q, k, v][d_head]. Re-order into [Q heads | K heads | V heads].
            var qkv = new HostMatrix(d, 3 * d);
            var fusedBias = c.QkvBias ? new HostMatrix(1, 3 * d) : null;
            using (var raw = r.Rented(h + "attention.query_key_value.weight", 3 * d, d))
            {
                for (int head = 0; head < heads; head++)
                for (int j = 0; j < 3; j++)
                    TransposeInto(raw, head * 3 * dh + j * dh, dh, qkv, j * d + head * dh);
            }
            if (fusedBias is not null)
            {
                using var rawBias = r.Rented(h + "attention.query_key_value.bias", 1, 3 * d);
                for (int head = 0; head < heads; head++)
                for (int j = 0; j < 3; j++)
                    rawBias.Span.Slice(head * 3 * dh + j * dh, dh).CopyTo(fusedBias.Span.Slice(j * d + head * dh, dh));
            }
            layers[l] = new LayerWeights
            {
                Norm1 = new NormWeights { Scale = r.Vector(h + "input_layernorm.weight", d), Bias = r.Vector(h + "input_layernorm.bias", d) },
                Qkv = qkv,
                QkvBias = fusedBias,
                Out = r.LinearTransposed(h + "attention.dense.weight", d, d),
                OutBias = c.OutBias ? r.Vector(h + "attention.dense.bias", d) : null,
                Norm2 = new NormWeights { Scale = r.Vector(h + "post_attention_layernorm.weight", d), Bias = r.Vector(h + "post_attention_layernorm.bias", d) },
                MlpIn = r.LinearTransposed(h + "mlp.dense_h_to_4h.weight", c.DMlp, d),
                MlpInBias = r.Vector(h + "mlp.dense_h_to_4h.bias", c.DMlp),
                MlpOut = r.LinearTransposed(h + "mlp.dense_4h_to_h.weight", d, c.DMlp),
                MlpOutBias = r.Vector(h + "mlp.dense_4h_to_h.bias", d),
            };
        }
        var embed = r.Matrix("gpt_neox.embed_in.weight", c.Vocab, d);
        return new TransformerWeights
        {
            Embed = embed,
            Layers = layers,
            FinalNorm = new NormWeights { Scale = r.Vector("gpt_neox.final_layer_norm.weight", d), Bias = r.Vector("gpt_neox.final_layer_norm.bias", d) },
            Unembed = c.TiedEmbeddings ? embed : r.Matrix("embed_out.weight", c.Vocab, d),
        };
    }

    private static TransformerWeights LlamaLike(Reader r, TransformerConfig c)
    {
        int d = c.DModel, q = c.QueryWidth, kv = c.KvWidth, m = c.DMlp;
        bool gemma = c.Family == ModelFamily.Gemma2;
        // Gemma's RMSNorm multiplies by (1 + w); store the effective scale so every family's norm is x̂·scale.
        NormWeights Rms(string name) => new() { Scale = gemma ? r.Vector(name, d, offset: 1f) : r.Vector(name, d) };
        var layers = new LayerWeights[c.Layers];
        for (int l = 0; l < c.Layers; l++)
        {
            string h = $"model.layers.{l}.";
            var qkv = new HostMatrix(d, c.FusedQkvWidth);
            r.TransposedInto(h + "self_attn.q_proj.weight", q, d, qkv, 0);
            r.TransposedInto(h + "self_attn.k_proj.weight", kv, d, qkv, q);
            r.TransposedInto(h + "self_attn.v_proj.weight", kv, d, qkv, q + kv);
            HostMatrix? qkvBias = null;
            if (c.QkvBias)
            {
                qkvBias = new HostMatrix(1, c.FusedQkvWidth);
                r.VectorInto(h + "self_attn.q_proj.bias", q, qkvBias.Span[..q]);
                r.VectorInto(h + "self_attn.k_proj.bias", kv, qkvBias.Span.Slice(q, kv));
                r.VectorInto(h + "self_attn.v_proj.bias", kv, qkvBias.Span.Slice(q + kv, kv));
            }
            var mlpIn = new HostMatrix(d, 2 * m);
            r.TransposedInto(h + "mlp.gate_proj.weight", m, d, mlpIn, 0);
            r.TransposedInto(h + "mlp.up_proj.weight", m, d, mlpIn, m);
            HostMatrix? mlpInBias = null;
            if (c.MlpBias)
            {
                mlpInBias = new HostMatrix(1, 2 * m);
                r.VectorInto(h + "mlp.gate_proj.bias", m, mlpInBias.Span[..m]);
                r.VectorInto(h + "mlp.up_proj.bias", m, mlpInBias.Span.Slice(m, m));
            }
            layers[l] = new LayerWeights
            {
                Norm1 = Rms(h + "input_layernorm.weight"),
                Qkv = qkv,
                QkvBias = qkvBias,
                Out = r.LinearTransposed(h + "self_attn.o_proj.weight", d, q),
                OutBias = c.OutBias ? r.Vector(h + "self_attn.o_proj.bias", d) : null,
                // Llama and Qwen2 call the pre-MLP norm post_attention_layernorm; Gemma-2 uses that name for the norm
                // applied to the attention output and calls the pre-MLP one pre_feedforward_layernorm.
                PostAttentionNorm = gemma ? Rms(h + "post_attention_layernorm.weight") : null,
                Norm2 = gemma ? Rms(h + "pre_feedforward_layernorm.weight") : Rms(h + "post_attention_layernorm.weight"),
                PostMlpNorm = gemma ? Rms(h + "post_feedforward_layernorm.weight") : null,
                MlpIn = mlpIn,
                MlpInBias = mlpInBias,
                MlpOut = r.LinearTransposed(h + "mlp.down_proj.weight", d, m),
                MlpOutBias = c.MlpBias ? r.Vector(h + "mlp.down_proj.bias", d) : null,
            };
        }
        var embed = r.Matrix("model.embed_tokens.weight", c.Vocab, d);
        return new TransformerWeights
        {
            Embed = embed,
            Layers = layers,
            FinalNorm = Rms("model.norm.weight"),
            Unembed = c.TiedEmbeddings ? embed : r.Matrix("lm_head.weight", c.Vocab, d),
        };
    }

    /// <summary><c>dst[i, dstCol + o] = src[srcRow + o, i]</c> for o &lt; count, i &lt; src.Cols (blocked transpose).</summary>
    private static void TransposeInto(HostMatrix src, int srcRow, int count, HostMatrix dst, int dstCol)
    {
        const int block = 32;
        var s = src.Span;
        var t = dst.Span;
        int inner = src.Cols;
        for (int o0 = 0; o0 < count; o0 += block)
        for (int i0 = 0; i0 < inner; i0 += block)
        {
            int o1 = Math.Min(count, o0 + block), i1 = Math.Min(inner, i0 + block);
            for (int o = o0; o < o1; o++)
            {
                int srcBase = (srcRow + o) * inner;
                for (int i = i0; i < i1; i++) t[i * dst.Cols + dstCol + o] = s[srcBase + i];
            }
        }
    }

    /// <summary>Reads tensors with shape checks and remembers which were used.</summary>
    private sealed class Reader(HfSnapshot snapshot)
    {
        private readonly HashSet<string> _used = new(StringComparer.Ordinal);

        public bool Has(string name) => snapshot.Contains(name);

        public HostMatrix Vector(string name, int n, float offset = 0f)
        {
            var v = new HostMatrix(1, n);
            VectorInto(name, n, v.Span);
            if (offset != 0f) System.Numerics.Tensors.TensorPrimitives.Add(v.Span, offset, v.Span);
            return v;
        }

        public void VectorInto(string name, int n, Span<float> destination)
        {
            var (file, _) = Checked(name, [n]);
            file.ReadSingle(name, 0, destination[..n]);
        }

        /// <summary>The tensor as stored, <c>[rows, cols]</c>.</summary>
        public HostMatrix Matrix(string name, int rows, int cols)
        {
            var (file, _) = Checked(name, [rows, cols]);
            var m = new HostMatrix(rows, cols);
            file.ReadSingle(name, 0, m.Span);
            return m;
        }

        /// <summary>The tensor as stored in a pooled matrix (dispose it).</summary>
        public HostMatrix Rented(string name, int rows, int cols)
        {
            var (file, info) = Checked(name, rows == 1 ? [cols] : [rows, cols]);
            var m = HostMatrix.Rent(rows, cols, clear: false);
            file.ReadSingle(name, 0, m.Span);
            return m;
        }

        /// <summary>A Linear weight <c>[out, in]</c> transposed into the runner's <c>[in, out]</c>.</summary>
        public HostMatrix LinearTransposed(string name, int outFeatures, int inFeatures)
        {
            var m = new HostMatrix(inFeatures, outFeatures);
            TransposedInto(name, outFeatures, inFeatures, m, 0);
            return m;
        }

        /// <summary>A Linear weight <c>[out, in]</c> transposed into columns <c>[col, col + out)</c> of <paramref name="destination"/>.</summary>
        public void TransposedInto(string name, int outFeatures, int inFeatures, HostMatrix destination, int col)
        {
            using var raw = Rented(name, outFeatures, inFeatures);
            TransposeInto(raw, 0, outFeatures, destination, col);
        }

        private (SafetensorsFile File, SafetensorsTensorInfo Info) Checked(string name, long[] expected)
        {
            if (!snapshot.Contains(name))
                throw new InvalidDataException($"{snapshot.WeightsSource}: tensor '{name}' is missing (expected shape [{string.Join(", ", expected)}] from {snapshot.ConfigPath}).");
            var (file, info) = snapshot.Tensor(name);
            if (!info.DType.IsFloat())
                throw new InvalidDataException($"{file.Path}: tensor '{name}': dtype {info.DType} is not a floating-point type (quantised checkpoints are not supported).");
            if (!info.Shape.SequenceEqual(expected))
                throw new InvalidDataException(
                    $"{file.Path}: tensor '{name}': shape {info.ShapeText} does not match the config ({snapshot.ConfigPath}), which needs [{string.Join(", ", expected)}].");
            _used.Add(name);
            return (file, info);
        }

        /// <summary>Every tensor must have been read, be a known buffer, or be a tied <c>lm_head.weight</c>.</summary>
        public void CheckAllUsed(TransformerConfig c)
        {
            var unknown = snapshot.TensorNames
                .Where(n => !_used.Contains(n)
                            && !BufferSuffixes.Any(s => n.EndsWith(s, StringComparison.Ordinal))
                            && !(c.TiedEmbeddings && n is "lm_head.weight" or "embed_out.weight"))
                .OrderBy(n => n, StringComparer.Ordinal)
                .ToList();
            if (unknown.Count > 0)
                throw new InvalidDataException(
                    $"{snapshot.WeightsSource}: {unknown.Count} tensor(s) this {c.ModelType} model does not use: {string.Join(", ", unknown.Take(5))}{(unknown.Count > 5 ? ", …" : "")} (is config.json's model_type right?).");
        }
    }
}
