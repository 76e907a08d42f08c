using System.Globalization;
using SaeBench.Core.Evaluation;

namespace SaeBench.Core.Results;

/// <summary>What one result file says: one evaluator run on one checkpoint (docs/RESULT_FILES.md). Read by
/// <see cref="ResultFile.Parse"/>; the runner writes the same fields through <see cref="ResultEnvelope"/>.</summary>
/// <param name="EvalConfig">The evaluator's options as recorded (<c>eval_config</c>): which judge, task or variant
/// produced the numbers; null when the file has none.</param>
public sealed record ResultRecord(
    string SourceFile,
    string EvalTypeId,
    ResultCheckpoint Checkpoint,
    JobStatus Status,
    string? Error,
    long DatetimeEpochMillis,
    IReadOnlyList<MetricValue> Metrics,
    RecordedProvenance Provenance,
    System.Text.Json.Nodes.JsonObject? EvalConfig = null)
{
    public MetricValue? Find(string metricId) => Metrics.FirstOrDefault(m => m.Descriptor.Id == metricId);
}

/// <summary>The checkpoint a result is about, as the result file describes it.</summary>
/// <param name="Width">tags.width, else the dictionary size d_sae; null when neither is given.</param>
public sealed record ResultCheckpoint(
    string Id,
    string ReleaseId,
    string? Architecture,
    string? Width,
    string? TargetL0,
    string? Path,
    IReadOnlyDictionary<string, string> Tags,
    string? Sha256 = null)
{
    /// <summary>PCA and identity checkpoints are baselines: drawn as reference lines, not as SAEs.</summary>
    public bool IsBaseline => Architecture is not null &&
        (Architecture.Equals("pca", StringComparison.OrdinalIgnoreCase) || Architecture.Equals("identity", StringComparison.OrdinalIgnoreCase));

    /// <summary>The width as a number, for sorting and log axes; null when missing or not numeric.</summary>
    public double? WidthValue => double.TryParse(Width, NumberStyles.Float, CultureInfo.InvariantCulture, out var w) ? w : null;
}

/// <summary>The provenance fields a result file recorded (any may be absent in files written by other tools or older
/// versions).</summary>
public sealed record RecordedProvenance(
    string? HarnessVersion = null,
    string? CodeVersion = null,
    string? Commit = null,
    string? EvaluatorVersion = null,
    string? JobKey = null,
    string? Backend = null,
    string? ModelId = null,
    string? ModelHash = null,
    int? Seed = null);

/// <summary>A file that could not be used (malformed JSON, a missing field, a duplicate job): reported, then skipped.</summary>
public sealed record ResultProblem(string File, string Message)
{
    public override string ToString() => $"{File}: {Message}";
}
