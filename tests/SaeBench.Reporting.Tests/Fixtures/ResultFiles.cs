using System.Text.Json;
using System.Text.Json.Nodes;

namespace SaeBench.Reporting.Tests.Fixtures;

/// <summary>A metric as the runner describes it (docs/RESULT_FILES.md), with its value.</summary>
public sealed record M(string Category, string Name, string DisplayName, string? Unit, bool? HigherIsBetter, double? Value);

/// <summary>A checkpoint of a fixture run; its SHA-256 is a stand-in unique to the id unless given (equal hashes mean the
/// same weights).</summary>
public sealed record Ckpt(string Id, string Architecture, int Width, int? TargetL0 = null, int? Seed = null, string? Variant = null, string? Sha256 = null)
{
    public string Hash => Sha256 ?? Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(Id)));
}

/// <summary>Writes result files exactly in the shape docs/RESULT_FILES.md pins, so the reader is tested
/// against the contract and not against itself.</summary>
public static class ResultFiles
{
    public static string Write(string root, string evalTypeId, Ckpt c, IEnumerable<M> metrics,
        string status = "done", string? error = null, long epochMillis = 1_700_000_000_000, JsonObject? config = null,
        Action<JsonObject>? provenance = null)
    {
        var list = metrics.ToList();
        var categories = new JsonObject();
        foreach (var g in list.GroupBy(m => m.Category))
        {
            var cat = new JsonObject();
            foreach (var m in g) cat[m.Name] = m.Value is { } v ? JsonValue.Create(v) : null;
            categories[g.Key] = cat;
        }
        var tags = new JsonObject { ["architecture"] = c.Architecture, ["width"] = c.Width.ToString(System.Globalization.CultureInfo.InvariantCulture) };
        if (c.TargetL0 is { } t) tags["target_l0"] = t.ToString(System.Globalization.CultureInfo.InvariantCulture);
        if (c.Seed is { } seed) tags["seed"] = seed.ToString(System.Globalization.CultureInfo.InvariantCulture);
        if (c.Variant is { } variant) tags["variant"] = variant;
        var o = new JsonObject
        {
            ["eval_type_id"] = evalTypeId,
            ["eval_config"] = config ?? new JsonObject { ["seed"] = 42 },
            ["eval_id"] = "00000000-0000-0000-0000-000000000001",
            ["datetime_epoch_millis"] = epochMillis,
            ["eval_result_metrics"] = categories,
            ["eval_result_details"] = new JsonArray(),
            ["sae_bench_commit_hash"] = null,
            ["sae_lens_id"] = c.Id,
            ["sae_lens_release_id"] = "custom",
            ["sae_lens_version"] = null,
            ["sae_cfg_dict"] = new JsonObject { ["architecture"] = c.Architecture, ["d_in"] = 128, ["d_sae"] = c.Width },
            ["eval_result_unstructured"] = null,
            ["saebench_net"] = new JsonObject
            {
                ["harness_version"] = "0.1.0",
                ["code_version"] = "asm:0000000000000000",
                ["commit"] = null,
                ["evaluator_version"] = "1",
                ["job_key"] = $"key-{evalTypeId}-{c.Id}",
                ["status"] = status,
                ["error"] = error,
                ["backend"] = "cpu: test",
                ["model_id"] = "fashion-mnist-mlp",
                ["model_hash"] = "abc",
                ["seed"] = 0,
                ["checkpoint"] = new JsonObject
                {
                    ["id"] = c.Id, ["sha256"] = c.Hash, ["path"] = $"/ckpt/{c.Id}", ["format"] = "saelens",
                    ["architecture"] = c.Architecture, ["d_in"] = 128, ["d_sae"] = c.Width, ["tags"] = tags,
                },
                ["timings"] = new JsonObject { ["seconds"] = 1.0 },
                ["metrics"] = new JsonArray(list.Select(m => (JsonNode?)new JsonObject
                {
                    ["category"] = m.Category, ["name"] = m.Name, ["display_name"] = m.DisplayName,
                    ["unit"] = m.Unit, ["higher_is_better"] = m.HigherIsBetter,
                }).ToArray()),
            },
        };
        provenance?.Invoke(o["saebench_net"]!.AsObject());
        var dir = Path.Combine(root, "eval_results", evalTypeId);
        Directory.CreateDirectory(dir);
        var path = Path.Combine(dir, c.Id + "_eval_results.json");
        File.WriteAllText(path, o.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        return path;
    }

    // Metric factories with the descriptors the runner uses.
    public static M L0(double v) => new("sparsity", "l0", "L0", "latents", null, v);
    public static M ExplainedVariance(double? v) => new("reconstruction_quality", "explained_variance", "Explained variance", "fraction", true, v);
    public static M Mse(double v) => new("reconstruction_quality", "mse", "MSE", "squared activation", false, v);
    public static M LossRecovered(double v) => new("model_performance_preservation", "ce_loss_score", "Loss recovered", "fraction", true, v);
    public static M Absorption(double v) => new("mean", "mean_absorption_fraction_score", "Mean absorption fraction", "fraction", false, v);
    public static M Top1(double v) => new("sae", "sae_top_1_test_accuracy", "Top-1 probe accuracy", "fraction", true, v);
    public static M Unlearning(double v) => new("unlearning", "unlearning_score", "Unlearning score", "fraction", true, v);
    public static M Autointerp(double v) => new("autointerp", "autointerp_score", "Autointerp score", "fraction", true, v);
    public static M DescriptionLength(double v) => new("mdl", "description_length_bits", "Description length", "bits/token", false, v);
    public static M Fvu(double v) => new("mdl", "fvu", "FVU", "fraction", false, v);
    public static M FracDead(double v) => new("misc_metrics", "frac_dead", "Fraction of latents dead", "fraction", false, v);
    public static M Scr(int n, double? v) => new("scr_metrics", $"scr_metric_threshold_{n}", $"SCR metric (top {n} latents)", "ratio", true, v);
    public static M Tpp(int n, double? v) => new("tpp_metrics", $"tpp_threshold_{n}_total_metric", $"TPP metric (top {n} latents)", "accuracy", true, v);
    public static M Ravel(double v) => new("ravel", "disentanglement_score", "RAVEL disentanglement", "fraction", true, v);
    public static M MetaFve(double v) => new("meta_structure", "decoder_fraction_variance_explained", "Decoder variance explained by a meta-SAE", "fraction", true, v);
}

/// <summary>The small run most tests use: TopK and ReLU SAEs at widths 256 and 1024, two sparsities each,
/// a PCA baseline; core, sparse probing and MDL results (no absorption, unlearning or autointerp, so
/// those panels must be left out). Values are chosen by hand so the expected picks are known:
/// MDL-optimal at fvu ≤ 0.1 is topk-1024-l32 (180 bits); at fvu ≤ 0.15 relu-256-l16 (150 bits); at fvu ≤ 0.2 topk-256-l8 (120 bits).</summary>
public static class SmallRun
{
    public static readonly Ckpt[] Saes =
    [
        new("relu-256-l16", "relu", 256, 16), new("relu-256-l64", "relu", 256, 64),
        new("relu-1024-l16", "relu", 1024, 16), new("relu-1024-l64", "relu", 1024, 64),
        new("topk-256-l8", "topk", 256, 8), new("topk-256-l32", "topk", 256, 32),
        new("topk-1024-l8", "topk", 1024, 8), new("topk-1024-l32", "topk", 1024, 32),
    ];

    public static readonly Ckpt Pca = new("pca-128", "pca", 128);

    // checkpoint → (l0, ev, loss recovered, top-1, description length, fvu)
    public static readonly Dictionary<string, (double L0, double Ev, double Ce, double Top1, double Dl, double Fvu)> Values = new()
    {
        ["relu-256-l16"] = (16, 0.85, 0.90, 0.70, 150, 0.15),
        ["relu-256-l64"] = (64, 0.92, 0.95, 0.72, 400, 0.08),
        ["relu-1024-l16"] = (16, 0.88, 0.92, 0.74, 190, 0.12),
        ["relu-1024-l64"] = (64, 0.94, 0.97, 0.75, 420, 0.06),
        ["topk-256-l8"] = (8, 0.80, 0.86, 0.71, 120, 0.20),
        ["topk-256-l32"] = (32, 0.91, 0.94, 0.73, 260, 0.09),
        ["topk-1024-l8"] = (8, 0.84, 0.89, 0.76, 140, 0.16),
        ["topk-1024-l32"] = (32, 0.93, 0.96, 0.78, 180, 0.07),
    };

    public static void Write(string root)
    {
        foreach (var c in Saes)
        {
            var v = Values[c.Id];
            ResultFiles.Write(root, "core", c, [ResultFiles.L0(v.L0), ResultFiles.ExplainedVariance(v.Ev), ResultFiles.LossRecovered(v.Ce)]);
            ResultFiles.Write(root, "sparse_probing", c, [ResultFiles.Top1(v.Top1)]);
            ResultFiles.Write(root, "mdl", c, [ResultFiles.DescriptionLength(v.Dl), ResultFiles.Fvu(v.Fvu)]);
        }
        ResultFiles.Write(root, "core", Pca, [ResultFiles.L0(128), ResultFiles.ExplainedVariance(0.70), ResultFiles.LossRecovered(0.75)]);
        ResultFiles.Write(root, "sparse_probing", Pca, [ResultFiles.Top1(0.65)]);
    }
}

