using SaeBench.Core.Autoencoders;

namespace SaeBench.Core.Checkpoints.Formats;

/// <summary>
/// A lone <c>*.safetensors</c> weights file with SAELens tensor names and no configuration: the architecture is
/// inferred from the tensors present (threshold → jumprelu, b_gate → gated, else relu) and said so in a warning.
/// </summary>
public sealed class BareSafetensorsFormat : ICheckpointFormat
{
    public string Name => "safetensors";

    public CheckpointLayout? TryMatch(string path) =>
        File.Exists(path) && path.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase)
            ? new CheckpointLayout(Name, path, Path.GetDirectoryName(Path.GetFullPath(path))!, path, null, [])
            : null;

    public CheckpointPlan Open(CheckpointLayout layout)
    {
        var source = SafetensorsTensorSource.Open(layout.WeightFile);
        try
        {
            bool gated = source.TryDescribe("b_gate", out _);
            bool jump = source.TryDescribe("threshold", out _);
            string architecture = gated ? SaeArchitectures.Gated : jump ? SaeArchitectures.JumpRelu : SaeArchitectures.Relu;
            source.TryDescribe("W_enc", out var enc);
            var plan = new CheckpointPlan
            {
                Layout = layout,
                Source = source,
                Architecture = architecture,
                Config = new SaeConfig { Dtype = enc?.DType ?? "float32" },
                WEnc = new("W_enc"),
                WDec = new("W_dec"),
                BEnc = gated ? null : new("b_enc"),
                BDec = new("b_dec"),
                Threshold = jump ? new("threshold") : null,
                BGate = gated ? new("b_gate") : null,
                RMag = gated ? new("r_mag") : null,
                BMag = gated ? new("b_mag") : null,
                ApplyBDecToInput = !jump,
            };
            plan.Warnings.Add($"no cfg.json next to the weights: architecture '{architecture}' inferred from the tensor names");
            return plan;
        }
        catch
        {
            source.Dispose();
            throw;
        }
    }
}
