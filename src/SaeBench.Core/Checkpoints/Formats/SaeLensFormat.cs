using System.Text.Json.Nodes;
using SaeBench.Core.Autoencoders;

namespace SaeBench.Core.Checkpoints.Formats;

/// <summary>
/// SAELens: <c>cfg.json</c> + <c>sae_weights.safetensors</c> (optional <c>sparsity.safetensors</c>). v6 configs name the
/// <c>architecture</c> and keep model details under <c>metadata</c>; v5 configs are flat and choose TopK through
/// <c>activation_fn_str</c>. This project's own checkpoints are written in the v6 layout.
/// </summary>
public sealed class SaeLensFormat : ICheckpointFormat
{
    public const string WeightsFile = "sae_weights.safetensors";
    public const string ConfigFile = "cfg.json";
    public const string SparsityFile = "sparsity.safetensors";

    public string Name => "saelens";

    public CheckpointLayout? TryMatch(string path) => CheckpointFormats.MatchPair(Name, path, WeightsFile, ConfigFile, SparsityFile);

    public CheckpointPlan Open(CheckpointLayout layout)
    {
        var cfg = JsonConfig.Load(layout.ConfigFile!);
        bool v5 = cfg.Has("activation_fn_str") || cfg.Has("hook_layer") || (!cfg.Has("metadata") && cfg.Has("hook_name"));
        string? declaredName = cfg.String("architecture");
        string declared = declaredName ?? "standard";
        string architecture = SaeArchitectures.TryCanonical(declared)
                              ?? throw cfg.Error("architecture", $"unknown architecture '{declared}' (known: {string.Join(", ", SaeArchitectures.All.Concat(SaeArchitectures.Aliases.Keys))})");
        int? k = cfg.Int("k");
        if (v5)
        {
            string activation = cfg.String("activation_fn_str") ?? "relu";
            if (activation == "topk")
            {
                // A v5 TopK SAE says so only in its activation; its "architecture" is "standard" (SAELens's default before
                // TopK had an architecture of its own), which names no part of it: it is a topk SAE, reported as topk.
                architecture = SaeArchitectures.TopK;
                if (declaredName is null or "standard") declared = architecture;
                k = cfg.Section("activation_fn_kwargs")?.Int("k") ?? throw cfg.Error("activation_fn_kwargs.k", "topk needs k");
            }
            else if (activation != "relu")
                throw cfg.Error("activation_fn_str", $"activation '{activation}' is not supported (relu, topk)");
        }
        if (cfg.Bool("rescale_acts_by_decoder_norm") == true)
            throw cfg.Error("rescale_acts_by_decoder_norm", "true is not supported; fold the decoder norms into the weights first");

        var config = new SaeConfig
        {
            // A mere spelling of the id (SAELens's "standard" for a ReLU SAE) is not kept: reports would split the series.
            ArchitectureName = SaeArchitectures.ReportName(declared) == architecture ? null : declared,
            Dtype = cfg.String("dtype") ?? "float32",
        };
        var meta = v5 ? cfg : cfg.Section("metadata");
        if (meta is not null)
        {
            config.ModelName = meta.String("model_name");
            config.HookName = meta.String("hook_name");
            config.HookLayer = meta.Int("hook_layer");
            config.ContextSize = meta.Int("context_size");
            foreach (var (key, value) in meta.Root)
            {
                if (key is "model_name" or "hook_name" or "hook_layer" or "context_size") continue;
                if (v5 && key is "architecture" or "d_in" or "d_sae" or "dtype" or "device" or "apply_b_dec_to_input"
                        or "normalize_activations" or "activation_fn_str" or "activation_fn_kwargs") continue;
                config.Metadata[key] = value?.DeepClone();
            }
        }

        var (scale, scaleWarning) = InputScale(cfg);
        var source = SafetensorsTensorSource.Open(layout.WeightFile);
        try
        {
            bool gated = architecture == SaeArchitectures.Gated;
            TensorBinding? threshold = source.TryDescribe("threshold", out var td) ? new TensorBinding("threshold") : null;
            float? scalarThreshold = null;
            if (threshold is not null && td.ElementCount == 1 && td.Shape.Count <= 1 && architecture != SaeArchitectures.JumpRelu)
            {
                scalarThreshold = CheckpointFormats.ReadScalar(source, "threshold");
                threshold = null;
            }
            var plan = new CheckpointPlan
            {
                Layout = layout,
                Source = source,
                Architecture = architecture,
                Config = config,
                FormatVersion = v5 ? "v5" : "v6",
                DIn = cfg.Int("d_in"),
                DSae = cfg.Int("d_sae"),
                WidthSource = Path.GetFileName(layout.ConfigFile!),
                WEnc = new("W_enc"),
                WDec = new("W_dec"),
                BEnc = gated ? null : new("b_enc"),
                BDec = new("b_dec"),
                Threshold = threshold,
                BGate = gated ? new("b_gate") : null,
                RMag = gated ? new("r_mag") : null,
                BMag = gated ? new("b_mag") : null,
                K = k,
                ScalarThreshold = scalarThreshold ?? (float?)cfg.Number("threshold"),
                ApplyBDecToInput = cfg.Bool("apply_b_dec_to_input") ?? true,
                InputScale = scale,
                GroupSizes = cfg.IntList("group_sizes") ?? GroupsFromWidths(cfg.IntList("matryoshka_widths")),
            };
            if (scaleWarning is not null) plan.Warnings.Add(scaleWarning);
            return plan;
        }
        catch
        {
            source.Dispose();
            throw;
        }
    }

    /// <summary>SAELens <c>matryoshka_widths</c> are cumulative prefix widths; group sizes are their differences.</summary>
    private static int[]? GroupsFromWidths(int[]? widths) =>
        widths?.Select((w, i) => i == 0 ? w : w - widths[i - 1]).ToArray();

    private static (float Scale, string? Warning) InputScale(JsonConfig cfg)
    {
        string mode = cfg.String("normalize_activations") ?? "none";
        switch (mode)
        {
            case "none":
                return (1f, null);
            case "expected_average_only_in":
            {
                var s = cfg.Number("norm_scaling_factor") ?? cfg.Number("scaling_factor") ?? cfg.Number("activation_scale");
                if (s is null)
                    return (1f, "normalize_activations = expected_average_only_in but the scale is not recorded (norm_scaling_factor); inputs are used unscaled — if the scale was folded into the weights this is right");
                if (!(s > 0) || !double.IsFinite(s.Value)) throw cfg.Error("norm_scaling_factor", $"must be a positive number, found {s}");
                return ((float)s.Value, null);
            }
            default:
                throw cfg.Error("normalize_activations", $"'{mode}' is not supported (none, expected_average_only_in): it rescales each token at run time");
        }
    }
}
