using SaeBench.TestKit;
using System.Text.Json;
using SaeBench.Reporting.Comparison;
using SaeBench.Reporting.Results;
using SaeBench.Reporting.Tests.Fixtures;
using static SaeBench.Reporting.Tests.Fixtures.ResultFiles;

namespace SaeBench.Reporting.Tests.Comparison;

public class RunComparerTests
{
    [Fact]
    public void Two_identical_runs_have_no_regression()
    {
        using var tmp = new TempDirectory();
        SmallRun.Write(tmp.Directory("a"));
        SmallRun.Write(tmp.Directory("b"));
        var cmp = RunComparer.Compare(ResultReader.Load(Path.Combine(tmp.Path, "a")), ResultReader.Load(Path.Combine(tmp.Path, "b")), new ComparisonOptions(0, 0));
        Assert.False(cmp.HasRegressions);
        Assert.All(cmp.Metrics, m => Assert.Equal(DiffStatus.Unchanged, m.Status));
        // 8 SAEs × (3 core + 1 probing + 2 mdl) + PCA × (3 core + 1 probing)
        Assert.Equal(8 * 6 + 4, cmp.Metrics.Count);
        Assert.Empty(cmp.OnlyInBaseline);
        Assert.Empty(cmp.OnlyInCandidate);
    }

    [Fact]
    public void A_planted_regression_is_flagged_and_written_to_both_reports()
    {
        using var tmp = new TempDirectory();
        var a = tmp.Directory("a");
        var b = tmp.Directory("b");
        SmallRun.Write(a);
        SmallRun.Write(b);
        var c = SmallRun.Saes.Single(s => s.Id == "topk-1024-l32");
        // explained variance 0.93 → 0.90 (worse, higher is better); MSE unchanged; L0 32 → 40 (no direction: informational)
        Write(b, "core", c, [L0(40), ExplainedVariance(0.90), LossRecovered(0.96)]);
        var cmp = RunComparer.Compare(ResultReader.Load(a), ResultReader.Load(b), new ComparisonOptions(Tolerance: 0.01));

        Assert.True(cmp.HasRegressions);
        var r = Assert.Single(cmp.Regressions);
        Assert.Equal(("topk-1024-l32", "core", "reconstruction_quality.explained_variance"), (r.CheckpointId, r.EvalTypeId, r.MetricId));
        Assert.Equal(-0.03, r.Delta!.Value, 12);
        var l0 = cmp.Metrics.Single(m => m.CheckpointId == "topk-1024-l32" && m.MetricId == "sparsity.l0");
        Assert.Equal(DiffStatus.Changed, l0.Status);

        var md = ComparisonWriter.Markdown(cmp);
        Assert.Contains("**REGRESSED**", md);
        Assert.Contains("| topk-1024-l32 | core | reconstruction_quality.explained_variance (fraction) | ↑ better | 0.93 | 0.9 | -0.03 |", md);
        using var doc = JsonDocument.Parse(ComparisonWriter.Json(cmp));
        Assert.True(doc.RootElement.GetProperty("regressed").GetBoolean());
        var regressed = doc.RootElement.GetProperty("metrics").EnumerateArray().Where(m => m.GetProperty("status").GetString() == "regressed").ToList();
        Assert.Equal("reconstruction_quality.explained_variance", Assert.Single(regressed).GetProperty("metric").GetString());
    }

    [Theory]
    // higher is better: relative 1 % of |0.5| + 0 absolute = 0.005 allowed
    [InlineData(0.5, 0.496, true, DiffStatus.Unchanged)]
    [InlineData(0.5, 0.494, true, DiffStatus.Regressed)]
    [InlineData(0.5, 0.506, true, DiffStatus.Improved)]
    // lower is better (e.g. description length): an increase is the worse direction
    [InlineData(200.0, 203.0, false, DiffStatus.Regressed)]
    [InlineData(200.0, 197.0, false, DiffStatus.Improved)]
    [InlineData(200.0, 201.0, false, DiffStatus.Unchanged)]
    // no direction: never a regression
    [InlineData(10.0, 1000.0, null, DiffStatus.Changed)]
    [InlineData(10.0, 10.05, null, DiffStatus.Unchanged)]
    public void Direction_and_relative_tolerance_decide(double b, double c, bool? higherIsBetter, DiffStatus expected)
    {
        Assert.Equal(expected, RunComparer.Classify(b, c, higherIsBetter, new ComparisonOptions(Tolerance: 0.01, AbsoluteTolerance: 0)));
    }

    [Fact]
    public void Absolute_tolerance_covers_a_zero_baseline_and_undefined_values_follow_direction()
    {
        var o = new ComparisonOptions(Tolerance: 0.01, AbsoluteTolerance: 0.001);
        Assert.Equal(DiffStatus.Unchanged, RunComparer.Classify(0, -0.0005, true, o));
        Assert.Equal(DiffStatus.Regressed, RunComparer.Classify(0, -0.002, true, o));
        Assert.Equal(DiffStatus.Regressed, RunComparer.Classify(0.9, null, true, o));
        Assert.Equal(DiffStatus.Changed, RunComparer.Classify(0.9, null, null, o));
        Assert.Equal(DiffStatus.Changed, RunComparer.Classify(null, 0.9, true, o));
        Assert.Equal(DiffStatus.Unchanged, RunComparer.Classify(null, null, true, o));
    }

    [Fact]
    public void Checkpoints_in_one_run_only_are_listed_and_a_newly_failed_job_is_a_regression()
    {
        using var tmp = new TempDirectory();
        var a = tmp.Directory("a");
        var b = tmp.Directory("b");
        var x = new Ckpt("x", "topk", 256);
        var y = new Ckpt("only-base", "topk", 256);
        var z = new Ckpt("only-cand", "relu", 256);
        Write(a, "core", x, [L0(10), ExplainedVariance(0.9)]);
        Write(a, "core", y, [L0(10)]);
        Write(b, "core", x, [], status: "failed", error: "NaN in decoder");
        Write(b, "core", z, [L0(10)]);
        var cmp = RunComparer.Compare(ResultReader.Load(a), ResultReader.Load(b), new ComparisonOptions());
        Assert.Equal(["only-base"], cmp.OnlyInBaseline);
        Assert.Equal(["only-cand"], cmp.OnlyInCandidate);
        var s = Assert.Single(cmp.StatusChanges);
        Assert.True(s.IsRegression);
        Assert.True(cmp.HasRegressions);
        Assert.All(cmp.Metrics, m => Assert.Equal(DiffStatus.Removed, m.Status));
        var md = ComparisonWriter.Markdown(cmp);
        Assert.Contains("- baseline only: `only-base`", md);
        Assert.Contains("- candidate only: `only-cand`", md);
        Assert.Contains("| x | core | done | failed | yes | NaN in decoder |", md);
    }

    [Fact]
    public void A_job_done_in_the_baseline_and_missing_from_the_candidate_is_a_regression()
    {
        using var tmp = new TempDirectory();
        var a = tmp.Directory("a");
        var b = tmp.Directory("b");
        var x = new Ckpt("x", "topk", 256);
        Write(a, "core", x, [L0(10), ExplainedVariance(0.9)]);
        Write(a, "mdl", x, [DescriptionLength(100)]);
        Write(b, "core", x, [L0(10), ExplainedVariance(0.9)]);
        var cmp = RunComparer.Compare(ResultReader.Load(a), ResultReader.Load(b), new ComparisonOptions());
        var s = Assert.Single(cmp.StatusChanges);
        Assert.Equal(("x", "mdl", "done", RunComparer.MissingStatus, true), (s.CheckpointId, s.EvalTypeId, s.BaselineStatus, s.CandidateStatus, s.IsRegression));
        Assert.True(cmp.HasRegressions);
    }
}
