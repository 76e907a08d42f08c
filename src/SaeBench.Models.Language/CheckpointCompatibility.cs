using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using SaeBench.Core.Autoencoders;

namespace SaeBench.Models.Language;

/// <summary>
/// Whether an SAE's recorded hook, weight processing and model name fit a language model under study
/// (<see cref="LanguageModelUnderStudy.Problems"/>). Hook names are compared in TransformerLens's spelling
/// (dictionary_learning's <c>resid_post_layer_L</c>, <c>attn_out_layer_L</c>, <c>mlp_out_layer_L</c> are translated);
/// processing is compared on the flags that change hook values (<c>center_writing_weights</c> on LayerNorm models,
/// <c>fold_value_biases</c> at <c>hook_z</c>), with SAELens's rule: the SAE's <c>model_from_pretrained_kwargs</c> on top
/// of an unprocessed model (<c>from_pretrained_no_processing</c>), nothing when absent. Model names are compared only when
/// the model under study's own name is known (a Hub repo id or config.json's <c>_name_or_path</c>): TransformerLens and
/// Hugging Face spell them differently (<c>gpt2-small</c> = <c>gpt2</c>), so both are normalised first.
/// </summary>
public static partial class CheckpointCompatibility
{
    public static IReadOnlyList<string> Problems(SaeConfig sae, HookPoint hook, LanguageModel model, string? modelName)
    {
        var problems = new List<string>();
        if (sae.HookName is { } recorded && TransformerLensHook(recorded) is { } tl && tl != hook.Name)
            problems.Add($"hook_name is '{recorded}' but the model under study reads '{hook.Name}' (give hook={tl})");

        var expected = ProcessingOf(sae.Metadata.GetValueOrDefault("model_from_pretrained_kwargs")).EffectiveFor(model.Config);
        var actual = model.Processing;
        bool layerNorm = model.Config.Norm == NormKind.LayerNorm;
        if (layerNorm && expected.CenterWritingWeights != actual.CenterWritingWeights)
            problems.Add($"model_from_pretrained_kwargs asks for center_writing_weights = {expected.CenterWritingWeights.ToString().ToLowerInvariant()} " +
                         $"but the model under study has {actual.CenterWritingWeights.ToString().ToLowerInvariant()} (give processing={Spell(expected)})");
        else if (hook.Kind == HookKind.Z && expected.FoldValueBiases != actual.FoldValueBiases)
            problems.Add($"model_from_pretrained_kwargs asks for fold_value_biases = {expected.FoldValueBiases.ToString().ToLowerInvariant()} at hook_z " +
                         $"but the model under study has {actual.FoldValueBiases.ToString().ToLowerInvariant()} (give processing={Spell(expected)})");

        if (sae.ModelName is { } saeName && modelName is not null && Normalise(saeName) != Normalise(modelName))
            problems.Add($"model_name is '{saeName}' but the model under study is '{modelName}'");
        return problems;
    }

    /// <summary>A hook name in TransformerLens's spelling, or null when it cannot be translated.</summary>
    public static string? TransformerLensHook(string name)
    {
        if (name.StartsWith("blocks.", StringComparison.Ordinal)) return name;
        var m = DictionaryLearningHook().Match(name);
        if (!m.Success) return null;
        string kind = m.Groups[1].Value switch { "resid_post" => "hook_resid_post", "resid_pre" => "hook_resid_pre", "attn_out" => "hook_attn_out", _ => "hook_mlp_out" };
        return $"blocks.{m.Groups[2].Value}.{kind}";
    }

    /// <summary>The processing SAELens loads a model with for these <c>model_from_pretrained_kwargs</c>
    /// (<c>from_pretrained_no_processing</c>: every flag off unless the kwargs turn it on).</summary>
    public static WeightProcessing ProcessingOf(JsonNode? kwargs)
    {
        bool Flag(string name) => kwargs is JsonObject o && o[name] is JsonValue v && v.TryGetValue<bool>(out var b) && b;
        return new WeightProcessing(Flag("fold_ln"), Flag("center_writing_weights"), Flag("center_unembed"), Flag("fold_value_biases"));
    }

    /// <summary>Lower case, without an organisation prefix or a Hub cache folder's <c>models--org--</c>, with TransformerLens's
    /// <c>-small</c> alias of GPT-2 removed.</summary>
    public static string Normalise(string name)
    {
        var n = name.Trim().ToLowerInvariant();
        if (n.StartsWith("models--", StringComparison.Ordinal)) n = n["models--".Length..].Replace("--", "/");
        n = n[(n.LastIndexOf('/') + 1)..];
        return n == "gpt2-small" ? "gpt2" : n;
    }

    private static string Spell(WeightProcessing p)
    {
        var flags = new List<string>();
        if (p.FoldLn) flags.Add("fold_ln");
        if (p.CenterWritingWeights) flags.Add("center_writing_weights");
        if (p.CenterUnembed) flags.Add("center_unembed");
        if (p.FoldValueBiases) flags.Add("fold_value_biases");
        return flags.Count == 0 ? "none" : string.Join('+', flags);
    }

    [GeneratedRegex(@"^(resid_post|resid_pre|attn_out|mlp_out)_layer_(\d+)$")]
    private static partial Regex DictionaryLearningHook();
}
