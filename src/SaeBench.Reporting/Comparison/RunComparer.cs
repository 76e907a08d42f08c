using SaeBench.Core.Evaluation;
using SaeBench.Core.Results;
using SaeBench.Reporting.Results;

namespace SaeBench.Reporting.Comparison;

/// <summary>How much a metric may move in its worse direction before it counts as a regression:
/// more than <c>Tolerance × |baseline| + AbsoluteTolerance</c> (the relative part scales with the metric,
/// the absolute part covers baselines at or near zero). Both 0 = any worsening is a regression.</summary>
public sealed record ComparisonOptions(double Tolerance = ComparisonOptions.DefaultTolerance, double AbsoluteTolerance = ComparisonOptions.DefaultAbsoluteTolerance)
{
    public const double DefaultTolerance = 0.01;
    public const double DefaultAbsoluteTolerance = 1e-9;

    /// <summary>The largest change that still counts as unchanged, for a given baseline value.</summary>
    public double Allowed(double baseline) => Tolerance * Math.Abs(baseline) + AbsoluteTolerance;
}

/// <summary>What happened to one metric between two runs.</summary>
public enum DiffStatus
{
    /// <summary>Within tolerance, or undefined in both.</summary>
    Unchanged,
    /// <summary>Moved in its better direction beyond tolerance.</summary>
    Improved,
    /// <summary>Moved in its worse direction beyond tolerance, or became undefined (metrics with a direction only).</summary>
    Regressed,
    /// <summary>A metric with no direction that moved beyond tolerance, or became (un)defined: informational, never a regression.</summary>
    Changed,
    /// <summary>The metric is in the candidate only.</summary>
    Added,
    /// <summary>The metric is in the baseline only (its evaluator or the metric was not in the candidate).</summary>
    Removed,
}

/// <summary>One checkpoint × evaluator metric in both runs.</summary>
public sealed record MetricDiff(
    string CheckpointId,
    string EvalTypeId,
    string MetricId,
    string DisplayName,
    string? Unit,
    bool? HigherIsBetter,
    double? Baseline,
    double? Candidate,
    DiffStatus Status)
{
    /// <summary>Candidate − baseline, when both are defined.</summary>
    public double? Delta => Baseline is { } b && Candidate is { } c ? c - b : null;
}

/// <summary>A job whose status differs between the runs (e.g. done → failed, which is a regression).</summary>
public sealed record StatusChange(string CheckpointId, string EvalTypeId, string BaselineStatus, string CandidateStatus, string? CandidateError, bool IsRegression);

/// <summary>The diff of two runs.</summary>
public sealed record RunComparison(
    string BaselineRoot,
    string CandidateRoot,
    ComparisonOptions Options,
    IReadOnlyList<MetricDiff> Metrics,
    IReadOnlyList<StatusChange> StatusChanges,
    IReadOnlyList<string> OnlyInBaseline,
    IReadOnlyList<string> OnlyInCandidate,
    IReadOnlyList<ResultProblem> BaselineProblems,
    IReadOnlyList<ResultProblem> CandidateProblems)
{
    public IEnumerable<MetricDiff> Regressions => Metrics.Where(m => m.Status == DiffStatus.Regressed);

    /// <summary>True when any metric regressed beyond tolerance, or any job done in the baseline failed or has no result in
    /// the candidate (for a checkpoint both runs have).</summary>
    public bool HasRegressions => Regressions.Any() || StatusChanges.Any(s => s.IsRegression);
}

/// <summary>Compares two runs checkpoint × evaluator × metric, using each metric's higher-is-better direction.</summary>
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
                        IsRegression: b.Status == JobStatus.Done && c.Status == JobStatus.Failed));
                else if (b is { Status: JobStatus.Done } && c is null)
                    // The checkpoint is in both runs but this evaluation has no readable result in the candidate: a
                    // broken nightly run must not pass as "metrics removed".
                    statuses.Add(new StatusChange(id, eval, JobStatuses.Name(b.Status), MissingStatus, null, IsRegression: true));
                var metricIds = (b?.Metrics ?? []).Concat(c?.Metrics ?? []).Select(m => m.Descriptor.Id).Distinct();
                foreach (var metricId in metricIds)
                {
                    var bm = b?.Find(metricId);
                    var cm = c?.Find(metricId);
                    var d = (cm ?? bm)!.Descriptor;
                    var status = bm is null ? DiffStatus.Added
                        : cm is null ? DiffStatus.Removed
                        : Classify(bm.Value, cm.Value, d.HigherIsBetter, options);
                    diffs.Add(new MetricDiff(id, eval, metricId, d.DisplayName, d.Unit, d.HigherIsBetter, bm?.Value, cm?.Value, status));
                }
            }
        }
        return new RunComparison(baseline.Root, candidate.Root, options, diffs, statuses,
            baseIds.Except(candIds).Order(StringComparer.Ordinal).ToList(),
            candIds.Except(baseIds).Order(StringComparer.Ordinal).ToList(),
            baseline.Problems, candidate.Problems);
    }

    /// <summary>The rule, documented on <see cref="ComparisonOptions"/> and <see cref="DiffStatus"/>.</summary>
    public static DiffStatus Classify(double? baseline, double? candidate, bool? higherIsBetter, ComparisonOptions options)
    {
        if (baseline is null && candidate is null) return DiffStatus.Unchanged;
        if (baseline is null) return DiffStatus.Changed;
        if (candidate is null) return higherIsBetter is null ? DiffStatus.Changed : DiffStatus.Regressed;
        double b = baseline.Value, c = candidate.Value;
        if (double.IsNaN(b) || double.IsNaN(c)) return b.Equals(c) ? DiffStatus.Unchanged : higherIsBetter is null ? DiffStatus.Changed : DiffStatus.Regressed;
        var allowed = options.Allowed(b);
        if (higherIsBetter is not { } up)
            return Math.Abs(c - b) > allowed ? DiffStatus.Changed : DiffStatus.Unchanged;
        var gain = up ? c - b : b - c;
        return gain < -allowed ? DiffStatus.Regressed : gain > allowed ? DiffStatus.Improved : DiffStatus.Unchanged;
    }
}
