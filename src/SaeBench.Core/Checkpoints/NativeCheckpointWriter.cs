using System.Text.Json;
using System.Text.Json.Nodes;
using SaeBench.Core.Checkpoints.Formats;
using SaeBench.Core.Safetensors;

namespace SaeBench.Core.Checkpoints;

/// <summary>
/// Writes an SAE in this project's native format, the SAELens v6 layout: <c>cfg.json</c> (architecture id, d_in, d_sae,
/// dtype, apply_b_dec_to_input, normalize_activations, k, metadata{…}) + <c>sae_weights.safetensors</c> (float32).
/// A scalar threshold is written as a 0-d <c>threshold</c> tensor, per-latent thresholds as <c>threshold [d_sae]</c>.
/// </summary>
public static class NativeCheckpointWriter
{
    public static void Write(string directory, Autoencoders.Sae sae)
    {
        Directory.CreateDirectory(directory);
        var p = sae.Parameters;
        var tensors = new List<SafetensorsTensor>
        {
            SafetensorsTensor.F32("W_enc", p.WEnc),
            SafetensorsTensor.F32("W_dec", p.WDec),
            SafetensorsTensor.F32("b_dec", p.BDec, p.BDec.Length),
        };
        if (sae.Architecture != Autoencoders.SaeArchitectures.Gated) tensors.Add(SafetensorsTensor.F32("b_enc", p.BEnc, p.BEnc.Length));
        if (p.Threshold is not null) tensors.Add(SafetensorsTensor.F32("threshold", p.Threshold, p.Threshold.Length));
        else if (p.ScalarThreshold is { } theta) tensors.Add(SafetensorsTensor.F32("threshold", [theta]));
        if (p.BGate is not null) tensors.Add(SafetensorsTensor.F32("b_gate", p.BGate, p.BGate.Length));
        if (p.RMag is not null) tensors.Add(SafetensorsTensor.F32("r_mag", p.RMag, p.RMag.Length));
        if (p.BMag is not null) tensors.Add(SafetensorsTensor.F32("b_mag", p.BMag, p.BMag.Length));

        var c = sae.Config;
        var metadata = new JsonObject
        {
            ["model_name"] = c.ModelName,
            ["hook_name"] = c.HookName,
            ["hook_layer"] = c.HookLayer,
            ["context_size"] = c.ContextSize,
        };
        foreach (var (key, value) in c.Metadata.OrderBy(kv => kv.Key, StringComparer.Ordinal))
            if (!metadata.ContainsKey(key)) metadata[key] = value?.DeepClone();
        var cfg = new JsonObject
        {
            ["architecture"] = c.ArchitectureName is { } name && Autoencoders.SaeArchitectures.TryCanonical(name) == sae.Architecture ? name : sae.Architecture,
            ["d_in"] = sae.DIn,
            ["d_sae"] = sae.DSae,
            ["dtype"] = "float32",
            ["device"] = "cpu",
            ["apply_b_dec_to_input"] = p.ApplyBDecToInput,
            ["normalize_activations"] = p.InputScale == 1f ? "none" : "expected_average_only_in",
            ["reshape_activations"] = "none",
        };
        if (p.InputScale != 1f) cfg["norm_scaling_factor"] = p.InputScale;
        if (p.K is { } k) cfg["k"] = k;
        if (p.GroupSizes is not null) cfg["group_sizes"] = new JsonArray(p.GroupSizes.Select(g => (JsonNode)g).ToArray());
        cfg["metadata"] = metadata;

        SafetensorsWriter.Write(Path.Combine(directory, SaeLensFormat.WeightsFile), tensors,
            new Dictionary<string, string> { ["format"] = "pt" });
        Results.AtomicFile.WriteAllText(Path.Combine(directory, SaeLensFormat.ConfigFile),
            cfg.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
    }
}
