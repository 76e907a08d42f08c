using System.CommandLine;
using System.Globalization;
using SaeBench.Core.Configuration;
using SaeBench.Harness;
using SaeBench.Reporting.Findings;
using SaeBench.Reporting.Figures;

namespace SaeBench.Cli.Commands;

/// <summary><c>saebench paper [--out DIR]</c>: train the paper suite, evaluate it and write DIR/findings.md — the three
/// papers' headline claims, each with its numbers, spread over seeds and a verdict.</summary>
public static class PaperCommand
{
    public static Command Create(CliContext context)
    {
        var output = new Option<string>("--out") { Description = "Output directory (results, report and findings.md).", DefaultValueFactory = _ => "paper" };
        var model = new Option<string?>("--model") { Description = "Model under study (default: the embedded default, fashion-mnist-mlp)." };
        var suite = new Option<string>("--suite") { Description = "The suite to train: 'paper' (default) or a suite YAML file with the same tags (a smaller grid).", DefaultValueFactory = _ => "paper" };
        var backend = new Option<string?>("--backend") { Description = "Compute backend: cpu (default), cpu-managed, cpu-openblas or cuda." };
        var fvu = new Option<double>("--mdl-fvu-target") { Description = "The distortion target of the MDL claim: an SAE counts when its FVU is at most this.", DefaultValueFactory = _ => MdlSelection.DefaultFvuTarget };
        var noImages = new Option<bool>("--no-images") { Description = "Write the Vega-Lite specs only; draw no SVG/PNG." };
        var command = new Command("paper", "Reproduce (or not) the three papers' headline findings on the model: train the 'paper' suite, evaluate it " +
                                           "(core, absorption, mdl) and write DIR/findings.md with its figures. " + ExitCodes.HelpText)
        {
            output, model, suite, backend, fvu, noImages,
        };
        command.SetAction((parse, cancellation) => Task.Run(() =>
        {
            double target = parse.GetValue(fvu);
            if (!(target > 0 && target < 1)) throw new UserInputException($"--mdl-fvu-target: {target} must be in (0, 1).");
            var cfg = RunConfig.Default(context.WorkingDirectory);
            if (parse.GetValue(model) is { } m) cfg = cfg with { Model = m };
            if (parse.GetValue(backend) is { } b) cfg = cfg with { Backend = b };
            string suiteName = parse.GetValue(suite)!;
            if (Training.Suites.BuiltInSuites.TryGet(suiteName) is null) suiteName = context.Harness.Resolve(suiteName);
            cfg = PaperPipeline.Configure(cfg, context.Harness.Resolve(parse.GetValue(output)!), suiteName, target);
            var request = new RunRequest(cfg) { RenderImages = !parse.GetValue(noImages) };
            var outcome = new PaperPipeline(context.Harness).Run(request, target,
                new HarnessDisplays(new RunProgressDisplay(context), new TrainingProgressDisplay(context)), cancellation);
            if (outcome.Interrupted)
            {
                context.Error.WriteLine($"interrupted: {outcome.Run.Manifest.Done.Count} evaluation(s) finished and are kept in {outcome.Run.OutputDirectory}; " +
                                        $"no {PaperPipeline.FindingsFile} was written (it needs the whole suite). Run the same command again to resume.");
                return ExitCodes.Interrupted;
            }
            foreach (var w in outcome.Warnings) context.Error.WriteLine("paper: " + w);
            foreach (var c in outcome.Findings!.Claims)
                context.Out.WriteLine($"({c.Id}) {c.Title}: {PaperFindingsBuilder.VerdictText(c.Verdict)}");
            context.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"findings: {outcome.FindingsPath} ({outcome.WallTime.TotalMinutes:0.0} min)"));
            return outcome.Run.Succeeded ? ExitCodes.Success : ExitCodes.Failed;
        }, CancellationToken.None));
        return command;
    }
}
