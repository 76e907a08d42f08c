using System.Text.Json.Nodes;

namespace SaeBench.Core.Autoencoders;

/// <summary>What a checkpoint says about where the SAE belongs (model, hook) plus free-form metadata.</summary>
public sealed class SaeConfig
{
    /// <summary>The architecture name as the source wrote it (e.g. <c>p_anneal</c> or <c>standard</c>), when it differs from the canonical id.</summary>
    public string? ArchitectureName { get; set; }

    public string? ModelName { get; set; }
    public string? HookName { get; set; }
    public int? HookLayer { get; set; }
    public int? ContextSize { get; set; }

    /// <summary>Storage dtype of the weights as the source declared it (float32, bfloat16, …).</summary>
    public string Dtype { get; set; } = "float32";

    /// <summary>Everything else (training metadata, tool versions), kept as JSON values and written back under <c>metadata</c>.</summary>
    public Dictionary<string, JsonNode?> Metadata { get; } = new(StringComparer.Ordinal);

    public SaeConfig Clone()
    {
        var c = new SaeConfig
        {
            ArchitectureName = ArchitectureName,
            ModelName = ModelName,
            HookName = HookName,
            HookLayer = HookLayer,
            ContextSize = ContextSize,
            Dtype = Dtype,
        };
        foreach (var (k, v) in Metadata) c.Metadata[k] = v?.DeepClone();
        return c;
    }
}
