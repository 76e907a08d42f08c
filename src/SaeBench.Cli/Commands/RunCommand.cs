using System.CommandLine;
using System.Reflection;
using SaeBench.Compute.Backends;
using SaeBench.Core.Checkpoints;
using SaeBench.Core.Configuration;
using SaeBench.Core.Evaluation;
using SaeBench.Core.Models;
using SaeBench.Core.Registry;
using SaeBench.Core.Running;
using SaeBench.Evals;
using SaeBench.Models;
using SaeBench.Reporting;

namespace SaeBench.Cli.Commands;

/// <summary><c>saebench run</c>: every evaluator on every checkpoint, then tables, figures and the report.</summary>
public static class RunCommand
{
    /// <summary>The harness's version: the assemblies whose code can change a number (compute, core, models, training, evaluators).</summary>
    public static HarnessVersion Harness { get; } = HarnessVersion.Of([
        typeof(ComputeBackend).Assembly, typeof(Runner).Assembly, typeof(ModelCatalog).Assembly,
        typeof(Training.SaeTrainer).Assembly, typeof(EvaluatorRegistry).Assembly]);

    public static Command Create(CliContext context)
    {
        var config = new Option<string?>("--config") { Description = "Run configuration (YAML). Without it: the embedded default (Fashion-MNIST MLP, quick suite, every evaluator)." };
        var model = new Option<string?>("--model") { Description = "Override the model: fashion-mnist-mlp, synthetic, or file:PATH[,labels=CSV]." };
        var evals = new Option<string?>("--evals") { Description = "Comma-separated evaluator ids to run (default: the config's, else all; see 'saebench list evals')." };
        var output = new Option<string?>("--out") { Description = "Output directory (default: the config's 'output', else results/)." };
        var force = new Option<bool>("--force") { Description = "Redo jobs whose result files already exist." };
        var shard = new Option<string?>("--shard") { Description = "Run only slice i of n of the plan (i/n, 1-based); shards can share one output directory." };
        var backend = new Option<string?>("--backend") { Description = "Compute backend: cpu (default), cpu-managed, cpu-openblas or cuda." };
        var seed = new Option<int?>("--seed") { Description = "Seed for every random choice (default: the config's, else 0)." };
        var batchRows = new Option<int>("--batch-rows") { Description = "Tokens per evaluation batch (memory ∝ batch × d_sae).", DefaultValueFactory = _ => 2048 };
        var noReport = new Option<bool>("--no-report") { Description = "Write result files and the manifest only; build tables and figures later with 'saebench report'." };
        var noImages = new Option<bool>("--no-images") { Description = "Skip SVG/PNG rendering (no Node.js needed)." };

        var command = new Command("run", "Run every registered evaluator on every checkpoint and write SAEBench-compatible results, CSV tables, figures and report.html. " + ExitCodes.HelpText)
        {
            config, model, evals, output, force, shard, backend, seed, batchRows, noReport, noImages,
        };
        command.SetAction((parse, cancellation) => Task.Run(() =>
        {
            var cfg = parse.GetValue(config) is { } path
                ? Guard(() => RunConfig.Load(Path.GetFullPath(Path.Combine(context.WorkingDirectory, path))))
                : RunConfig.Default(context.WorkingDirectory);
            if (parse.GetValue(model) is { } m) cfg = cfg with { Model = m };
            if (parse.GetValue(output) is { } o) cfg = cfg with { Output = Path.GetFullPath(Path.Combine(context.WorkingDirectory, o)) };
            if (parse.GetValue(backend) is { } b) cfg = cfg with { Backend = b };
            if (parse.GetValue(seed) is { } s) cfg = cfg with { Seed = s };
            if (parse.GetValue(evals) is { } list)
                cfg = cfg with { Evaluators = list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(id => new EvaluatorRequest(id, [])).ToList() };
            var request = new RunRequest(cfg, parse.GetValue(force), ParseShard(parse.GetValue(shard)), parse.GetValue(batchRows),
                !parse.GetValue(noReport), !parse.GetValue(noImages));
            return Execute(context, request, cancellation);
        }, CancellationToken.None));
        return command;
    }

    /// <summary>What <c>run</c> was asked to do, after the config file and the command line are merged.</summary>
    public sealed record RunRequest(RunConfig Config, bool Force, Shard Shard, int BatchRows, bool BuildReport, bool RenderImages);

    public static int Execute(CliContext context, RunRequest request, CancellationToken cancellation)
    {
        var cfg = request.Config;
        if (request.BatchRows < 1) throw new UserInputException($"--batch-rows must be positive (got {request.BatchRows}).");

        // Validate everything before any compute: evaluators and their options, backend, model, checkpoints.
        var registry = EvaluatorRegistry.BuiltIn();
        var planned = Guard(() => (cfg.Evaluators ?? registry.Select(e => new EvaluatorRequest(e.Info.Id, [])).ToList())
            .Select(r =>
            {
                var ev = EvaluatorRegistry.Find(registry, r.Id);
                return new PlannedEvaluator(ev, ev.ParseOptions(r.Options));
            }).ToList());
        var backend = CreateBackend(context, cfg.Backend);
        var modelOptions = Guard(() => ModelOptionsFrom(context, cfg));
        var model = ModelsCommand.Open(ModelSpec(cfg), modelOptions);
        var checkpoints = ResolveCheckpoints(context, cfg, model, backend, cancellation);
        if (checkpoints.Count == 0) throw new UserInputException($"{cfg.Source}: no checkpoints to evaluate.");

        var outDir = cfg.Resolve(cfg.Output);
        var settings = new RunSettings(outDir, backend, Harness, context.Clock)
        {
            Shard = request.Shard,
            Force = request.Force,
            Seed = cfg.Seed,
            BatchRows = request.BatchRows,
            ReleaseId = cfg.Checkpoints is null ? "suite:" + cfg.Suite : "custom",
        };
        context.Error.WriteLine($"run: model {model.Info.Id} ({model.Info.Hook}, d_model {model.Info.DModel}), {checkpoints.Count} checkpoints × {planned.Count} evaluators, backend {backend.Description}, output {outDir}");

        var manifest = RunProgress.Show(context, observer => Guard(() => new Runner(settings, observer).Run(checkpoints, planned, model, cancellation)));

        context.Out.WriteLine($"done {manifest.Done.Count}, skipped {manifest.Skipped.Count} (same job key), not applicable {manifest.NotApplicable.Count}, failed {manifest.Failed.Count} of {manifest.Planned.Count} jobs → {outDir}");
        foreach (var f in manifest.Failed) context.Error.WriteLine($"failed: {f.Job.EvalTypeId} on {f.Job.CheckpointId}: {f.Error}");
        if (manifest.Interrupted)
        {
            context.Error.WriteLine("interrupted: finished jobs are kept; run the same command again to resume.");
            return ExitCodes.Interrupted;
        }

        if (request.BuildReport && request.Shard.Count == 1)
        {
            try
            {
                var outcome = ReportBuilder.Build(outDir, outDir, new ReportOptions(RenderImages: request.RenderImages), context.Error);
                foreach (var w in outcome.Warnings) context.Error.WriteLine("report: " + w);
                if (outcome.ImageNote is not null) context.Error.WriteLine("report: " + outcome.ImageNote);
                context.Out.WriteLine($"report: {Path.Combine(outDir, ReportBuilder.Html)}");
            }
            catch (Exception e) when (e is IOException or InvalidOperationException or Reporting.Results.ResultsInputException)
            {
                context.Error.WriteLine($"report: could not be built ({e.Message}); rebuild with 'saebench report {outDir}'.");
                return ExitCodes.Failed;
            }
        }
        else if (request.Shard.Count > 1)
        {
            context.Out.WriteLine($"shard {request.Shard}: when every shard is done, build the tables with 'saebench report {outDir}'.");
        }
        return manifest.Succeeded ? ExitCodes.Success : ExitCodes.Failed;
    }

    private static Shard ParseShard(string? text)
    {
        if (text is null) return Shard.All;
        try { return Shard.Parse(text); }
        catch (FormatException e) { throw new UserInputException(e.Message); }
    }

    private static string ModelSpec(RunConfig cfg) => cfg.Model switch
    {
        "file" => "file:" + cfg.Resolve(cfg.Activations!) + (cfg.Labels is null ? "" : ",labels=" + cfg.Resolve(cfg.Labels)),
        var m when m.StartsWith("file:", StringComparison.Ordinal) => m,
        var m => m,
    };

    private static ModelOptions ModelOptionsFrom(CliContext context, RunConfig cfg)
    {
        var options = ModelsCommand.Options(context) with { WorkingDirectory = cfg.BaseDirectory };
        foreach (var (key, value) in cfg.ModelOptions)
        {
            options = key switch
            {
                "hook" => options with { Hook = value?.GetValue<string>() },
                "forget_class" => options with { ForgetClass = value?.ToString() },
                "cache_activations" => options with { CacheActivations = value?.GetValue<bool>() ?? true },
                _ => throw new ConfigException($"{cfg.Source}: model_options: " + Suggest.UnknownName("model option", key, ["hook", "forget_class", "cache_activations"])),
            };
        }
        return options;
    }

    public static ComputeBackend CreateBackend(CliContext context, string name)
    {
        switch (name.Trim().ToLowerInvariant())
        {
            case "cpu":
                return CheckpointCommandSupport.Backend(context);
            case "cpu-managed":
                return CheckpointCommandSupport.Backend(context, "managed");
            case "cpu-openblas":
                return CheckpointCommandSupport.Backend(context, "openblas");
            case "cuda":
                return CudaBackend.TryCreate(out var cuda, out var reason) ? cuda! : throw new UserInputException(reason);
            default:
                throw new UserInputException(Suggest.UnknownName("backend", name, ["cpu", "cpu-managed", "cpu-openblas", "cuda"]));
        }
    }

    private static IReadOnlyList<RunCheckpoint> ResolveCheckpoints(CliContext context, RunConfig cfg, IModelUnderStudy model, ComputeBackend backend, CancellationToken cancellation)
    {
        if (cfg.Checkpoints is null)
            return SuiteCheckpoints.Ensure(context, cfg, model, backend, cancellation);
        var registry = Guard(() => CheckpointRegistry.FromNode(cfg.Checkpoints, cfg.BaseDirectory, cfg.Source));
        var digests = CheckpointCommandSupport.Digests(context, cfg.BaseDirectory);
        var resolution = registry.Resolve(digests);
        foreach (var d in resolution.Diagnostics) context.Error.WriteLine(d.ToString());
        if (resolution.Diagnostics.Any(d => d.Severity == RegistrySeverity.Error))
            throw new UserInputException($"{cfg.Source}: the checkpoints section has errors (above); fix them or remove those entries.");
        return resolution.Entries.Select(e => ToRunCheckpoint(e, digests)).ToList();
    }

    /// <summary>The runner's view of a registered checkpoint; hash and scan go through <paramref name="digests"/>.</summary>
    public static RunCheckpoint ToRunCheckpoint(CheckpointEntry e, CheckpointDigestCache digests) =>
        new(e.Id, e.Path, e.Tags, () => e.Sha256, () => CheckpointLoader.Load(e.Path, new LoadOptions(Digests: digests)));

    internal static T Guard<T>(Func<T> body)
    {
        try
        {
            return body();
        }
        catch (ConfigException e)
        {
            throw new UserInputException(e.Message, e);
        }
        catch (Core.Checkpoints.CheckpointFormatException e)
        {
            throw new UserInputException(e.Message, e);
        }
    }
}
