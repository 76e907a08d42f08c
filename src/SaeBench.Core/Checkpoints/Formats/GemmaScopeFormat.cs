using System.Text.RegularExpressions;
using SaeBench.Core.Autoencoders;
using SaeBench.Core.Checkpoints.Numpy;

namespace SaeBench.Core.Checkpoints.Formats;

/// <summary>
/// Gemma Scope (Google DeepMind's JumpReLU SAEs on Gemma 2): a folder with <c>params.npz</c> holding <c>W_enc [d_in, d_sae]</c>,
/// <c>W_dec [d_sae, d_in]</c>, <c>b_enc</c>, <c>b_dec</c> and <c>threshold</c>, and no configuration file. As SAELens's
/// <c>gemma_2</c> loader does, the configuration comes from where the folder is: the repo
/// (<c>gemma-scope-{2b,9b,27b}-{pt,it}-{res,mlp,att}</c>, as a Hub cache folder <c>models--google--gemma-scope-…</c> or a plain
/// folder) gives the model and the hook kind, <c>layer_L</c> or <c>embedding</c> the layer, <c>width_16k</c> etc. the width
/// (checked against the arrays). Outside such a path the SAE still loads, with the model and hook unknown and a warning.
/// </summary>
public sealed partial class GemmaScopeFormat : ICheckpointFormat
{
    public const string WeightsFile = "params.npz";

    public string Name => "gemma_scope";

    public CheckpointLayout? TryMatch(string path)
    {
        string? weights = Directory.Exists(path) ? Path.Combine(path, WeightsFile)
            : File.Exists(path) && Path.GetFileName(path) == WeightsFile ? path
            : null;
        if (weights is null || !File.Exists(weights)) return null;
        return new CheckpointLayout(Name, path, Path.GetDirectoryName(Path.GetFullPath(weights))!, weights, null, []);
    }

    public CheckpointPlan Open(CheckpointLayout layout)
    {
        var where = GemmaScopeLocation.Parse(layout.Directory);
        var npz = NpzTensorSource.Open(layout.WeightFile);
        try
        {
            // SAELens renames a leading w_ to W_.
            string enc = npz.Contains("W_enc") || !npz.Contains("w_enc") ? "W_enc" : "w_enc";
            string dec = npz.Contains("W_dec") || !npz.Contains("w_dec") ? "W_dec" : "w_dec";
            CheckScalingFactor(npz);
            var warnings = new List<string>();
            ITensorSource source = npz;
            if (where.Embedding && npz.TryDescribe(enc, out var wEnc) && wEnc.Shape.Count == 2)
            {
                // Gemma Scope's embedding SAEs were trained on embeddings scaled by sqrt(d_model); SAELens undoes it in the weights.
                float root = (float)Math.Sqrt(wEnc.Shape[0]);
                source = new ScaledTensorSource(npz, new Dictionary<string, (float, bool)> { [enc] = (root, true), [dec] = (root, false) });
            }
            if (where.Warning is { } w) warnings.Add(w);
            var plan = new CheckpointPlan
            {
                Layout = layout,
                Source = source,
                Architecture = SaeArchitectures.JumpRelu,
                Config = Config(where, npz, enc),
                DSae = where.Width,
                WidthSource = where.WidthName is null ? "the folder name" : $"the folder name {where.WidthName}",
                WEnc = new(enc),
                WDec = new(dec),
                BEnc = new("b_enc"),
                BDec = new("b_dec"),
                Threshold = new("threshold"),
                ApplyBDecToInput = false,
            };
            plan.Warnings.AddRange(warnings);
            return plan;
        }
        catch
        {
            npz.Dispose();
            throw;
        }
    }

    private static SaeConfig Config(GemmaScopeLocation where, NpzTensorSource npz, string enc)
    {
        var config = new SaeConfig { Dtype = npz.TryDescribe(enc, out var d) ? d.DType : "float32" };
        if (where.Model is null) return config;
        config.ModelName = where.Model;
        config.HookName = where.HookName;
        config.HookLayer = where.Embedding ? null : where.Layer;
        config.ContextSize = 1024;
        config.Metadata["prepend_bos"] = true;
        config.Metadata["dataset_path"] = "monology/pile-uncopyrighted";
        if (where.Kind == "att") config.Metadata["reshape_activations"] = "hook_z";
        return config;
    }

    /// <summary>SAELens drops a <c>scaling_factor</c> of all ones and refuses any other (it needs a flag Gemma Scope never sets).</summary>
    private static void CheckScalingFactor(NpzTensorSource npz)
    {
        if (!npz.TryDescribe("scaling_factor", out var d)) return;
        if (d.ElementCount > 1 << 24) throw new CheckpointFormatException(npz.File, "scaling_factor", $"shape {d.ShapeText} is too large");
        var values = new float[d.ElementCount];
        npz.Read("scaling_factor", 0, values);
        if (values.Any(v => v != 1f))
            throw new CheckpointFormatException(npz.File, "scaling_factor", "is not all ones; a fine-tuning scaling factor is not supported");
    }

    /// <summary>What the folder's path says about a Gemma Scope SAE (every part may be unknown).</summary>
    internal sealed partial record GemmaScopeLocation(string? Repo, string? Model, string? Kind, int? Layer, bool Embedding, string? WidthName, int? Width, string? Warning)
    {
        private static readonly Dictionary<string, int> Widths = new(StringComparer.Ordinal)
        {
            ["4k"] = 4096, ["16k"] = 16384, ["32k"] = 32768, ["65k"] = 65536,
            ["131k"] = 131072, ["262k"] = 262144, ["524k"] = 524288, ["1m"] = 1048576,
        };

        /// <summary>
        /// TransformerLens's hook: <c>blocks.L.hook_resid_post</c> (res; <c>hook_embed</c> for the embedding SAEs),
        /// <c>blocks.L.hook_mlp_out</c> (mlp), <c>blocks.L.attn.hook_z</c> (att); null when the repo or layer is unknown.
        /// </summary>
        public string? HookName => (Kind, Embedding, Layer) switch
        {
            ("res", true, _) => "hook_embed",
            ("res", false, { } l) => $"blocks.{l}.hook_resid_post",
            ("mlp", false, { } l) => $"blocks.{l}.hook_mlp_out",
            ("att", false, { } l) => $"blocks.{l}.attn.hook_z",
            _ => null,
        };

        public static GemmaScopeLocation Parse(string directory)
        {
            var segments = Path.GetFullPath(directory).Split(['/', '\\'], StringSplitOptions.RemoveEmptyEntries);
            int repoAt = Array.FindLastIndex(segments, s => RepoPattern().IsMatch(s));
            // Inside the repo: after models--org--name/snapshots/<commit>/ in the Hub cache, right after the repo folder otherwise.
            // Without a recognisable repo only the last three segments (layer_L/width_W/average_l0_N) are read.
            int folderAt = repoAt < 0 ? Math.Max(0, segments.Length - 3)
                : segments[repoAt].StartsWith("models--", StringComparison.Ordinal) && repoAt + 2 < segments.Length && segments[repoAt + 1] == "snapshots" ? repoAt + 3
                : repoAt + 1;
            var folder = segments[folderAt..];
            int? layer = folder.Select(s => LayerPattern().Match(s)).Where(m => m.Success).Select(m => (int?)int.Parse(m.Groups[1].Value)).LastOrDefault();
            bool embedding = layer is null && folder.Contains("embedding");
            string? widthName = folder.LastOrDefault(s => s.StartsWith("width_", StringComparison.Ordinal));
            int? width = widthName is not null && Widths.TryGetValue(widthName["width_".Length..], out int w) ? w : null;

            if (repoAt < 0)
                return new(null, null, null, layer, embedding, widthName, width,
                    $"{directory} is not inside a Gemma Scope repo folder (gemma-scope-<2b|9b|27b>-<pt|it>-<res|mlp|att>, or its Hugging Face " +
                    "cache folder models--google--gemma-scope-…): the model and the hook are unknown, so they cannot be checked against the model under study");
            var m = RepoPattern().Match(segments[repoAt]);
            string repo = segments[repoAt].StartsWith("models--", StringComparison.Ordinal)
                ? segments[repoAt]["models--".Length..].Replace("--", "/", StringComparison.Ordinal)
                : segments[repoAt];
            string model = $"gemma-2-{m.Groups["size"].Value}" + (m.Groups["variant"].Value == "it" ? "-it" : "");
            string kind = m.Groups["kind"].Value;
            var location = new GemmaScopeLocation(repo, model, kind, layer, embedding, widthName, width, null);
            return location.HookName is null
                ? location with { Warning = $"{directory}: no layer_<L> folder{(kind == "res" ? " (or embedding)" : "")} below {segments[repoAt]}: the hook is unknown" }
                : location;
        }

        [GeneratedRegex(@"^(?:models--.+--)?gemma-scope-(?<size>2b|9b|27b)-(?<variant>pt|it)-(?<kind>res|mlp|att)$")]
        private static partial Regex RepoPattern();

        [GeneratedRegex(@"^layer_(\d{1,4})$")]
        private static partial Regex LayerPattern();
    }

    /// <summary>Multiplies or divides named tensors by a constant as they are read.</summary>
    private sealed class ScaledTensorSource(NpzTensorSource inner, IReadOnlyDictionary<string, (float Factor, bool Divide)> scales) : ITensorSource, IDisposable
    {
        public string File => inner.File;

        public bool TryDescribe(string name, out TensorDescription description) => inner.TryDescribe(name, out description);

        public void Read(string name, long elementOffset, Span<float> destination)
        {
            inner.Read(name, elementOffset, destination);
            if (!scales.TryGetValue(name, out var s)) return;
            for (int i = 0; i < destination.Length; i++) destination[i] = s.Divide ? destination[i] / s.Factor : destination[i] * s.Factor;
        }

        public void Dispose() => inner.Dispose();
    }
}
