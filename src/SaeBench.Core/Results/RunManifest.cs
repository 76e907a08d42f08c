using System.Text.Json;
using System.Text.Json.Nodes;

namespace SaeBench.Core.Results;

/// <summary>One job of a plan: an evaluator on a checkpoint, with the key that makes its result reusable.</summary>
public sealed record PlannedJob(string EvalTypeId, string CheckpointId, string JobKey)
{
    /// <summary>What identifies the job across shards: its key, else evaluator and checkpoint.</summary>
    internal string Identity => JobKey.Length > 0 ? JobKey : EvalTypeId + "\u0000" + CheckpointId;
}

/// <summary>A job that failed, with its error.</summary>
public sealed record FailedJob(PlannedJob Job, string Error);

/// <summary>
/// What a run planned, finished, skipped (already done with the same key), failed, found not applicable, and whether it
/// was interrupted. Written as <c>manifest.json</c> (or <c>manifest.shard-i-of-n.json</c>) by the runner and rebuilt by
/// <c>saebench report</c>; one shape on disk (docs/RESULT_FILES.md):
/// <c>{planned, done, skipped, failed, not_applicable: [job], interrupted: bool}</c>, each job
/// <c>{eval_type_id, checkpoint_id, job_key}</c>, a failed job with an <c>error</c> field as well.
/// </summary>
public sealed record RunManifest(
    IReadOnlyList<PlannedJob> Planned,
    IReadOnlyList<PlannedJob> Done,
    IReadOnlyList<PlannedJob> Skipped,
    IReadOnlyList<FailedJob> Failed,
    IReadOnlyList<PlannedJob> NotApplicable,
    bool Interrupted)
{
    public bool Succeeded => Failed.Count == 0 && !Interrupted;

    /// <summary>Manifest file name; shards write <c>manifest.shard-i-of-n.json</c> so they never overwrite each other.</summary>
    public static string FileName(int shardIndex, int shardCount) =>
        shardCount == 1 ? "manifest.json" : $"manifest.shard-{shardIndex}-of-{shardCount}.json";

    /// <summary>Whether a file name is a manifest (<c>manifest.json</c> or a shard's).</summary>
    public static bool IsManifestFileName(string fileName) =>
        fileName == "manifest.json" || (fileName.StartsWith("manifest.shard-", StringComparison.Ordinal) && fileName.EndsWith(".json", StringComparison.Ordinal));

    public JsonObject ToJson()
    {
        static JsonObject Job(PlannedJob j) => new()
        {
            ["eval_type_id"] = j.EvalTypeId,
            ["checkpoint_id"] = j.CheckpointId,
            ["job_key"] = j.JobKey,
        };
        static JsonArray List(IEnumerable<PlannedJob> jobs) => new(jobs.Select(j => (JsonNode)Job(j)).ToArray());
        return new JsonObject
        {
            ["planned"] = List(Planned),
            ["done"] = List(Done),
            ["skipped"] = List(Skipped),
            ["failed"] = new JsonArray(Failed.Select(f => { var o = Job(f.Job); o["error"] = f.Error; return (JsonNode)o; }).ToArray()),
            ["not_applicable"] = List(NotApplicable),
            ["interrupted"] = Interrupted,
        };
    }

    public string ToJsonString() => ToJson().ToJsonString(ResultJson.Indented) + "\n";

    public void WriteTo(string path) => AtomicFile.WriteAllText(path, ToJsonString());

    /// <summary>
    /// Union of several shards' manifests: a job listed twice counts once (by job key); interrupted when any shard was.
    /// A job that one shard finished and another skipped is both done and skipped, as each shard saw it.
    /// </summary>
    public static RunManifest Merge(IEnumerable<RunManifest> manifests)
    {
        var all = manifests.ToList();
        return new RunManifest(
            Distinct(all.SelectMany(m => m.Planned)),
            Distinct(all.SelectMany(m => m.Done)),
            Distinct(all.SelectMany(m => m.Skipped)),
            all.SelectMany(m => m.Failed).GroupBy(f => f.Job.Identity, StringComparer.Ordinal).Select(g => g.First()).ToList(),
            Distinct(all.SelectMany(m => m.NotApplicable)),
            all.Any(m => m.Interrupted));

        static List<PlannedJob> Distinct(IEnumerable<PlannedJob> jobs) =>
            jobs.GroupBy(j => j.Identity, StringComparer.Ordinal).Select(g => g.First()).ToList();
    }

    /// <summary>
    /// Parses a manifest; throws <see cref="FormatException"/> naming the field that is wrong. Also reads the older
    /// shapes (a failed job as <c>{job: {...}, error}</c>; no <c>not_applicable</c> or <c>interrupted</c>).
    /// </summary>
    public static RunManifest Parse(string json)
    {
        JsonNode? root;
        try { root = StrictJson.ParseNode(System.Text.Encoding.UTF8.GetBytes(json)); }
        catch (JsonException e) { throw new FormatException("malformed JSON: " + e.Message, e); }
        if (root is not JsonObject o) throw new FormatException("expected a JSON object at the top level");
        bool interrupted = o["interrupted"] switch
        {
            null => false,
            JsonValue v when v.GetValueKind() is JsonValueKind.True or JsonValueKind.False => v.GetValue<bool>(),
            _ => throw new FormatException("field 'interrupted' must be true or false"),
        };
        return new RunManifest(Jobs(o, "planned"), Jobs(o, "done"), Jobs(o, "skipped"), Failures(o), Jobs(o, "not_applicable"), interrupted);
    }

    private static List<PlannedJob> Jobs(JsonObject o, string field)
    {
        var list = new List<PlannedJob>();
        if (o[field] is null) return list;
        if (o[field] is not JsonArray a) throw new FormatException($"field '{field}' must be an array");
        for (int i = 0; i < a.Count; i++) list.Add(Job(a[i], $"{field}[{i}]"));
        return list;
    }

    private static List<FailedJob> Failures(JsonObject o)
    {
        var list = new List<FailedJob>();
        if (o["failed"] is null) return list;
        if (o["failed"] is not JsonArray a) throw new FormatException("field 'failed' must be an array");
        for (int i = 0; i < a.Count; i++)
        {
            if (a[i] is not JsonObject f) throw new FormatException($"field 'failed[{i}]' must be an object");
            var job = f["job"] is JsonObject j ? Job(j, $"failed[{i}].job") : Job(f, $"failed[{i}]");
            list.Add(new FailedJob(job, Str(f, "error") ?? ""));
        }
        return list;
    }

    private static PlannedJob Job(JsonNode? node, string where)
    {
        if (node is not JsonObject j) throw new FormatException($"field '{where}' must be an object");
        return new PlannedJob(
            Str(j, "eval_type_id") ?? throw new FormatException($"field '{where}.eval_type_id' is missing"),
            Str(j, "checkpoint_id") ?? throw new FormatException($"field '{where}.checkpoint_id' is missing"),
            Str(j, "job_key") ?? "");
    }

    private static string? Str(JsonObject o, string name) =>
        o[name] is JsonValue v && v.GetValueKind() == JsonValueKind.String ? v.GetValue<string>() : null;
}
