using System.Text.Json.Nodes;
using SaeBench.Compute.Backends;
using SaeBench.Core;
using SaeBench.Core.Checkpoints;
using SaeBench.Core.Configuration;
using SaeBench.Core.Evaluation;
using SaeBench.Core.Models;
using SaeBench.Core.Registry;
using SaeBench.Core.Results;
using SaeBench.Core.Running;
using SaeBench.Evals;
using SaeBench.Models;
using SaeBench.Reporting;
using SaeBench.Training.Suites;

namespace SaeBench.Harness;

/// <summary>
/// The harness as a library: plan → validate → resolve the model and the checkpoints (training a suite if the
/// configuration names no checkpoints) → run every job → report. <see cref="Validate"/> is complete: it reports every
/// problem it can find together (unknown evaluators, bad options, an unavailable backend, a bad model spec, missing
/// checkpoints, a bad suite) in one <see cref="ValidationException"/>, before any model is built or trained and before
/// any checkpoint is loaded. A test or a notebook calls <see cref="Run"/>; the CLI adds parsing, displays and exit codes.
/// </summary>
public sealed class RunPipeline(HarnessEnvironment environment)
{
    /// <summary>The harness's version: the assemblies whose code can change a number.</summary>
    public static HarnessVersion Version { get; } = HarnessVersion.Of([
        typeof(ComputeBackend).Assembly, typeof(Runner).Assembly, typeof(ModelCatalog).Assembly,
        typeof(Training.SaeTrainer).Assembly, typeof(EvaluatorRegistry).Assembly]);

    /// <summary>Model option keys a configuration's <c>model_options</c> may use.</summary>
    public static IReadOnlyList<string> ModelOptionKeys { get; } =
        ["hook", "forget_class", "cache_activations", "allow_non_finite", .. Models.LanguageModels.HfModelSpec.Keys.Where(k => k != "hook")];

    public RunOutcome Run(RunRequest request, HarnessDisplays? displays = null, CancellationToken cancellation = default) =>
        Execute(Validate(request), displays, cancellation);

    /// <summary>Checks everything a request names, reporting every problem at once (<see cref="ValidationException"/>).
    /// Builds and trains nothing and loads no checkpoint.</summary>
    public RunPlan Validate(RunRequest request)
    {
        var cfg = request.Config;
        var problems = new List<string>();
        var warnings = new List<string>();
        void Check(Action body)
        {
            try { body(); }
            catch (BadInputException e) { problems.Add(e.Message); }
        }

        if (request.BatchRows < 1) problems.Add($"--batch-rows must be positive (got {request.BatchRows}).");

        // Evaluators and their options: every unknown id and every bad option, not just the first.
        var registry = EvaluatorRegistry.BuiltIn();
        var evaluators = new List<PlannedEvaluator>();
        foreach (var r in cfg.Evaluators ?? registry.Select(e => new EvaluatorRequest(e.Info.Id, [])).ToList())
            Check(() =>
            {
                var ev = EvaluatorRegistry.Find(registry, r.Id);
                evaluators.Add(new PlannedEvaluator(ev, ev.ParseOptions(r.Options)));
            });

        // Backend.
        ComputeBackend? backend = null;
        if (!BackendCatalog.TryCreate(cfg.Backend, environment, out backend, out var backendProblem)) problems.Add($"{cfg.Source}: {backendProblem}");

        // Model: spec, files and options, without building it.
        var spec = ModelSpec(cfg);
        ModelOptions modelOptions = environment.ModelOptions(workingDirectory: cfg.BaseDirectory);
        Check(() => modelOptions = ModelOptionsFrom(cfg, modelOptions));
        problems.AddRange(ModelCatalog.Problems(spec, modelOptions).Select(p => $"{cfg.Source}: {p}"));

        // Checkpoints: the registry's entries must exist; or the suite to train must be known.
        IReadOnlyList<CheckpointEntry>? checkpoints = null;
        SuiteDefinition? suite = null;
        if (cfg.Checkpoints is not null)
        {
            Check(() =>
            {
                var resolution = CheckpointRegistry.FromNode(cfg.Checkpoints, cfg.BaseDirectory, cfg.Source)
                    .Resolve(environment.Digests(cfg.BaseDirectory), environment.Variables);
                foreach (var d in resolution.Diagnostics)
                    (d.Severity == RegistrySeverity.Error ? problems : warnings).Add(d.ToString());
                checkpoints = resolution.Entries;
                if (!resolution.HasErrors && resolution.Entries.Count == 0) problems.Add($"{cfg.Source}: checkpoints: no checkpoints to evaluate.");
            });
        }
        else
        {
            Check(() =>
            {
                try { suite = BuiltInSuites.TryGet(cfg.Suite) ?? SuiteDefinition.FromFile(cfg.Resolve(cfg.Suite)); }
                catch (SuiteFormatException e)
                {
                    throw new BadInputException($"{cfg.Source}: suite: {e.Message} Built-in suites: {string.Join(", ", BuiltInSuites.Names)}.", e);
                }
            });
        }

        var output = cfg.Resolve(cfg.Output);
        if (File.Exists(output)) problems.Add($"{cfg.Source}: output: '{output}' is a file; give a directory.");

        if (problems.Count > 0) throw new ValidationException(problems);
        return new RunPlan(request, evaluators, backend!, spec, modelOptions, checkpoints, suite, output, warnings);
    }

    /// <summary>Runs a validated plan: builds the model, trains the suite's missing members if the plan has no
    /// checkpoints, runs the jobs (finished ones with the same key are skipped), and builds the report.</summary>
    public RunOutcome Execute(RunPlan plan, HarnessDisplays? displays = null, CancellationToken cancellation = default)
    {
        displays ??= HarnessDisplays.None;
        var request = plan.Request;
        foreach (var w in plan.Warnings) environment.Log.WriteLine(w);

        if (plan.TrainingNotice is { } notice) environment.Log.WriteLine(notice);
        AtomicFile.CheckWritable(plan.OutputDirectory); // denied, read-only, a file, a full disk: say so before any work
        var model = ModelCatalog.Create(plan.ModelSpec, plan.ModelOptions);
        var checkpoints = plan.Checkpoints is { } entries
            ? entries.Select(e => ToRunCheckpoint(e, environment.Digests(request.Config.BaseDirectory))).ToList()
            : TrainSuite(plan.Suite!, model, plan.Backend, request.Config.BaseDirectory, displays.Training, cancellation);
        if (checkpoints.Count == 0) throw new BadInputException($"{request.Config.Source}: no checkpoints to evaluate.");

        var settings = new RunSettings(plan.OutputDirectory, plan.Backend, Version, environment.Clock)
        {
            Shard = request.Shard,
            Force = request.Force,
            Seed = request.Config.Seed,
            BatchRows = request.BatchRows,
            ReleaseId = plan.Checkpoints is null ? "suite:" + plan.Suite!.Name : "custom",
            AllowModelMismatch = request.Config.AllowModelMismatch,
        };
        environment.Log.WriteLine($"run: model {model.Info.Id} ({model.Info.Hook}, d_model {model.Info.DModel}), {checkpoints.Count} checkpoints × " +
                                  $"{plan.Evaluators.Count} evaluators, backend {plan.Backend.Description}, output {plan.OutputDirectory}");
        var manifest = displays.Jobs.Show(observer => new Runner(settings, observer).Run(checkpoints, plan.Evaluators, model, cancellation));

        ReportOutcome? report = null;
        string? reportError = null;
        if (request.BuildReport && request.Shard.Count == 1 && !manifest.Interrupted)
        {
            try
            {
                report = ReportBuilder.Build(plan.OutputDirectory, plan.OutputDirectory, new ReportOptions(RenderImages: request.RenderImages), environment.Log);
            }
            catch (Exception e) when (e is IOException or InvalidOperationException or BadInputException or UnauthorizedAccessException)
            {
                reportError = e.Message;
            }
        }
        return new RunOutcome(manifest, plan.OutputDirectory, model.Info, checkpoints.Count, report, reportError);
    }

    /// <summary>The runner's view of a registered checkpoint; hash and scan go through <paramref name="digests"/>.</summary>
    public static RunCheckpoint ToRunCheckpoint(CheckpointEntry e, CheckpointDigestCache digests) =>
        new(e.Id, e.Path, e.Tags, () => e.Sha256, () => CheckpointLoader.Load(e.Path, new LoadOptions(Digests: digests)));

    /// <summary>
    /// The checkpoints of a suite, trained first where missing: members come back through the suite's
    /// <c>registry.yaml</c>, exactly as a user's registry would, so their ids and tags are the ones reports group by.
    /// </summary>
    private List<RunCheckpoint> TrainSuite(SuiteDefinition suite, IModelUnderStudy model, ComputeBackend backend, string baseDirectory,
        ITrainingDisplay display, CancellationToken cancellation)
    {
        string dir = SuiteTrainer.DefaultDirectory(environment.CacheDirectory(baseDirectory), suite, model.Info);
        display.Show(suite, model, dir, progress => new SuiteTrainer(backend).EnsureTrained(suite, model, dir, progress, force: false, cancellation));
        var digests = environment.Digests(baseDirectory);
        var resolution = CheckpointRegistry.FromFile(Path.Combine(dir, SuiteTrainer.RegistryFile)).Resolve(digests, environment.Variables);
        foreach (var d in resolution.Diagnostics) environment.Log.WriteLine(d.ToString());
        return resolution.Entries.Select(e => ToRunCheckpoint(e, digests)).ToList();
    }

    private static string ModelSpec(RunConfig cfg) => cfg.Model switch
    {
        "file" => "file:" + cfg.Resolve(cfg.Activations!) + (cfg.Labels is null ? "" : ",labels=" + cfg.Resolve(cfg.Labels)),
        var m => m,
    };

    private static ModelOptions ModelOptionsFrom(RunConfig cfg, ModelOptions options)
    {
        foreach (var (key, value) in cfg.ModelOptions)
        {
            string at = $"{cfg.Source}: model_options: {key}";
            options = key switch
            {
                "hook" => options with { Hook = StringOption(value, at) },
                "forget_class" => options with
                {
                    ForgetClass = value is JsonValue v && (v.TryGetValue<string>(out var text) || v.GetValueKind() == System.Text.Json.JsonValueKind.Number)
                        ? text ?? v.ToJsonString()
                        : throw new ConfigException($"{at} must be a class name or index, found {YamlJson.Describe(value)}."),
                },
                "cache_activations" => options with { CacheActivations = BoolOption(value, at) },
                "allow_non_finite" => options with { AllowNonFinite = BoolOption(value, at) },
                _ when ModelOptionKeys.Contains(key) => options with
                {
                    LanguageModelOptions = new Dictionary<string, string>(options.LanguageModelOptions) { [key] = ScalarOption(value, at) },
                },
                _ => throw new ConfigException($"{cfg.Source}: model_options: " + Suggest.UnknownName("model option", key, ModelOptionKeys)),
            };
        }
        return options;
    }

    private static string ScalarOption(JsonNode? value, string at) =>
        value is JsonValue v ? v.ToString() : throw new ConfigException($"{at} must be a single value, found {YamlJson.Describe(value)}.");

    private static bool BoolOption(JsonNode? value, string at) =>
        value is JsonValue v && v.TryGetValue<bool>(out var b) ? b
        : value is JsonValue s && s.TryGetValue<string>(out var text) && bool.TryParse(text, out var parsed) ? parsed
        : throw new ConfigException($"{at} must be true or false, found {YamlJson.Describe(value)}.");

    /// <summary>A name-valued option: text only. A number or boolean is refused, not guessed at (<c>hook: 5</c> is more likely a
    /// slip than a hook named "5"; quote it if it is).</summary>
    private static string StringOption(JsonNode? value, string at) =>
        value is JsonValue v && v.TryGetValue<string>(out var s) && s.Length > 0
            ? s
            : throw new ConfigException($"{at} must be a name (non-empty text), found {YamlJson.Describe(value)}; quote it if the name is a number.");
}
