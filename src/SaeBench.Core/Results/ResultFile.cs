using System.Globalization;
using System.Text.Json;
using SaeBench.Core.Evaluation;

namespace SaeBench.Core.Results;

/// <summary>Reading result files (the writer is <see cref="ResultEnvelope"/>): the one parser of the format, used by the
/// runner (to skip finished jobs) and by the reports.</summary>
public static class ResultFile
{
    public const string Suffix = "_eval_results.json";

    /// <summary>Largest result file or manifest read (a result with per-latent details of a very wide SAE is tens of MB).</summary>
    public const long MaxBytes = 256L << 20;

    /// <summary>The text of a result file or manifest; one over <see cref="MaxBytes"/> is refused (<see cref="FormatException"/>)
    /// before it is read.</summary>
    public static string ReadText(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        if (stream.Length > MaxBytes)
            throw new FormatException($"the file has {stream.Length} bytes, more than the {MaxBytes >> 20} MiB a result file may have");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    /// <summary>
    /// The job key and status recorded in an existing result file, or null if the file is missing or unreadable
    /// (an unreadable file is treated as absent and will be rewritten).
    /// </summary>
    public static (string JobKey, string Status)? ReadStamp(string path)
    {
        if (!File.Exists(path)) return null;
        try
        {
            using var doc = StrictJson.Parse(ReadText(path));
            var p = doc.RootElement.GetProperty(ResultEnvelope.ProvenanceKey);
            return (p.GetProperty("job_key").GetString() ?? "", p.GetProperty("status").GetString() ?? "");
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or IOException or UnauthorizedAccessException or FormatException)
        {
            return null;
        }
    }

    /// <summary>Parses one result file's text. Throws <see cref="FormatException"/> naming the field that makes the file
    /// unusable; a single non-numeric metric is reported in <paramref name="problems"/> and left out.</summary>
    public static ResultRecord Parse(string json, string sourceFile, List<ResultProblem> problems)
    {
        JsonDocument doc;
        try { doc = StrictJson.Parse(json); }
        catch (JsonException e) { throw new FormatException("malformed JSON: " + e.Message, e); }
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw new FormatException("expected a JSON object at the top level");
            var evalType = RequiredString(root, "eval_type_id");
            var net = Child(root, ResultEnvelope.ProvenanceKey);
            var ckpt = net is { } n ? Child(n, "checkpoint") : null;
            var statusName = (net is { } n2 ? String(n2, "status") : null) ?? JobStatuses.Done;
            if (!JobStatuses.TryParse(statusName, out var status))
                throw new FormatException($"field '{ResultEnvelope.ProvenanceKey}.status' has unknown value '{statusName}' (expected {JobStatuses.Done}, {JobStatuses.Failed} or {JobStatuses.NotApplicable})");
            var error = net is { } n3 ? String(n3, "error") : null;
            var checkpointId = (ckpt is { } c0 ? String(c0, "id") : null) ?? RequiredString(root, "sae_lens_id");
            var cfg = Child(root, "sae_cfg_dict");
            var tags = ReadTags(ckpt);
            var checkpoint = new ResultCheckpoint(
                checkpointId,
                String(root, "sae_lens_release_id") ?? "custom",
                (ckpt is { } c1 ? String(c1, "architecture") : null) ?? tags.GetValueOrDefault("architecture") ?? (cfg is { } f1 ? String(f1, "architecture") : null),
                tags.GetValueOrDefault("width") ?? (ckpt is { } c2 ? Scalar(c2, "d_sae") : null) ?? (cfg is { } f2 ? Scalar(f2, "d_sae") : null),
                tags.GetValueOrDefault("target_l0"),
                ckpt is { } c3 ? String(c3, "path") : null,
                tags,
                ckpt is { } c4 ? String(c4, "sha256") : null);
            long when = root.TryGetProperty("datetime_epoch_millis", out var t) && t.ValueKind == JsonValueKind.Number && t.TryGetInt64(out var ms) ? ms : 0;
            var descriptors = ReadDescriptors(net);
            var metrics = ReadMetrics(root, status, descriptors, sourceFile, problems);
            var config = root.TryGetProperty("eval_config", out var ec) && ec.ValueKind == JsonValueKind.Object
                ? System.Text.Json.Nodes.JsonObject.Create(ec.Clone()) : null;
            return new ResultRecord(sourceFile, evalType, checkpoint, status, error, when, metrics, ReadProvenance(net), config);
        }
    }

    private static RecordedProvenance ReadProvenance(JsonElement? net)
    {
        if (net is not { } n) return new RecordedProvenance();
        int? seed = n.TryGetProperty("seed", out var s) && s.ValueKind == JsonValueKind.Number && s.TryGetInt32(out var v) ? v : null;
        return new RecordedProvenance(String(n, "harness_version"), String(n, "code_version"), String(n, "commit"), String(n, "evaluator_version"),
            String(n, "job_key"), String(n, "backend"), String(n, "model_id"), String(n, "model_hash"), seed);
    }

    private static List<MetricValue> ReadMetrics(JsonElement root, JobStatus status, Dictionary<string, MetricDescriptor> descriptors, string file, List<ResultProblem> problems)
    {
        var list = new List<MetricValue>();
        if (!root.TryGetProperty("eval_result_metrics", out var metrics) || metrics.ValueKind == JsonValueKind.Null)
        {
            if (status == JobStatus.Done) throw new FormatException("field 'eval_result_metrics' is missing");
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
                    case JsonValueKind.Number when metric.Value.GetDouble() is var number && double.IsFinite(number): value = number; break;
                    case JsonValueKind.Number:
                        problems.Add(new ResultProblem(file, $"field 'eval_result_metrics.{category.Name}.{metric.Name}' is {metric.Value.GetRawText()}, " +
                                                             "not a finite number (an undefined metric is null); left out"));
                        continue;
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
            var at = $"{ResultEnvelope.ProvenanceKey}.metrics[{i}]";
            if (d.ValueKind != JsonValueKind.Object) throw new FormatException($"field '{at}' must be an object");
            var category = String(d, "category") ?? throw new FormatException($"field '{at}.category' is missing");
            var name = String(d, "name") ?? throw new FormatException($"field '{at}.name' is missing");
            bool? hib = d.TryGetProperty("higher_is_better", out var h) ? h.ValueKind switch
            {
                JsonValueKind.True => true,
                JsonValueKind.False => false,
                JsonValueKind.Null => null,
                _ => throw new FormatException($"field '{at}.higher_is_better' must be true, false or null"),
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
