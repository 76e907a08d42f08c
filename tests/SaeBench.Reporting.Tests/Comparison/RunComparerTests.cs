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
        var cmp = RunComparer.Compare(ResultReader.Load(Path.Combine(tmp.Path, "a")), ResultReader.Load(Path.Combine(tmp.Path, "b")), new ComparisonOptions(new TolerancePolicy(0, 0)));
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
        var cmp = RunComparer.Compare(ResultReader.Load(a), ResultReader.Load(b), new ComparisonOptions(new TolerancePolicy(0.01)));

        Assert.True(cmp.HasRegressions);
        var r = Assert.Single(cmp.Regressions);
        Assert.Equal(("topk-1024-l32", "core", "reconstruction_quality.explained_variance"), (r.CheckpointId, r.EvalTypeId, r.MetricId));
        Assert.Equal(-0.03, r.Delta!.Value, 12);
        var l0 = cmp.Metrics.Single(m => m.CheckpointId == "topk-1024-l32" && m.MetricId == "sparsity.l0");
        Assert.Equal(DiffStatus.Changed, l0.Status);

        var md = ComparisonWriter.Markdown(cmp);
        Assert.Contains("**REGRESSED**", md);
        Assert.Contains("| topk-1024-l32 | core/reconstruction_quality.explained_variance | 0.93 | 0.9 | -0.03 | 0.01 × |baseline| + 0.002 |", md.Replace("\\|", "|"));
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
        Assert.Equal(expected, RunComparer.Classify(b, c, higherIsBetter, new Tolerance(0.01, 0)));
    }

    [Fact]
    public void Absolute_tolerance_covers_a_zero_baseline_and_undefined_values_follow_direction()
    {
        var o = new Tolerance(0.01, 0.001);
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

    // ---- provenance: a change of what was measured is reported as such, never as metric regressions ----

    private static (string A, string B) TwoRuns(TempDirectory tmp, Action<System.Text.Json.Nodes.JsonObject>? candidateProvenance, bool worse = true)
    {
        var a = tmp.Directory("a");
        var b = tmp.Directory("b");
        SmallRun.Write(a);
        foreach (var c in SmallRun.Saes)
        {
            var v = SmallRun.Values[c.Id];
            // the candidate's numbers are all worse: with a changed provenance none of that may read as a regression
            double ev = worse ? v.Ev - 0.1 : v.Ev;
            Write(b, "core", c, [L0(v.L0), ExplainedVariance(ev), LossRecovered(v.Ce)], provenance: candidateProvenance);
        }
        return (a, b);
    }

    [Theory]
    [InlineData("seed", "seed")]
    [InlineData("model_hash", "model_hash (model and data)")]
    [InlineData("evaluator_version", "evaluator_version")]
    public void A_changed_seed_or_data_hash_makes_the_runs_incomparable_with_no_metric_regression(string field, string reported)
    {
        using var tmp = new TempDirectory();
        var (a, b) = TwoRuns(tmp, p => p[field] = field == "seed" ? 1 : "other");
        var cmp = RunComparer.Compare(ResultReader.Load(a), ResultReader.Load(b), new ComparisonOptions());
        Assert.True(cmp.Incomparable);
        Assert.Empty(cmp.Regressions);
        var change = Assert.Single(cmp.ProvenanceChanges);
        Assert.Equal((reported, true, 8), (change.Field, change.Incomparable, change.Jobs.Count));
        Assert.All(cmp.Metrics.Where(m => SmallRun.Saes.Any(s => s.Id == m.CheckpointId) && m.EvalTypeId == "core"),
            m => Assert.Equal(DiffStatus.Incomparable, m.Status));
        Assert.Contains("INCOMPARABLE", ComparisonWriter.Markdown(cmp));

        // explicitly allowed: the change is still listed and the metrics are judged
        var allowed = RunComparer.Compare(ResultReader.Load(a), ResultReader.Load(b), new ComparisonOptions(AllowProvenanceChange: true));
        Assert.False(allowed.Incomparable);
        Assert.Single(allowed.ProvenanceChanges);
        Assert.Equal(8, allowed.Regressions.Count());
    }

    [Fact]
    public void A_changed_code_version_is_listed_but_the_metrics_are_compared()
    {
        using var tmp = new TempDirectory();
        var (a, b) = TwoRuns(tmp, p => p["code_version"] = "asm:1111111111111111");
        var cmp = RunComparer.Compare(ResultReader.Load(a), ResultReader.Load(b), new ComparisonOptions());
        Assert.False(cmp.Incomparable);
        Assert.False(Assert.Single(cmp.ProvenanceChanges).Incomparable);
        Assert.Equal(8, cmp.Regressions.Count());
    }

    [Fact]
    public void A_tolerance_file_sets_per_metric_tolerances_by_glob_and_later_rules_win()
    {
        using var tmp = new TempDirectory();
        var (a, b) = TwoRuns(tmp, null);     // explained variance 0.1 lower everywhere
        var file = Path.Combine(tmp.Path, "tol.yaml");
        File.WriteAllText(file, """
            default: { relative: 0.0, absolute: 0.0 }
            metrics:
              "core/*": { absolute: 0.05 }
              "reconstruction_quality.explained_variance": { absolute: 0.2 }
            """);
        var policy = TolerancePolicy.Load(file);
        var cmp = RunComparer.Compare(ResultReader.Load(a), ResultReader.Load(b), new ComparisonOptions(policy));
        Assert.Empty(cmp.Regressions);
        var ev = cmp.Metrics.First(m => m.MetricId == "reconstruction_quality.explained_variance");
        Assert.Equal(new Tolerance(0, 0.2), ev.Tolerance);
        Assert.Equal(new Tolerance(0, 0.05), cmp.Metrics.First(m => m.MetricId == "model_performance_preservation.ce_loss_score").Tolerance);
        Assert.Equal(new Tolerance(0, 0), cmp.Metrics.First(m => m.EvalTypeId == "mdl").Tolerance);

        // the same file as JSON, with a tighter rule: now every explained variance regressed
        File.WriteAllText(file, """{ "metrics": { "*explained_variance": { "relative": 0.01, "absolute": 0.01 } } }""");
        var strict = RunComparer.Compare(ResultReader.Load(a), ResultReader.Load(b), new ComparisonOptions(TolerancePolicy.Load(file)));
        Assert.Equal(8, strict.Regressions.Count());
    }

    [Theory]
    [InlineData("metrics: [1, 2]", "metrics")]
    [InlineData("metrics: { \"core/*\": { relative: -1 } }", "metrics.core/*.relative")]
    [InlineData("tolerance: 1", "unknown key 'tolerance'")]
    public void A_bad_tolerance_file_is_bad_input_naming_the_file_and_field(string yaml, string expected)
    {
        using var tmp = new TempDirectory();
        var file = Path.Combine(tmp.Path, "tol.yaml");
        File.WriteAllText(file, yaml);
        var e = Assert.Throws<Core.Configuration.ConfigException>(() => TolerancePolicy.Load(file));
        Assert.Contains(file, e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void Default_tolerances_come_from_the_metric_descriptor()
    {
        var policy = new TolerancePolicy();
        Assert.Equal(new Tolerance(0.01, 0.002), policy.For("core", new Core.Evaluation.MetricDescriptor("r", "ev", "EV", "fraction", true)));
        Assert.Equal(new Tolerance(0.01, 1e-9), policy.For("mdl", new Core.Evaluation.MetricDescriptor("mdl", "bits", "DL", "bits/token", false)));
        Assert.Equal(new Tolerance(0.05, 1e-9), new TolerancePolicy(Relative: 0.05).For("mdl", new Core.Evaluation.MetricDescriptor("mdl", "bits", "DL", "bits/token", false)));
    }

    // ---- broken nightlies (issue 19, item 7) ----

    [Fact]
    public void A_deleted_or_non_numeric_metric_a_job_turned_not_applicable_and_a_flipped_direction_are_regressions()
    {
        using var tmp = new TempDirectory();
        var a = tmp.Directory("a");
        var b = tmp.Directory("b");
        var x = new Ckpt("x", "topk", 256);
        var y = new Ckpt("y", "topk", 256);
        Write(a, "core", x, [L0(10), ExplainedVariance(0.9), LossRecovered(0.9), Mse(0.1)]);
        Write(a, "mdl", x, [DescriptionLength(100)]);
        Write(a, "core", y, [L0(10)]);
        // candidate: loss recovered deleted, MSE turned into a string, explained variance now "lower is better", mdl not applicable
        var path = Write(b, "core", x, [L0(10), ExplainedVariance(0.9) with { HigherIsBetter = false }, Mse(0.1)]);
        File.WriteAllText(path, File.ReadAllText(path).Replace("\"mse\": 0.1", "\"mse\": \"0.1\""));
        Write(b, "mdl", x, [], status: "not_applicable", error: "no longer applies");
        Write(b, "core", y, [L0(10)]);
        var cmp = RunComparer.Compare(ResultReader.Load(a), ResultReader.Load(b), new ComparisonOptions());

        Assert.True(cmp.HasRegressions);
        var notes = cmp.Regressions.ToDictionary(r => r.MetricId, r => r.Note);
        Assert.Equal("deleted", notes["model_performance_preservation.ce_loss_score"]);
        Assert.Equal("not a number", notes["reconstruction_quality.mse"]);
        Assert.StartsWith("direction flipped", notes["reconstruction_quality.explained_variance"]);
        var na = Assert.Single(cmp.StatusChanges);
        Assert.Equal(("mdl", "done", "not_applicable", true), (na.EvalTypeId, na.BaselineStatus, na.CandidateStatus, na.IsRegression));
    }

    [Fact]
    public void The_markdown_stays_short_whatever_the_number_of_regressions()
    {
        using var tmp = new TempDirectory();
        var a = tmp.Directory("a");
        var b = tmp.Directory("b");
        for (int i = 0; i < 200; i++)
        {
            var c = new Ckpt($"c{i:D3}", "topk", 256);
            Write(a, "core", c, [ExplainedVariance(0.9)]);
            Write(b, "core", c, [ExplainedVariance(0.5)]);
        }
        var cmp = RunComparer.Compare(ResultReader.Load(a), ResultReader.Load(b), new ComparisonOptions());
        Assert.Equal(200, cmp.Regressions.Count());
        var md = ComparisonWriter.Markdown(cmp);
        Assert.True(md.Split('\n').Length < 60, $"{md.Split('\n').Length} lines");
        Assert.Contains("… and 175 more in `comparison.json`", md);
    }
}
