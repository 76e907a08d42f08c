using SaeBench.Core.Autoencoders;

namespace SaeBench.Core.Checkpoints.Formats;

/// <summary>
/// EleutherAI sparsify: <c>cfg.json</c> (<c>num_latents</c>, <c>k</c>, <c>d_in</c>, <c>activation</c>, …) + <c>sae.safetensors</c>
/// with <c>encoder.weight [F, d_in]</c> (nn.Linear orientation), <c>encoder.bias</c>, <c>W_dec [F, d_in]</c>, <c>b_dec</c>; often BF16.
/// </summary>
public sealed class SparsifyFormat : ICheckpointFormat
{
    public const string WeightsFile = "sae.safetensors";
    public const string ConfigFile = "cfg.json";

    public string Name => "sparsify";

    public CheckpointLayout? TryMatch(string path) => CheckpointFormats.MatchPair(Name, path, WeightsFile, ConfigFile);

    public CheckpointPlan Open(CheckpointLayout layout)
    {
        var cfg = JsonConfig.Load(layout.ConfigFile!);
        string activation = cfg.String("activation") ?? "topk";
        if (activation != "topk") throw cfg.Error("activation", $"'{activation}' is not supported (topk)");
        if (cfg.Bool("skip_connection") == true) throw cfg.Error("skip_connection", "SAEs with a skip connection (W_skip) are not supported");
        int k = cfg.Int("k") ?? throw cfg.Error("k", "required for a top-k SAE");
        int? dIn = cfg.Int("d_in");
        int? latents = cfg.Int("num_latents") is { } n && n > 0 ? n
            : dIn is { } d && cfg.Int("expansion_factor") is { } e ? d * e : null;
        var config = new SaeConfig();
        foreach (var (key, value) in cfg.Root) config.Metadata[key] = value?.DeepClone();
        var source = SafetensorsTensorSource.Open(layout.WeightFile);
        try
        {
            if (source.TryDescribe("W_skip", out _))
                throw new CheckpointFormatException(layout.WeightFile, "W_skip", "SAEs with a skip connection are not supported");
            source.TryDescribe("encoder.weight", out var enc);
            config.Dtype = enc?.DType ?? "float32";
            var plan = new CheckpointPlan
            {
                Layout = layout,
                Source = source,
                Architecture = SaeArchitectures.TopK,
                Config = config,
                DIn = dIn,
                DSae = latents,
                WidthSource = Path.GetFileName(layout.ConfigFile!),
                WEnc = new("encoder.weight", Transposed: true),
                BEnc = new("encoder.bias"),
                WDec = new("W_dec"),
                BDec = new("b_dec"),
                K = k,
                ApplyBDecToInput = true,
            };
            if (cfg.Bool("transcode") == true) plan.Warnings.Add("transcode = true: this is a transcoder; x̂ predicts a different hook than x");
            return plan;
        }
        catch
        {
            source.Dispose();
            throw;
        }
    }
}
