using System.CommandLine;
using System.Globalization;
using SaeBench.Reporting.Comparison;
using SaeBench.Reporting.Results;

namespace SaeBench.Cli.Commands;

/// <summary><c>saebench compare BASELINE CANDIDATE [--tolerance X] [--out DIR]</c>: per checkpoint × metric diff of two runs;
/// exit 1 when anything regressed beyond tolerance (for nightly CI), 0 otherwise, 2 for bad input.</summary>
public static class CompareCommand
{
    public static Command Create(CliContext context)
    {
        var baseline = new Argument<string>("BASELINE") { Description = "Results directory of the reference run." };
        var candidate = new Argument<string>("CANDIDATE") { Description = "Results directory of the run to check." };
        var tolerance = new Option<double>("--tolerance")
        {
            Description = "Relative tolerance: a metric regressed when it moved in its worse direction by more than " +
                          "TOLERANCE x |baseline| + ABSOLUTE_TOLERANCE. 0 flags any worsening.",
            DefaultValueFactory = _ => ComparisonOptions.DefaultTolerance,
        };
        var absolute = new Option<double>("--absolute-tolerance")
        {
            Description = "Absolute part of the allowance (covers baselines at or near zero).",
            DefaultValueFactory = _ => ComparisonOptions.DefaultAbsoluteTolerance,
        };
        var outDir = new Option<string?>("--out") { Description = "Where comparison.md and comparison.json go (default: CANDIDATE/comparison)." };
        var command = new Command("compare",
            "Compare two runs checkpoint x evaluator x metric using each metric's higher-is-better direction (metrics with no " +
            "direction are informational). Lists checkpoints present in one run only. A job done in BASELINE and failed in " +
            "CANDIDATE or missing from it (checkpoint present in both), or a directional metric that became undefined, is a regression. Exit 1 when anything regressed, 0 otherwise, 2 for bad input.")
        {
            baseline, candidate, tolerance, absolute, outDir,
        };
        command.SetAction(parse =>
        {
            var tol = parse.GetValue(tolerance);
            var abs = parse.GetValue(absolute);
            if (!(tol >= 0) || double.IsInfinity(tol)) throw new UserInputException($"--tolerance must be a non-negative number (got {tol.ToString(CultureInfo.InvariantCulture)})");
            if (!(abs >= 0) || double.IsInfinity(abs)) throw new UserInputException($"--absolute-tolerance must be a non-negative number (got {abs.ToString(CultureInfo.InvariantCulture)})");
            var baseDir = ReportCommand.Resolve(context, parse.GetValue(baseline)!);
            var candDir = ReportCommand.Resolve(context, parse.GetValue(candidate)!);
            ResultSet b, c;
            b = ResultReader.Load(baseDir); // a missing or empty results directory is bad input (exit 2)
            c = ResultReader.Load(candDir);
            var cmp = RunComparer.Compare(b, c, new ComparisonOptions(tol, abs));
            var output = parse.GetValue(outDir) is { } o ? ReportCommand.Resolve(context, o) : Path.Combine(candDir, "comparison");
            var files = ComparisonWriter.Write(cmp, output);
            foreach (var p in b.Problems) context.Error.WriteLine($"warning: baseline {p}");
            foreach (var p in c.Problems) context.Error.WriteLine($"warning: candidate {p}");
            var regressions = cmp.Regressions.ToList();
            foreach (var m in regressions)
                context.Out.WriteLine($"REGRESSED {m.CheckpointId} {m.EvalTypeId}/{m.MetricId}: {Fmt(m.Baseline)} → {Fmt(m.Candidate)}");
            foreach (var s in cmp.StatusChanges.Where(s => s.IsRegression))
                context.Out.WriteLine($"REGRESSED {s.CheckpointId} {s.EvalTypeId}: {s.BaselineStatus} → {s.CandidateStatus}{(s.CandidateError is null ? "" : $" ({s.CandidateError})")}");
            foreach (var id in cmp.OnlyInBaseline) context.Out.WriteLine($"baseline only: {id}");
            foreach (var id in cmp.OnlyInCandidate) context.Out.WriteLine($"candidate only: {id}");
            context.Out.WriteLine($"compare: {cmp.Metrics.Count} metric(s) compared, {regressions.Count} regressed; wrote {string.Join(", ", files)}");
            return cmp.HasRegressions ? ExitCodes.Failed : ExitCodes.Success;
        });
        return command;
    }

    private static string Fmt(double? v) => v is { } d ? d.ToString("G6", CultureInfo.InvariantCulture) : "null";
}
