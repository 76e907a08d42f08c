using System.CommandLine;
using System.Globalization;
using SaeBench.Reporting;
using SaeBench.Reporting.Figures;
using SaeBench.Reporting.Results;

namespace SaeBench.Cli.Commands;

/// <summary><c>saebench report RESULTS_DIR [--out DIR]</c>: rebuilds tables, figures and report.html from result files alone.</summary>
public static class ReportCommand
{
    public static Command Create(CliContext context)
    {
        var results = new Argument<string>("RESULTS_DIR") { Description = "Directory holding eval_results/ (shards in sub-directories are merged)." };
        var outDir = new Option<string?>("--out") { Description = "Output directory (default: RESULTS_DIR itself)." };
        var fvu = new Option<double>("--mdl-fvu-target")
        {
            Description = "The MDL-optimal checkpoint is the smallest description length among those with mdl.fvu at most this.",
            DefaultValueFactory = _ => MdlSelection.DefaultFvuTarget,
        };
        var noImages = new Option<bool>("--no-images") { Description = "Write the Vega-Lite specs only; draw no SVG/PNG." };
        var command = new Command("report",
            "Rebuild metrics_tidy.csv, metrics_wide.csv, summary.md, figures/ (Vega-Lite specs, SVG and 300-dpi PNG, drawn in " +
            "process) and report.html (self-contained, opens offline) from the result files under RESULTS_DIR. A malformed result " +
            "file is reported and skipped. Needs no Node.js.")
        {
            results, outDir, fvu, noImages,
        };
        command.SetAction(parse =>
        {
            var dir = Resolve(context, parse.GetValue(results)!);
            var output = parse.GetValue(outDir) is { } o ? Resolve(context, o) : dir;
            var target = parse.GetValue(fvu);
            if (!(target >= 0) || double.IsInfinity(target))
                throw new UserInputException($"--mdl-fvu-target must be a non-negative number (got {target.ToString(CultureInfo.InvariantCulture)})");
            var options = new ReportOptions(
                MdlFvuTarget: target,
                RenderImages: !parse.GetValue(noImages));
            var outcome = ReportBuilder.Build(dir, output, options, context.Error); // a bad results directory is bad input (exit 2)
            Print(context, outcome);
            return ExitCodes.Success;
        });
        return command;
    }

    internal static void Print(CliContext context, ReportOutcome outcome)
    {
        var r = outcome.Results;
        context.Out.WriteLine($"report: {r.Checkpoints.Count} checkpoint(s), {r.Results.Count} result file(s) → {outcome.OutputDirectory}");
        foreach (var w in outcome.Warnings) context.Error.WriteLine("warning: " + w);
        if (outcome.ImageNote is { } note)
            context.Out.WriteLine($"report: note: {note}");
        context.Out.WriteLine($"report: wrote {Path.Combine(outcome.OutputDirectory, ReportBuilder.Html)}, {ReportBuilder.Summary}, " +
                              $"{ReportBuilder.TidyCsv}, {ReportBuilder.WideCsv} and {outcome.Files.Count(f => f.StartsWith(ReportBuilder.FiguresFolder + "/", StringComparison.Ordinal))} figure file(s)");
    }

    internal static string Resolve(CliContext context, string path) => Path.GetFullPath(path, context.WorkingDirectory);
}
