using SaeBench.Core.Evaluation;
using SaeBench.Core.Results;
using SaeBench.Reporting.Results;

namespace SaeBench.Reporting.Comparison;

/// <summary>How two runs are compared.</summary>
/// <param name="Tolerances">Per-metric tolerances (descriptor defaults, command line, tolerance file).</param>
/// <param name="AllowProvenanceChange">Compare metrics even where what produced them changed (model or data, checkpoint,
/// seed, evaluator version or options): the changes are still listed, but do not make the runs incomparable.</param>
public sealed record ComparisonOptions(TolerancePolicy? Tolerances = null, bool AllowProvenanceChange = false)
{
    public TolerancePolicy Policy => Tolerances ?? new TolerancePolicy();
}

/// <summary>What happened to one metric between two runs.</summary>
public enum DiffStatus
{
    /// <summary>Within tolerance, or undefined in both.</summary>
    Unchanged,
    /// <summary>Moved in its better direction beyond tolerance.</summary>
    Improved,
    /// <summary>Moved in its worse direction beyond tolerance, became undefined, was deleted from a job done in both runs,
    /// turned non-numeric, or had its better direction flipped.</summary>
    Regressed,
    /// <summary>A metric with no direction that moved beyond tolerance, or became defined: informational, never a regression.</summary>
    Changed,
    /// <summary>The metric is in the candidate only.</summary>
    Added,
    /// <summary>The metric is in the baseline only, and the candidate's job is not done (its status change says why).</summary>
    Removed,
    /// <summary>Not compared: what produced the numbers changed (<see cref="ProvenanceChange"/>), so a difference says
    /// nothing about the code under test.</summary>
    Incomparable,
}

/// <summary>One checkpoint × evaluator metric in both runs.</summary>
/// <param name="Note">Why a regression that is not a move is one: <c>deleted</c>, <c>not a number</c>, <c>direction flipped</c>.</param>
public sealed record MetricDiff(
    string CheckpointId,
    string EvalTypeId,
    string MetricId,
    string DisplayName,
    string? Unit,
    bool? HigherIsBetter,
    double? Baseline,
    double? Candidate,
    DiffStatus Status,
    Tolerance? Tolerance = null,
    string? Note = null)
{
    /// <summary>Candidate − baseline, when both are defined.</summary>
    public double? Delta => Baseline is { } b && Candidate is { } c ? c - b : null;
}

/// <summary>A job whose status differs between the runs (done → failed, not_applicable or missing is a regression).</summary>
public sealed record StatusChange(string CheckpointId, string EvalTypeId, string BaselineStatus, string CandidateStatus, string? CandidateError, bool IsRegression);

/// <summary>A provenance field that differs between the runs, with the jobs it differs for.</summary>
/// <param name="Field">e.g. <c>seed</c>, <c>model_hash</c>, <c>checkpoint.sha256</c>, <c>code_version</c>.</param>
/// <param name="Incomparable">True when the change alters what is measured (model or data, checkpoint, seed, evaluator
/// version or options); false for the harness's own code and build (<c>code_version</c>, <c>harness_version</c>,
/// <c>backend</c>), whose effect on the numbers is what a nightly comparison is for.</param>
public sealed record ProvenanceChange(string Field, string Baseline, string Candidate, bool Incomparable, IReadOnlyList<string> Jobs);

/// <summary>The diff of two runs.</summary>
public sealed record RunComparison(
    string BaselineRoot,
    string CandidateRoot,
    ComparisonOptions Options,
    IReadOnlyList<MetricDiff> Metrics,
    IReadOnlyList<StatusChange> StatusChanges,
    IReadOnlyList<ProvenanceChange> ProvenanceChanges,
    IReadOnlyList<string> OnlyInBaseline,
    IReadOnlyList<string> OnlyInCandidate,
    IReadOnlyList<ResultProblem> BaselineProblems,
    IReadOnlyList<ResultProblem> CandidateProblems)
{
    public IEnumerable<MetricDiff> Regressions => Metrics.Where(m => m.Status == DiffStatus.Regressed);

    /// <summary>True when a provenance change makes (part of) the runs incomparable and that was not allowed.</summary>
    public bool Incomparable => !Options.AllowProvenanceChange && ProvenanceChanges.Any(p => p.Incomparable);

    /// <summary>True when any metric regressed, or any job done in the baseline is not done (or missing) in the candidate
    /// (for a checkpoint both runs have).</summary>
    public bool HasRegressions => Regressions.Any() || StatusChanges.Any(s => s.IsRegression);
}

/// <summary>Compares two runs checkpoint × evaluator × metric, using each metric's higher-is-better direction, after
/// checking that the same things were measured the same way (provenance).</summary>
public static class RunComparer
{
    /// <summary>The candidate status of a job done in the baseline that has no (readable) result in the candidate.</summary>
    public const string MissingStatus = "missing";

    public static RunComparison Compare(ResultSet baseline, ResultSet candidate, ComparisonOptions options)
    {
        var baseIds = baseline.Checkpoints.Select(c => c.Id).ToHashSet(StringComparer.Ordinal);
        var candIds = candidate.Checkpoints.Select(c => c.Id).ToHashSet(StringComparer.Ordinal);
        var common = baseIds.Intersect(candIds).Order(StringComparer.Ordinal).ToList();
        var diffs = new List<MetricDiff>();
        var statuses = new List<StatusChange>();
        var provenance = new Dictionary<(string Field, string B, string C, bool Incomparable), List<string>>();

        var baseResults = baseline.Results.ToDictionary(r => (r.Checkpoint.Id, r.EvalTypeId));
        var candResults = candidate.Results.ToDictionary(r => (r.Checkpoint.Id, r.EvalTypeId));
        foreach (var id in common)
        {
            var evals = baseResults.Keys.Concat(candResults.Keys).Where(k => k.Id == id).Select(k => k.EvalTypeId)
                .Distinct().Order(StringComparer.Ordinal);
            foreach (var eval in evals)
            {
                var b = baseResults.GetValueOrDefault((id, eval));
                var c = candResults.GetValueOrDefault((id, eval));
                if (b is not null && c is not null && b.Status != c.Status)
                    statuses.Add(new StatusChange(id, eval, JobStatuses.Name(b.Status), JobStatuses.Name(c.Status), c.Error,
                        IsRegression: b.Status == JobStatus.Done));
                else if (b is { Status: JobStatus.Done } && c is null)
                    // The checkpoint is in both runs but this evaluation has no readable result in the candidate: a
                    // broken nightly run must not pass as "metrics removed".
                    statuses.Add(new StatusChange(id, eval, JobStatuses.Name(b.Status), MissingStatus, null, IsRegression: true));

                bool incomparable = false;
                if (b is not null && c is not null)
                    foreach (var (field, bv, cv, breaks) in ProvenanceDifferences(b, c))
                    {
                        var key = (field, bv, cv, breaks);
                        if (!provenance.TryGetValue(key, out var jobs)) provenance[key] = jobs = [];
                        jobs.Add($"{id} · {eval}");
                        incomparable |= breaks;
                    }
                incomparable &= !options.AllowProvenanceChange;

                var metricIds = (b?.Metrics ?? []).Concat(c?.Metrics ?? []).Select(m => m.Descriptor.Id).Distinct();
                foreach (var metricId in metricIds)
                {
                    var bm = b?.Find(metricId);
                    var cm = c?.Find(metricId);
                    var d = (cm ?? bm)!.Descriptor;
                    var tolerance = options.Policy.For(eval, d);
                    DiffStatus status;
                    string? note = null;
                    if (incomparable) status = DiffStatus.Incomparable;
                    else if (bm is null) status = DiffStatus.Added;
                    else if (cm is null)
                    {
                        // Deleted (or turned non-numeric, which the reader leaves out) from a job that is done in both runs.
                        bool bothDone = b!.Status == JobStatus.Done && c is { Status: JobStatus.Done };
                        status = bothDone ? DiffStatus.Regressed : DiffStatus.Removed;
                        if (bothDone) note = NotNumeric(candidate, c!, metricId) ? "not a number" : "deleted";
                    }
                    else if (bm.Descriptor.HigherIsBetter != cm.Descriptor.HigherIsBetter)
                    {
                        status = DiffStatus.Regressed;
                        note = $"direction flipped ({Direction(bm.Descriptor.HigherIsBetter)} → {Direction(cm.Descriptor.HigherIsBetter)})";
                    }
                    else status = Classify(bm.Value, cm.Value, d.HigherIsBetter, tolerance);
                    diffs.Add(new MetricDiff(id, eval, metricId, d.DisplayName, d.Unit, d.HigherIsBetter, bm?.Value, cm?.Value, status, tolerance, note));
                }
            }
        }
        var changes = provenance
            .Select(kv => new ProvenanceChange(kv.Key.Field, kv.Key.B, kv.Key.C, kv.Key.Incomparable, kv.Value))
            .OrderByDescending(p => p.Incomparable).ThenBy(p => p.Field, StringComparer.Ordinal).ThenBy(p => p.Baseline, StringComparer.Ordinal)
            .ToList();
        return new RunComparison(baseline.Root, candidate.Root, options, diffs, statuses, changes,
            baseIds.Except(candIds).Order(StringComparer.Ordinal).ToList(),
            candIds.Except(baseIds).Order(StringComparer.Ordinal).ToList(),
            baseline.Problems, candidate.Problems);
    }

    /// <summary>The provenance fields that differ between two results of one job. A field one side did not record (older
    /// files, other tools) is not a change.</summary>
    private static IEnumerable<(string Field, string Baseline, string Candidate, bool Incomparable)> ProvenanceDifferences(ResultRecord b, ResultRecord c)
    {
        IEnumerable<(string, string?, string?, bool)> Fields()
        {
            yield return ("model_id", b.Provenance.ModelId, c.Provenance.ModelId, true);
            yield return ("model_hash (model and data)", b.Provenance.ModelHash, c.Provenance.ModelHash, true);
            yield return ("checkpoint.sha256", b.Checkpoint.Sha256, c.Checkpoint.Sha256, true);
            yield return ("seed", b.Provenance.Seed?.ToString(System.Globalization.CultureInfo.InvariantCulture), c.Provenance.Seed?.ToString(System.Globalization.CultureInfo.InvariantCulture), true);
            yield return ("evaluator_version", b.Provenance.EvaluatorVersion, c.Provenance.EvaluatorVersion, true);
            yield return ("eval_config", Canonical(b.EvalConfig), Canonical(c.EvalConfig), true);
            yield return ("code_version", b.Provenance.CodeVersion, c.Provenance.CodeVersion, false);
            yield return ("harness_version", b.Provenance.HarnessVersion, c.Provenance.HarnessVersion, false);
            yield return ("backend", b.Provenance.Backend, c.Provenance.Backend, false);
        }
        foreach (var (field, bv, cv, breaks) in Fields())
            if (bv is not null && cv is not null && !string.Equals(bv, cv, StringComparison.Ordinal))
                yield return (field, bv, cv, breaks);
    }

    private static string? Canonical(System.Text.Json.Nodes.JsonObject? o) => o is null ? null : Hashing.Canonical(o);

    private static bool NotNumeric(ResultSet candidate, ResultRecord c, string metricId) =>
        candidate.Problems.Any(p => p.File == c.SourceFile && p.Message.Contains($"eval_result_metrics.{metricId}'", StringComparison.Ordinal));

    private static string Direction(bool? up) => up switch { true => "higher is better", false => "lower is better", null => "no direction" };

    /// <summary>The rule, documented on <see cref="Tolerance"/> and <see cref="DiffStatus"/>.</summary>
    public static DiffStatus Classify(double? baseline, double? candidate, bool? higherIsBetter, Tolerance tolerance)
    {
        if (baseline is null && candidate is null) return DiffStatus.Unchanged;
        if (baseline is null) return DiffStatus.Changed;
        if (candidate is null) return higherIsBetter is null ? DiffStatus.Changed : DiffStatus.Regressed;
        double b = baseline.Value, c = candidate.Value;
        if (double.IsNaN(b) || double.IsNaN(c)) return b.Equals(c) ? DiffStatus.Unchanged : higherIsBetter is null ? DiffStatus.Changed : DiffStatus.Regressed;
        var allowed = tolerance.Allowed(b);
        if (higherIsBetter is not { } up)
            return Math.Abs(c - b) > allowed ? DiffStatus.Changed : DiffStatus.Unchanged;
        var gain = up ? c - b : b - c;
        return gain < -allowed ? DiffStatus.Regressed : gain > allowed ? DiffStatus.Improved : DiffStatus.Unchanged;
    }
}
