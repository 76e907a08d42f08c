using System.Globalization;
using System.Text.Json;

namespace SaeBench.Reporting.Results;

/// <summary>A results directory that does not exist or holds no result file.</summary>
public sealed class ResultsInputException(string message) : Exception(message);

/// <summary>Reads every <c>eval_results/**/*_eval_results.json</c> under a directory (docs/RESULT_FILES.md).
/// Shards written into one tree, or into sibling sub-directories, are merged. A file that cannot be
/// read is reported in <see cref="ResultSet.Problems"/> with its path and skipped.</summary>
public static class ResultReader
{
    public const string ResultSuffix = "_eval_results.json";

    /// <summary>Loads a results directory. Throws <see cref="ResultsInputException"/> when the directory is
    /// missing or has no result file at all (not even a malformed one).</summary>
    public static ResultSet Load(string directory)
    {
        var root = Path.GetFullPath(directory);
        if (!Directory.Exists(root)) throw new ResultsInputException($"results directory '{directory}' does not exist");
        var files = Directory.EnumerateFiles(root, "*" + ResultSuffix, SearchOption.AllDirectories)
            .Where(f => Path.GetRelativePath(root, f).Split(Path.DirectorySeparatorChar).Contains("eval_results"))
            .Order(StringComparer.Ordinal)
            .ToList();
        if (files.Count == 0)
            throw new ResultsInputException($"no result files (eval_results/<eval_type_id>/<checkpoint_id>{ResultSuffix}) under '{directory}'");

        var problems = new List<ResultProblem>();
        var kept = new Dictionary<(string, string), EvalResult>();
        foreach (var file in files)
        {
            var shown = Path.GetRelativePath(root, file);
            EvalResult result;
            try
            {
                result = Parse(File.ReadAllText(file), shown, problems);
            }
            catch (FormatException e) { problems.Add(new ResultProblem(shown, e.Message)); continue; }
            catch (IOException e) { problems.Add(new ResultProblem(shown, "cannot read: " + e.Message)); continue; }
            var key = (result.EvalTypeId, result.Checkpoint.Id);
            if (kept.TryGetValue(key, out var other))
            {
                var newer = result.DatetimeEpochMillis >= other.DatetimeEpochMillis ? result : other;
                var older = ReferenceEquals(newer, result) ? other : result;
                problems.Add(new ResultProblem(older.SourceFile,
                    $"duplicate result for eval '{key.EvalTypeId}' and checkpoint '{key.Id}'; kept the newer {newer.SourceFile}"));
                kept[key] = newer;
            }
            else kept[key] = result;
        }
        var manifest = LoadManifests(root, problems);
        var results = kept.Values.OrderBy(r => r.Checkpoint.Id, StringComparer.Ordinal).ThenBy(r => r.EvalTypeId, StringComparer.Ordinal).ToList();
        return new ResultSet(root, results, problems, manifest);
    }

    /// <summary>
    /// The run manifests next to any <c>eval_results</c> folder, merged: <c>manifest.json</c> and the shards'
    /// <c>manifest.shard-i-of-n.json</c> (<see cref="Core.Running.RunManifest.FileName"/>).
    /// </summary>
    private static RunManifest? LoadManifests(string root, List<ResultProblem> problems)
    {
        var manifests = new List<RunManifest>();
        var paths = Directory.EnumerateFiles(root, "manifest*.json", SearchOption.AllDirectories)
            .Where(p => Directory.Exists(Path.Combine(Path.GetDirectoryName(p)!, "eval_results")))
            .Order(StringComparer.Ordinal);
        foreach (var path in paths)
        {
            var shown = Path.GetRelativePath(root, path);
            try { manifests.Add(RunManifest.Parse(File.ReadAllText(path))); }
            catch (FormatException e) { problems.Add(new ResultProblem(shown, e.Message)); }
            catch (IOException e) { problems.Add(new ResultProblem(shown, "cannot read: " + e.Message)); }
        }
        return manifests.Count == 0 ? null : RunManifest.Merge(manifests);
    }

    /// <summary>Parses one result file's text. Throws <see cref="FormatException"/> naming the field that
    /// makes the file unusable; a single non-numeric metric is reported in <paramref name="problems"/> and left out.</summary>
    public static EvalResult Parse(string json, string sourceFile, List<ResultProblem> problems)
    {
        JsonDocument doc;
        try { doc = JsonDocument.Parse(json, new JsonDocumentOptions { AllowTrailingCommas = false }); }
        catch (JsonException e) { throw new FormatException("malformed JSON: " + e.Message, e); }
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw new FormatException("expected a JSON object at the top level");
            var evalType = RequiredString(root, "eval_type_id");
            var net = Child(root, "saebench_net");
            var ckpt = net is { } n ? Child(n, "checkpoint") : null;
            var status = (net is { } n2 ? String(n2, "status") : null) ?? ResultStatus.Done;
            if (status is not (ResultStatus.Done or ResultStatus.Failed or ResultStatus.NotApplicable))
                throw new FormatException($"field 'saebench_net.status' has unknown value '{status}' (expected done, failed or not_applicable)");
            var error = net is { } n3 ? String(n3, "error") : null;
            var checkpointId = (ckpt is { } c0 ? String(c0, "id") : null) ?? RequiredString(root, "sae_lens_id");
            var cfg = Child(root, "sae_cfg_dict");
            var tags = ReadTags(ckpt);
            var info = new CheckpointInfo(
                checkpointId,
                String(root, "sae_lens_release_id") ?? "custom",
                (ckpt is { } c1 ? String(c1, "architecture") : null) ?? tags.GetValueOrDefault("architecture") ?? (cfg is { } f1 ? String(f1, "architecture") : null),
                tags.GetValueOrDefault("width") ?? (ckpt is { } c2 ? Scalar(c2, "d_sae") : null) ?? (cfg is { } f2 ? Scalar(f2, "d_sae") : null),
                tags.GetValueOrDefault("target_l0"),
                ckpt is { } c3 ? String(c3, "path") : null,
                tags);
            long when = root.TryGetProperty("datetime_epoch_millis", out var t) && t.ValueKind == JsonValueKind.Number && t.TryGetInt64(out var ms) ? ms : 0;
            var descriptors = ReadDescriptors(net);
            var metrics = ReadMetrics(root, status, descriptors, sourceFile, problems);
            return new EvalResult(sourceFile, evalType, info, status, error, when, metrics);
        }
    }

    private static List<MetricValue> ReadMetrics(JsonElement root, string status, Dictionary<string, MetricDescriptor> descriptors, string file, List<ResultProblem> problems)
    {
        var list = new List<MetricValue>();
        if (!root.TryGetProperty("eval_result_metrics", out var metrics) || metrics.ValueKind == JsonValueKind.Null)
        {
            if (status == ResultStatus.Done) throw new FormatException("field 'eval_result_metrics' is missing");
            return list;
        }
        if (metrics.ValueKind != JsonValueKind.Object) throw new FormatException("field 'eval_result_metrics' must be an object");
        foreach (var category in metrics.EnumerateObject())
        {
            if (category.Value.ValueKind != JsonValueKind.Object)
                throw new FormatException($"field 'eval_result_metrics.{category.Name}' must be an object of metric name → number");
            foreach (var metric in category.Value.EnumerateObject())
            {
                double? value;
                switch (metric.Value.ValueKind)
                {
                    case JsonValueKind.Null: value = null; break;
                    case JsonValueKind.Number: value = metric.Value.GetDouble(); break;
                    default:
                        problems.Add(new ResultProblem(file, $"field 'eval_result_metrics.{category.Name}.{metric.Name}' is not a number or null; left out"));
                        continue;
                }
                var id = category.Name + "." + metric.Name;
                var descriptor = descriptors.GetValueOrDefault(id) ?? new MetricDescriptor(category.Name, metric.Name, metric.Name, null, null);
                list.Add(new MetricValue(descriptor, value));
            }
        }
        return list;
    }

    private static Dictionary<string, MetricDescriptor> ReadDescriptors(JsonElement? net)
    {
        var map = new Dictionary<string, MetricDescriptor>(StringComparer.Ordinal);
        if (net is not { } n || !n.TryGetProperty("metrics", out var list) || list.ValueKind != JsonValueKind.Array) return map;
        int i = 0;
        foreach (var d in list.EnumerateArray())
        {
            if (d.ValueKind != JsonValueKind.Object) throw new FormatException($"field 'saebench_net.metrics[{i}]' must be an object");
            var category = String(d, "category") ?? throw new FormatException($"field 'saebench_net.metrics[{i}].category' is missing");
            var name = String(d, "name") ?? throw new FormatException($"field 'saebench_net.metrics[{i}].name' is missing");
            bool? hib = d.TryGetProperty("higher_is_better", out var h) ? h.ValueKind switch
            {
                JsonValueKind.True => true,
                JsonValueKind.False => false,
                JsonValueKind.Null => null,
                _ => throw new FormatException($"field 'saebench_net.metrics[{i}].higher_is_better' must be true, false or null"),
            } : null;
            var descriptor = new MetricDescriptor(category, name, String(d, "display_name") ?? name, String(d, "unit"), hib);
            map[descriptor.Id] = descriptor;
            i++;
        }
        return map;
    }

    private static Dictionary<string, string> ReadTags(JsonElement? ckpt)
    {
        var tags = new Dictionary<string, string>(StringComparer.Ordinal);
        if (ckpt is not { } c || !c.TryGetProperty("tags", out var t) || t.ValueKind != JsonValueKind.Object) return tags;
        foreach (var p in t.EnumerateObject())
            if (ScalarText(p.Value) is { } s) tags[p.Name] = s;
        return tags;
    }

    private static JsonElement? Child(JsonElement o, string name) =>
        o.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Object ? v : null;

    private static string? String(JsonElement o, string name) =>
        o.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    private static string? Scalar(JsonElement o, string name) =>
        o.TryGetProperty(name, out var v) ? ScalarText(v) : null;

    private static string? ScalarText(JsonElement v) => v.ValueKind switch
    {
        JsonValueKind.String => v.GetString(),
        JsonValueKind.Number => v.TryGetInt64(out var l) ? l.ToString(CultureInfo.InvariantCulture) : v.GetDouble().ToString(CultureInfo.InvariantCulture),
        JsonValueKind.True => "true",
        JsonValueKind.False => "false",
        _ => null,
    };

    private static string RequiredString(JsonElement o, string name)
    {
        if (!o.TryGetProperty(name, out var v)) throw new FormatException($"field '{name}' is missing");
        if (v.ValueKind != JsonValueKind.String || string.IsNullOrEmpty(v.GetString()))
            throw new FormatException($"field '{name}' must be a non-empty string");
        return v.GetString()!;
    }
}
