using System.Text.Json;
using System.Text.Json.Nodes;
using SaeBench.Core.Evaluation;

namespace SaeBench.Core.Results;

/// <summary>Which checkpoint a result is about, as recorded in the provenance.</summary>
public sealed record CheckpointProvenance(
    string Id,
    string Sha256,
    string Path,
    string Format,
    string Architecture,
    int DIn,
    int DSae,
    IReadOnlyDictionary<string, string> Tags);

/// <summary>This project's provenance, written under <see cref="ResultEnvelope.ProvenanceKey"/>.</summary>
/// <param name="HarnessVersion">The release version of the harness (e.g. <c>0.1.0</c>).</param>
/// <param name="CodeVersion">What identifies the harness's code (<see cref="Running.CodeVersion"/>): it enters the job key, so a
/// changed harness never reuses an old result.</param>
/// <param name="Commit">The git commit the harness was built from, when known.</param>
/// <param name="EvaluatorVersion">The evaluator's own version (<see cref="Evaluation.EvaluatorInfo.Version"/>), bumped whenever its
/// numbers can change.</param>
/// <param name="Seed">The run's seed: every random choice of the job derives from it.</param>
public sealed record Provenance(
    string HarnessVersion,
    string CodeVersion,
    string? Commit,
    string EvaluatorVersion,
    string JobKey,
    JobStatus Status,
    string? Error,
    string Backend,
    string ModelId,
    string ModelHash,
    int Seed,
    CheckpointProvenance Checkpoint,
    double Seconds);

/// <summary>
/// One result file: SAEBench's envelope keys in SAEBench's order, then our provenance under one extra key.
/// See docs/RESULT_FILES.md.
/// </summary>
public sealed record ResultEnvelope(
    string EvalTypeId,
    JsonObject EvalConfig,
    string EvalId,
    long DatetimeEpochMillis,
    EvalResult Result,
    string ReleaseId,
    JsonObject SaeCfg,
    Provenance Provenance)
{
    public const string ProvenanceKey = "saebench_net";

    /// <summary>Path of the result file for a job under an output directory.</summary>
    public static string PathFor(string outputDirectory, string evalTypeId, string checkpointId) =>
        System.IO.Path.Combine(outputDirectory, "eval_results", SafeFileName(evalTypeId), SafeFileName(checkpointId) + ResultFile.Suffix);

    /// <summary>Longest file-name part (UTF-8 bytes) an id keeps as it is; file systems allow 255 bytes for the whole name.</summary>
    public const int MaxFileNameBytes = 200;

    /// <summary>
    /// Checkpoint ids become file names: path separators and control characters are replaced, and an id longer than
    /// <see cref="MaxFileNameBytes"/> (UTF-8) keeps its beginning plus <c>~</c> and 16 hex digits of its SHA-256, so it
    /// still names one file (the full id is inside the file).
    /// </summary>
    public static string SafeFileName(string id)
    {
        var chars = id.Select(c => c is '/' or '\\' or ':' || char.IsControl(c) ? '_' : c).ToArray();
        var s = new string(chars);
        s = s is "" or "." or ".." ? "_" + s : s;
        if (System.Text.Encoding.UTF8.GetByteCount(s) <= MaxFileNameBytes) return s;
        var hash = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(id)))[..16];
        int keep = 0, bytes = 0;
        while (keep < s.Length)
        {
            int step = char.IsHighSurrogate(s[keep]) && keep + 1 < s.Length ? 2 : 1;
            int size = System.Text.Encoding.UTF8.GetByteCount(s.AsSpan(keep, step));
            if (bytes + size > MaxFileNameBytes - 17) break;
            bytes += size;
            keep += step;
        }
        return s[..keep] + "~" + hash;
    }

    public JsonObject ToJson()
    {
        var metrics = new JsonObject();
        foreach (var group in Result.Metrics.GroupBy(m => m.Descriptor.Category))
        {
            var category = new JsonObject();
            foreach (var m in group) category[m.Descriptor.Name] = JsonNumbers.Of(m.Value);
            metrics[group.Key] = category;
        }

        var details = new JsonArray();
        foreach (var d in Result.Details) details.Add(d.DeepClone());

        var p = Provenance;
        var tags = new JsonObject();
        foreach (var kv in p.Checkpoint.Tags.OrderBy(kv => kv.Key, StringComparer.Ordinal)) tags[kv.Key] = kv.Value;
        var descriptors = new JsonArray();
        foreach (var m in Result.Metrics)
        {
            var d = m.Descriptor;
            descriptors.Add(new JsonObject
            {
                ["category"] = d.Category,
                ["name"] = d.Name,
                ["display_name"] = d.DisplayName,
                ["unit"] = d.Unit,
                ["higher_is_better"] = d.HigherIsBetter is { } h ? JsonValue.Create(h) : null,
            });
        }

        return new JsonObject
        {
            ["eval_type_id"] = EvalTypeId,
            ["eval_config"] = EvalConfig.DeepClone(),
            ["eval_id"] = EvalId,
            ["datetime_epoch_millis"] = DatetimeEpochMillis,
            ["eval_result_metrics"] = metrics,
            ["eval_result_details"] = details,
            // SAEBench's schema requires a string here; we are not SAEBench, so it names this harness's build instead.
            ["sae_bench_commit_hash"] = "saebench-net:" + (p.Commit ?? p.CodeVersion),
            ["sae_lens_id"] = p.Checkpoint.Id,
            ["sae_lens_release_id"] = ReleaseId,
            ["sae_lens_version"] = null,
            ["sae_cfg_dict"] = SaeCfg.DeepClone(),
            ["eval_result_unstructured"] = Result.Unstructured?.DeepClone(),
            [ProvenanceKey] = new JsonObject
            {
                ["harness_version"] = p.HarnessVersion,
                ["code_version"] = p.CodeVersion,
                ["commit"] = p.Commit,
                ["evaluator_version"] = p.EvaluatorVersion,
                ["job_key"] = p.JobKey,
                ["status"] = JobStatuses.Name(p.Status),
                ["error"] = p.Error,
                ["backend"] = p.Backend,
                ["model_id"] = p.ModelId,
                ["model_hash"] = p.ModelHash,
                ["seed"] = p.Seed,
                ["checkpoint"] = new JsonObject
                {
                    ["id"] = p.Checkpoint.Id,
                    ["sha256"] = p.Checkpoint.Sha256,
                    ["path"] = p.Checkpoint.Path,
                    ["format"] = p.Checkpoint.Format,
                    ["architecture"] = p.Checkpoint.Architecture,
                    ["d_in"] = p.Checkpoint.DIn,
                    ["d_sae"] = p.Checkpoint.DSae,
                    ["tags"] = tags,
                },
                ["timings"] = new JsonObject { ["seconds"] = JsonNumbers.Of(p.Seconds) },
                ["metrics"] = descriptors,
            },
        };
    }

    /// <summary>The file's text (indented JSON and a final newline).</summary>
    public string ToText() => ToJson().ToJsonString(ResultJson.Indented) + "\n";

    /// <summary>Writes the file atomically (temp + rename).</summary>
    public void WriteTo(string path) => AtomicFile.WriteAllText(path, ToText());
}
