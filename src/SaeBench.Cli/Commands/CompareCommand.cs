using System.CommandLine;
using System.Globalization;
using SaeBench.Reporting.Comparison;
using SaeBench.Reporting.Results;

namespace SaeBench.Cli.Commands;

/// <summary><c>saebench compare BASELINE CANDIDATE [--tolerances FILE] [--allow-provenance-change]</c>: checks that both
/// runs measured the same things the same way (provenance), then diffs every checkpoint × evaluator × metric. Exit 0 no
/// regression, 1 regression, 2 incomparable runs (a provenance change not allowed) or bad input.</summary>
public static class CompareCommand
{
    public static Command Create(CliContext context)
    {
        var baseline = new Argument<string>("BASELINE") { Description = "Results directory of the reference run." };
        var candidate = new Argument<string>("CANDIDATE") { Description = "Results directory of the run to check." };
        var tolerance = new Option<double?>("--tolerance")
        {
            Description = "Relative tolerance for every metric (default: 0.01, or the tolerance file's): a metric regressed when it moved in its " +
                          "worse direction by more than RELATIVE x |baseline| + ABSOLUTE. 0 with --absolute-tolerance 0 flags any worsening.",
        };
        var absolute = new Option<double?>("--absolute-tolerance")
        {
            Description = "Absolute part of the allowance for every metric (default from each metric's unit: 0.002 for fractions, cosines " +
                          "and ratios, else 1e-9; or the tolerance file's).",
        };
        var file = new Option<string?>("--tolerances")
        {
            Description = "YAML or JSON file of per-metric tolerances: 'default: {relative, absolute}' and 'metrics: {PATTERN: {relative, absolute}}', " +
                          "PATTERN a glob over eval_type_id/category.name or category.name; later patterns win.",
        };
        var allow = new Option<bool>("--allow-provenance-change")
        {
            Description = "Compare metrics even when the model or data hash, a checkpoint hash, the seed, an evaluator's version or options " +
                          "differ (the changes are still listed); without it such runs are incomparable (exit 2).",
        };
        var outDir = new Option<string?>("--out") { Description = "Where comparison.md and comparison.json go (default: CANDIDATE/comparison)." };
        var command = new Command("compare",
            "Compare two runs for nightly CI. First provenance: a changed model or data hash, checkpoint hash, seed, evaluator version " +
            "or options makes the runs incomparable (reported as such, never as metric regressions; exit 2 unless " +
            "--allow-provenance-change); a changed code version is listed and the metrics compared. Then every checkpoint x " +
            "evaluator x metric with its higher-is-better direction: a move beyond tolerance in the worse direction, a metric that " +
            "became undefined, was deleted, turned non-numeric or had its direction flipped, and a job done in BASELINE that is " +
            "failed, not applicable or missing in CANDIDATE are regressions. Writes comparison.md (short, for a CI summary) and " +
            "comparison.json. Exit 0 no regression, 1 regression, 2 incomparable runs or bad input.")
        {
            baseline, candidate, tolerance, absolute, file, allow, outDir,
        };
        command.SetAction(parse =>
        {
            var tol = parse.GetValue(tolerance);
            var abs = parse.GetValue(absolute);
            if (tol is { } t && (!(t >= 0) || double.IsInfinity(t))) throw new UserInputException($"--tolerance must be a non-negative number (got {t.ToString(CultureInfo.InvariantCulture)})");
            if (abs is { } a && (!(a >= 0) || double.IsInfinity(a))) throw new UserInputException($"--absolute-tolerance must be a non-negative number (got {a.ToString(CultureInfo.InvariantCulture)})");
            var policy = parse.GetValue(file) is { } path
                ? TolerancePolicy.Load(ReportCommand.Resolve(context, path), tol, abs)
                : new TolerancePolicy(tol, abs);
            var baseDir = ReportCommand.Resolve(context, parse.GetValue(baseline)!);
            var candDir = ReportCommand.Resolve(context, parse.GetValue(candidate)!);
            ResultSet b = ResultReader.Load(baseDir); // a missing or empty results directory is bad input (exit 2)
            ResultSet c = ResultReader.Load(candDir);
            var cmp = RunComparer.Compare(b, c, new ComparisonOptions(policy, parse.GetValue(allow)));
            var output = parse.GetValue(outDir) is { } o ? ReportCommand.Resolve(context, o) : Path.Combine(candDir, "comparison");
            var files = ComparisonWriter.Write(cmp, output);
            foreach (var p in b.Problems) context.Error.WriteLine($"warning: baseline {p}");
            foreach (var p in c.Problems) context.Error.WriteLine($"warning: candidate {p}");
            foreach (var p in cmp.ProvenanceChanges)
                context.Out.WriteLine($"PROVENANCE {p.Field}: {p.Baseline} → {p.Candidate} ({p.Jobs.Count} result(s){(p.Incomparable ? ", makes the runs incomparable" : "")})");
            var regressions = cmp.Regressions.ToList();
            foreach (var m in regressions)
                context.Out.WriteLine($"REGRESSED {m.CheckpointId} {m.EvalTypeId}/{m.MetricId}: {Fmt(m.Baseline)} → {Fmt(m.Candidate)}{(m.Note is null ? "" : $" ({m.Note})")}");
            foreach (var s in cmp.StatusChanges.Where(s => s.IsRegression))
                context.Out.WriteLine($"REGRESSED {s.CheckpointId} {s.EvalTypeId}: {s.BaselineStatus} → {s.CandidateStatus}{(s.CandidateError is null ? "" : $" ({s.CandidateError})")}");
            foreach (var id in cmp.OnlyInBaseline) context.Out.WriteLine($"baseline only: {id}");
            foreach (var id in cmp.OnlyInCandidate) context.Out.WriteLine($"candidate only: {id}");
            context.Out.WriteLine($"compare: {ComparisonWriter.Verdict(cmp)}: {cmp.Metrics.Count} metric(s), {regressions.Count} regressed, " +
                                  $"{cmp.Metrics.Count(m => m.Status == DiffStatus.Incomparable)} not compared; wrote {string.Join(", ", files)}");
            if (cmp.Incomparable)
            {
                context.Error.WriteLine("compare: the runs are not comparable (provenance changed, listed above); re-baseline, or pass --allow-provenance-change to compare anyway.");
                return ExitCodes.BadInput;
            }
            return cmp.HasRegressions ? ExitCodes.Failed : ExitCodes.Success;
        });
        return command;
    }

    private static string Fmt(double? v) => v is { } d ? d.ToString("G6", CultureInfo.InvariantCulture) : "null";
}
