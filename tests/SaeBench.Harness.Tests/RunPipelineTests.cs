using SaeBench.Compute.Tensors;
using SaeBench.Core;
using SaeBench.Core.Autoencoders;
using SaeBench.Core.Checkpoints;
using SaeBench.Core.Configuration;
using SaeBench.Core.Results;
using SaeBench.Core.Safetensors;
using SaeBench.TestKit;

namespace SaeBench.Harness.Tests;

/// <summary>The run library called as a notebook or a test would: no CLI, no console.</summary>
public sealed class RunPipelineTests : IDisposable
{
    private const int D = 6, N = 120;
    private readonly TempDirectory _dir = new();
    private readonly HarnessEnvironment _env;

    public RunPipelineTests()
    {
        _env = new HarnessEnvironment(_dir.Path, name => name == HarnessEnvironment.CacheVariable ? _dir.File("cache") : null, TimeProvider.System, TextWriter.Null);
        var rng = new Random(2);
        var acts = Enumerable.Range(0, N * D).Select(_ => (float)rng.NextDouble()).ToArray();
        SafetensorsWriter.Write(_dir.File("acts.safetensors"), [SafetensorsTensor.F32("activations", acts, N, D)]);
        var eye = new HostMatrix(D, D);
        for (int i = 0; i < D; i++) eye[i, i] = 1;
        NativeCheckpointWriter.Write(_dir.File("ckpts", "identity"), new Sae("relu", new SaeParameters { WEnc = eye, BEnc = new float[D], WDec = eye.Clone(), BDec = new float[D] }));
    }

    public void Dispose() => _dir.Dispose();

    private RunConfig Config(string extra = "") => RunConfig.Parse($"""
        model: file
        activations: acts.safetensors
        checkpoints:
          - glob: ckpts/*
        evaluators: [core, mdl]
        output: out
        {extra}
        """, "test.yaml", _dir.Path);

    [Theory]
    [InlineData("model_options: {hook: 5}", "model_options: hook must be a name (non-empty text), found the number 5")]
    [InlineData("model_options: {hook: [a]}", "model_options: hook must be a name (non-empty text), found a list")]
    [InlineData("model_options: {forget_class: {a: 1}}", "model_options: forget_class must be a class name or index, found a mapping")]
    [InlineData("model_options: {cache_activations: 5}", "model_options: cache_activations must be true or false")]
    public void Model_options_of_the_wrong_type_are_named(string yaml, string expected)
    {
        var e = Assert.Throws<ValidationException>(() => new RunPipeline(_env).Validate(new RunRequest(Config(yaml))));
        Assert.Contains("test.yaml: " + expected, e.Message);
    }

    [Fact]
    public void A_hook_that_is_a_quoted_number_is_a_name()
    {
        var plan = new RunPipeline(_env).Validate(new RunRequest(Config("model_options: {hook: '5'}")));
        Assert.Equal("5", plan.ModelOptions.Hook);
    }

    [Fact]
    public void Run_goes_from_a_configuration_to_result_files_a_manifest_and_a_report()
    {
        var outcome = new RunPipeline(_env).Run(new RunRequest(Config()) { RenderImages = false });

        Assert.True(outcome.Succeeded);
        Assert.Equal(2, outcome.Manifest.Done.Count);
        Assert.Equal(1, outcome.Checkpoints);
        var record = ResultFile.Parse(File.ReadAllText(ResultEnvelope.PathFor(outcome.OutputDirectory, "core", "ckpts-identity")), "core", []);
        Assert.Equal(1.0, record.Find("reconstruction_quality.explained_variance")!.Value!.Value, 6); // the identity SAE explains everything
        Assert.Equal(RunPipeline.Version.Code, record.Provenance.CodeVersion);
        Assert.NotNull(outcome.Report);
        Assert.True(File.Exists(Path.Combine(outcome.OutputDirectory, "metrics_tidy.csv")));

        var again = new RunPipeline(_env).Run(new RunRequest(Config()) { RenderImages = false });
        Assert.Equal(2, again.Manifest.Skipped.Count);
    }

    [Fact]
    public void Validation_collects_every_problem_and_touches_nothing()
    {
        var bad = RunConfig.Parse("""
            model: file
            activations: missing.npy
            checkpoints:
              - path: nowhere
            evaluators:
              - core
              - id: mdl
                options: { bins: [0] }
              - spars_probing
            backend: gpu
            output: out
            """, "bad.yaml", _dir.Path);
        var e = Assert.Throws<ValidationException>(() => new RunPipeline(_env).Validate(new RunRequest(bad) { BatchRows = 0 }));

        Assert.Equal(6, e.Problems.Count);
        Assert.Contains(e.Problems, p => p.Contains("--batch-rows"));
        Assert.Contains(e.Problems, p => p.Contains("bins"));
        Assert.Contains(e.Problems, p => p.Contains("spars_probing"));
        Assert.Contains(e.Problems, p => p.Contains("gpu"));
        Assert.Contains(e.Problems, p => p.Contains("missing.npy"));
        Assert.Contains(e.Problems, p => p.Contains("nowhere"));
        Assert.False(Directory.Exists(_dir.File("out")));
        Assert.IsAssignableFrom<BadInputException>(e);
    }

    [Fact]
    public void A_valid_plan_names_its_parts_before_anything_runs()
    {
        var plan = new RunPipeline(_env).Validate(new RunRequest(Config()));
        Assert.Equal(["core", "mdl"], plan.Evaluators.Select(e => e.Id));
        Assert.Equal("ckpts-identity", Assert.Single(plan.Checkpoints!).Id);
        Assert.Null(plan.Suite);
        Assert.Equal("cpu", plan.Backend.Name);
        Assert.False(Directory.Exists(plan.OutputDirectory));
    }

    [Fact]
    public void Without_checkpoints_the_plan_trains_the_named_suite_and_an_unknown_suite_is_a_problem()
    {
        var plan = new RunPipeline(_env).Validate(new RunRequest(RunConfig.Parse("model: synthetic\n", "s.yaml", _dir.Path)));
        Assert.Equal("quick", plan.Suite!.Name);
        var e = Assert.Throws<ValidationException>(() => new RunPipeline(_env).Validate(new RunRequest(RunConfig.Parse("model: synthetic\nsuite: quik\n", "s.yaml", _dir.Path))));
        Assert.Contains("Built-in suites: quick, default", Assert.Single(e.Problems));
    }

    [Fact]
    public void A_plan_without_checkpoints_says_which_suite_it_will_train_before_training()
    {
        var plan = new RunPipeline(_env).Validate(new RunRequest(RunConfig.Parse("model: synthetic\n", "s.yaml", _dir.Path)));
        Assert.Contains("training the 'quick' suite", plan.TrainingNotice);
        Assert.Contains("--checkpoint PATH", plan.TrainingNotice);
        Assert.Null(new RunPipeline(_env).Validate(new RunRequest(Config())).TrainingNotice);
    }

    [Fact]
    public void Checkpoint_paths_replace_the_configuration_s_checkpoints_and_resolve_against_the_working_directory()
    {
        var cfg = AdHocCheckpoints.Apply(RunConfig.Parse("model: file\nactivations: acts.safetensors\nevaluators: [core]\noutput: out\n", "t.yaml", _dir.Path),
            ["ckpts/identity"], _dir.Path);
        var plan = new RunPipeline(_env).Validate(new RunRequest(cfg));
        Assert.Null(plan.Suite);
        Assert.Equal(Path.Combine(_dir.Path, "ckpts", "identity"), Assert.Single(plan.Checkpoints!).Path);
        var e = Assert.Throws<ValidationException>(() => new RunPipeline(_env).Validate(new RunRequest(AdHocCheckpoints.Apply(cfg, ["nope"], _dir.Path))));
        Assert.Contains("nope", Assert.Single(e.Problems));
    }

    [Fact]
    public void A_registry_written_by_train_resolves_its_paths_from_any_working_directory()
    {
        // the layout SuiteTrainer.WriteRegistry writes: paths relative to the registry file
        var suite = _dir.Directory("elsewhere", "suite");
        NativeCheckpointWriter.Write(Path.Combine(suite, "m1"), IdentitySae());
        File.WriteAllText(Path.Combine(suite, "registry.yaml"), "checkpoints:\n  - path: m1\n    id: m1\n    tags: {architecture: \"relu\"}\n");
        var other = _dir.Directory("somewhere", "else");
        var env = _env with { WorkingDirectory = other };
        var cfg = RunConfig.Load(Path.Combine(suite, "registry.yaml")) with { Model = "file", Activations = _dir.File("acts.safetensors"), Output = _dir.File("reg-out") };
        var plan = new RunPipeline(env).Validate(new RunRequest(cfg));
        Assert.Equal(Path.Combine(suite, "m1"), Assert.Single(plan.Checkpoints!).Path);
    }

    [Fact]
    public void A_SAELens_release_is_found_in_the_Hugging_Face_cache_the_environment_names_and_tagged_in_the_result_files()
    {
        // huggingface_hub's layout: refs/main names the commit whose snapshot holds the SAE's folder
        string repo = _dir.Directory("hub", "models--jbloom--GPT2-Small-SAEs-Reformatted");
        Directory.CreateDirectory(Path.Combine(repo, "refs"));
        File.WriteAllText(Path.Combine(repo, "refs", "main"), "abc123");
        NativeCheckpointWriter.Write(Path.Combine(repo, "snapshots", "abc123", "blocks.8.hook_resid_pre"), IdentitySae());
        var env = _env with { Variables = name => name == "HF_HUB_CACHE" ? _dir.File("hub") : _env.Variables(name) };
        var cfg = RunConfig.Parse("""
            model: file
            activations: acts.safetensors
            checkpoints:
              - release: gpt2-small-res-jb
                sae_id: blocks.8.hook_resid_pre
                id: gpt2-l8
            evaluators: [core]
            output: release-out
            """, "release.yaml", _dir.Path);

        var e = Assert.Throws<ValidationException>(() => new RunPipeline(_env).Validate(new RunRequest(cfg)));
        Assert.Contains("checkpoints[0].release", Assert.Single(e.Problems)); // HOME is unset in _env: no cache to look in

        var plan = new RunPipeline(env).Validate(new RunRequest(cfg) { BuildReport = false });
        Assert.Contains(plan.Warnings, w => w.Contains("center_writing_weights"));
        var outcome = new RunPipeline(env).Execute(plan);
        Assert.True(outcome.Succeeded);
        var record = ResultFile.Parse(File.ReadAllText(ResultEnvelope.PathFor(outcome.OutputDirectory, "core", "gpt2-l8")), "core", []);
        Assert.Equal("gpt2-small-res-jb", record.Checkpoint.Tags["release"]);
        Assert.Equal("blocks.8.hook_resid_pre", record.Checkpoint.Tags["sae_id"]);
    }

    private static Sae IdentitySae()
    {
        var eye = new HostMatrix(D, D);
        for (int i = 0; i < D; i++) eye[i, i] = 1;
        return new Sae("relu", new SaeParameters { WEnc = eye, BEnc = new float[D], WDec = eye.Clone(), BDec = new float[D] });
    }
}
