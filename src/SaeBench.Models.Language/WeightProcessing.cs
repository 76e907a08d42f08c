using System.Numerics.Tensors;
using SaeBench.Compute.Tensors;

namespace SaeBench.Models.Language;

/// <summary>
/// TransformerLens's weight processing (<c>HookedTransformer.from_pretrained</c>'s <c>fold_ln</c>,
/// <c>center_writing_weights</c>, <c>center_unembed</c>, <c>fold_value_biases</c>). Each flag leaves the loss unchanged
/// but changes some hooks (see the README); SAEs trained on a processed TransformerLens model expect processed
/// activations. <see cref="None"/> is Hugging Face semantics; <see cref="TlDefault"/> is what <c>from_pretrained</c> does.
/// </summary>
public sealed record WeightProcessing(bool FoldLn, bool CenterWritingWeights, bool CenterUnembed, bool FoldValueBiases)
{
    /// <summary>No processing: the Hugging Face model as stored.</summary>
    public static WeightProcessing None { get; } = new(false, false, false, false);

    /// <summary>All four, as <c>HookedTransformer.from_pretrained</c> defaults (narrowed per model by <see cref="EffectiveFor"/>).</summary>
    public static WeightProcessing TlDefault { get; } = new(true, true, true, true);

    /// <summary>Names accepted by <see cref="Parse"/>.</summary>
    public static IReadOnlyList<string> PresetNames { get; } = ["none", "tl-default"];

    /// <summary>
    /// <c>none</c>, <c>tl-default</c>, or a list of flags separated by commas or <c>+</c>
    /// (<c>fold_ln,center_writing_weights,center_unembed,fold_value_biases</c>).
    /// </summary>
    public static WeightProcessing Parse(string text)
    {
        string t = text.Trim().ToLowerInvariant();
        if (t is "none" or "") return None;
        if (t is "tl-default" or "tl_default" or "default") return TlDefault;
        bool fold = false, centerWriting = false, centerUnembed = false, foldValue = false;
        foreach (var part in t.Split([',', '+'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            switch (part.Replace('-', '_'))
            {
                case "fold_ln": fold = true; break;
                case "center_writing_weights": centerWriting = true; break;
                case "center_unembed": centerUnembed = true; break;
                case "fold_value_biases": foldValue = true; break;
                default:
                    throw new ArgumentException(
                        $"Unknown weight processing '{part}' (use none, tl-default, or flags fold_ln, center_writing_weights, center_unembed, fold_value_biases).");
            }
        }
        return new WeightProcessing(fold, centerWriting, centerUnembed, foldValue);
    }

    /// <summary>
    /// The flags TransformerLens actually applies to <paramref name="config"/>: <c>center_writing_weights</c> only for
    /// LayerNorm models (TransformerLens warns and skips it for RMSNorm), <c>center_unembed</c> not when the final
    /// logits are soft-capped (soft-capping is not shift-invariant; TransformerLens turns it off).
    /// </summary>
    public WeightProcessing EffectiveFor(TransformerConfig config) => this with
    {
        CenterWritingWeights = CenterWritingWeights && config.Norm == NormKind.LayerNorm,
        CenterUnembed = CenterUnembed && config.FinalSoftCap <= 0f,
    };

    public override string ToString()
    {
        if (this == None) return "none";
        var flags = new List<string>();
        if (FoldLn) flags.Add("fold_ln");
        if (CenterWritingWeights) flags.Add("center_writing_weights");
        if (CenterUnembed) flags.Add("center_unembed");
        if (FoldValueBiases) flags.Add("fold_value_biases");
        return string.Join(",", flags);
    }
}

/// <summary>Applies <see cref="WeightProcessing"/> to weights in the runner's layout, in TransformerLens's order.</summary>
internal static class WeightProcessor
{
    public static void Apply(TransformerConfig c, TransformerWeights w, WeightProcessing p)
    {
        if (p == WeightProcessing.None) return;
        // TransformerLens keeps W_U as its own parameter: separate it from a tied embedding before either changes.
        if (ReferenceEquals(w.Unembed, w.Embed) && (p.FoldLn || p.CenterWritingWeights || p.CenterUnembed)) w.Unembed = w.Embed.Clone();
        if (p.FoldLn) FoldLayerNorms(c, w);
        if (p.CenterWritingWeights) CenterWritingWeights(w);
        if (p.CenterUnembed) CenterUnembed(c, w);
        if (p.FoldValueBiases) FoldValueBiases(c, w);
    }

    /// <summary>
    /// Folds each norm's scale (and LayerNorm's bias) into the matrices that read its output. For LayerNorm models the
    /// bias goes first (b += ln.b·W), then W's rows are scaled by ln.w, then W is centred over its input dimension (the
    /// normalised input has zero mean, so this changes nothing but makes the weights canonical). RMSNorm: scale only.
    /// </summary>
    private static void FoldLayerNorms(TransformerConfig c, TransformerWeights w)
    {
        bool layerNorm = c.Norm == NormKind.LayerNorm;
        foreach (var l in w.Layers)
        {
            l.QkvBias = FoldInto(l.Norm1, l.Qkv, l.QkvBias, layerNorm);
            l.MlpInBias = FoldInto(l.Norm2, l.MlpIn, l.MlpInBias, layerNorm);
        }
        // Unembedding: U is [vocab, d] (TransformerLens's W_U transposed), so "rows of W_U" are columns of U.
        var f = w.FinalNorm;
        var u = w.Unembed;
        int d = u.Cols;
        if (layerNorm && f.Bias is { } fb)
        {
            var bias = w.UnembedBias ?? new HostMatrix(1, u.Rows);
            for (int v = 0; v < u.Rows; v++) bias.Span[v] += TensorPrimitives.Dot(u.Row(v), fb.Span);
            w.UnembedBias = bias;
        }
        for (int v = 0; v < u.Rows; v++)
        {
            var row = u.Row(v);
            if (f.Scale is { } fs) TensorPrimitives.Multiply(row, fs.Span, row);
            if (layerNorm) TensorPrimitives.Subtract(row, TensorPrimitives.Sum(row) / d, row);
        }
        f.Scale = null;
        f.Bias = null;
    }

    /// <summary>Folds <paramref name="norm"/> into <paramref name="matrix"/> <c>[d, out]</c> and its bias; returns the new bias.</summary>
    private static HostMatrix? FoldInto(NormWeights norm, HostMatrix matrix, HostMatrix? bias, bool layerNorm)
    {
        int d = matrix.Rows;
        if (layerNorm && norm.Bias is { } nb)
        {
            bias ??= new HostMatrix(1, matrix.Cols);
            for (int i = 0; i < d; i++) TensorPrimitives.MultiplyAdd(matrix.Row(i), nb.Span[i], bias.Span, bias.Span);
        }
        if (norm.Scale is { } ns)
            for (int i = 0; i < d; i++) TensorPrimitives.Multiply(matrix.Row(i), ns.Span[i], matrix.Row(i));
        if (layerNorm)
        {
            var mean = new float[matrix.Cols];
            for (int i = 0; i < d; i++) TensorPrimitives.Add(mean, matrix.Row(i), mean);
            TensorPrimitives.Multiply(mean, 1f / d, mean);
            for (int i = 0; i < d; i++) TensorPrimitives.Subtract(matrix.Row(i), mean, matrix.Row(i));
        }
        norm.Scale = null;
        norm.Bias = null;
        return bias;
    }

    /// <summary>Removes the mean over d_model from everything that writes to the residual stream (W_E, W_pos, W_O, b_O, W_out, b_out).</summary>
    private static void CenterWritingWeights(TransformerWeights w)
    {
        CenterRows(w.Embed);
        if (w.Positions is { } pos) CenterRows(pos);
        foreach (var l in w.Layers)
        {
            CenterRows(l.Out);
            if (l.OutBias is { } ob) CenterRows(ob);
            CenterRows(l.MlpOut);
            if (l.MlpOutBias is { } mb) CenterRows(mb);
        }
    }

    /// <summary>Removes the mean over the vocabulary from W_U (each d_model row of TransformerLens's W_U) and from b_U.</summary>
    private static void CenterUnembed(TransformerConfig c, TransformerWeights w)
    {
        var u = w.Unembed;
        var mean = new double[u.Cols];
        for (int v = 0; v < u.Rows; v++)
        {
            var row = u.Row(v);
            for (int i = 0; i < row.Length; i++) mean[i] += row[i];
        }
        var meanF = mean.Select(m => (float)(m / u.Rows)).ToArray();
        for (int v = 0; v < u.Rows; v++) TensorPrimitives.Subtract(u.Row(v), meanF, u.Row(v));
        if (w.UnembedBias is { } b) CenterRows(b);
    }

    /// <summary>
    /// Moves the value biases into the output bias: <c>b_O += Σ_h b_V[kv(h)]·W_O[h]</c>, then b_V = 0. Attention
    /// patterns sum to one, so attn_out is unchanged; <c>hook_z</c> loses b_V.
    /// </summary>
    private static void FoldValueBiases(TransformerConfig c, TransformerWeights w)
    {
        int dh = c.HeadDim, group = c.Heads / c.KvHeads;
        foreach (var l in w.Layers)
        {
            if (l.QkvBias is not { } qkvBias) continue;
            var bv = qkvBias.Span.Slice(c.QueryWidth + c.KvWidth, c.KvWidth);
            var outBias = l.OutBias ?? new HostMatrix(1, c.DModel);
            for (int h = 0; h < c.Heads; h++)
            {
                int kv = h / group;
                for (int e = 0; e < dh; e++)
                {
                    float b = bv[kv * dh + e];
                    if (b != 0f) TensorPrimitives.MultiplyAdd(l.Out.Row(h * dh + e), b, outBias.Span, outBias.Span);
                }
            }
            bv.Clear();
            l.OutBias = outBias;
        }
    }

    private static void CenterRows(HostMatrix m)
    {
        for (int r = 0; r < m.Rows; r++)
        {
            var row = m.Row(r);
            TensorPrimitives.Subtract(row, TensorPrimitives.Sum(row) / row.Length, row);
        }
    }
}
