using System.CommandLine;
using SaeBench.Core.Configuration;
using SaeBench.Core.Running;
using SaeBench.Harness;
using SaeBench.Reporting;

namespace SaeBench.Cli.Commands;

/// <summary><c>saebench run</c>: parses the command line into a <see cref="RunRequest"/>, hands it to the run library
/// (<see cref="RunPipeline"/>) with progress displays, and turns the outcome into output and an exit code.</summary>
public static class RunCommand
{
    public static Command Create(CliContext context)
    {
        var config = new Option<string?>("--config") { Description = "Run configuration (YAML). Without it: the embedded default (Fashion-MNIST MLP, quick suite, every evaluator)." };
        var model = new Option<string?>("--model") { Description = "Override the model: fashion-mnist-mlp, synthetic, file:PATH[,labels=CSV], or hf:PATH[,hook=…][,processing=…][,context=N] (a local Hugging Face snapshot)." };
        var checkpoint = new Option<string[]>("--checkpoint")
        {
            Description = "Evaluate this checkpoint (a directory or file in any supported format); repeat for more. Replaces the config's " +
                          "checkpoints, so nothing is trained.",
            AllowMultipleArgumentsPerToken = false,
        };
        var evals = new Option<string?>("--evals") { Description = "Comma-separated evaluator ids to run (default: the config's, else all; see 'saebench list evals')." };
        var output = new Option<string?>("--out") { Description = "Output directory (default: the config's 'output', else results/)." };
        var force = new Option<bool>("--force") { Description = "Redo jobs whose result files already exist." };
        var shard = new Option<string?>("--shard")
        {
            Description = "Run only slice i of n of the plan (i/n, 1-based), or 'auto': from a Slurm job array (SLURM_ARRAY_TASK_ID, _MIN, _STEP, _COUNT) " +
                          "or a Kubernetes Indexed Job (JOB_COMPLETION_INDEX and SAEBENCH_SHARD_COUNT). Shards can share one output directory.",
        };
        var backend = new Option<string?>("--backend") { Description = "Compute backend: cpu (default), cpu-managed, cpu-openblas or cuda." };
        var seed = new Option<int?>("--seed") { Description = "Seed for every random choice (default: the config's, else 0)." };
        var batchRows = new Option<int>("--batch-rows") { Description = "Tokens per evaluation batch (memory ∝ batch × d_sae).", DefaultValueFactory = _ => 2048 };
        var noReport = new Option<bool>("--no-report") { Description = "Write result files and the manifest only; build tables and figures later with 'saebench report'." };
        var noImages = new Option<bool>("--no-images") { Description = "Write the Vega-Lite specs only; draw no SVG/PNG." };
        var allowMismatch = new Option<bool>("--allow-model-mismatch") { Description = "Run checkpoints whose recorded model name, hook or weight processing differ from the model under study (the width must still fit)." };

        var command = new Command("run", "Run every registered evaluator on every checkpoint and write SAEBench-compatible results, CSV tables, figures and report.html. " +
                                         "Everything is validated first: every problem is reported together, before anything is trained or loaded. " + ExitCodes.HelpText)
        {
            config, model, checkpoint, evals, output, force, shard, backend, seed, batchRows, noReport, noImages, allowMismatch,
        };
        command.SetAction((parse, cancellation) => Task.Run(() =>
        {
            var cfg = parse.GetValue(config) is { } path
                ? RunConfig.Load(context.Harness.Resolve(path))
                : RunConfig.Default(context.WorkingDirectory);
            if (parse.GetValue(model) is { } m) cfg = cfg with { Model = m };
            cfg = AdHocCheckpoints.Apply(cfg, parse.GetValue(checkpoint) ?? [], context.WorkingDirectory);
            if (parse.GetValue(output) is { } o) cfg = cfg with { Output = context.Harness.Resolve(o) };
            if (parse.GetValue(backend) is { } b) cfg = cfg with { Backend = b };
            if (parse.GetValue(seed) is { } s) cfg = cfg with { Seed = s };
            if (parse.GetValue(allowMismatch)) cfg = cfg with { AllowModelMismatch = true };
            if (parse.GetValue(evals) is { } list)
                cfg = cfg with { Evaluators = list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(id => new EvaluatorRequest(id, [])).ToList() };
            var request = new RunRequest(cfg)
            {
                Force = parse.GetValue(force),
                Shard = ShardSource.Resolve(parse.GetValue(shard), context.Environment),
                BatchRows = parse.GetValue(batchRows),
                BuildReport = !parse.GetValue(noReport),
                RenderImages = !parse.GetValue(noImages),
            };
            return Execute(context, request, cancellation);
        }, CancellationToken.None));
        return command;
    }

    public static int Execute(CliContext context, RunRequest request, CancellationToken cancellation)
    {
        var pipeline = new RunPipeline(context.Harness);
        var plan = pipeline.Validate(request);
        RunOutcome outcome;
        try
        {
            outcome = pipeline.Execute(plan, new HarnessDisplays(new RunProgressDisplay(context), new TrainingProgressDisplay(context)), cancellation);
        }
        catch (OperationCanceledException) when (cancellation.IsCancellationRequested)
        {
            // Stopped before any job ran (while training the suite or loading the model): trained members are kept.
            context.Error.WriteLine("interrupted before any evaluation: suite members trained so far are kept in the cache; " +
                                    "nothing was evaluated and no manifest was written. Run the same command again to resume.");
            return ExitCodes.Interrupted;
        }
        var manifest = outcome.Manifest;
        var outDir = outcome.OutputDirectory;

        context.Out.WriteLine($"done {manifest.Done.Count}, skipped {manifest.Skipped.Count} (same job key), not applicable {manifest.NotApplicable.Count}, " +
                              $"failed {manifest.Failed.Count} of {manifest.Planned.Count} jobs → {outDir}");
        foreach (var f in manifest.Failed) context.Error.WriteLine($"failed: {f.Job.EvalTypeId} on {f.Job.CheckpointId}: {f.Error}");
        if (manifest.Interrupted)
        {
            context.Error.WriteLine($"interrupted: {manifest.Done.Count} job(s) finished in this run, {manifest.Skipped.Count} were already done, " +
                                    $"{manifest.Planned.Count - manifest.Done.Count - manifest.Skipped.Count - manifest.Failed.Count - manifest.NotApplicable.Count} not run.");
            foreach (var g in manifest.Done.GroupBy(j => j.CheckpointId))
                context.Error.WriteLine($"  finished: {g.Key}: {string.Join(", ", g.Select(j => j.EvalTypeId))}");
            context.Error.WriteLine($"The results and {Core.Results.RunManifest.FileName(request.Shard.Index, request.Shard.Count)} are in {outDir}; " +
                                    "run the same command again to resume (finished jobs are skipped).");
            return ExitCodes.Interrupted;
        }
        if (outcome.Report is { } report)
        {
            foreach (var w in report.Warnings) context.Error.WriteLine("report: " + w);
            if (report.ImageNote is not null) context.Error.WriteLine("report: " + report.ImageNote);
            context.Out.WriteLine($"report: {Path.Combine(outDir, ReportBuilder.Html)}");
        }
        else if (outcome.ReportError is { } error)
        {
            context.Error.WriteLine($"report: could not be built ({error}); rebuild with 'saebench report {outDir}'.");
            return ExitCodes.Failed;
        }
        else if (request.Shard.Count > 1)
        {
            context.Out.WriteLine($"shard {request.Shard}: when every shard is done, build the tables with 'saebench report {outDir}'.");
        }
        return manifest.Succeeded ? ExitCodes.Success : ExitCodes.Failed;
    }
}
