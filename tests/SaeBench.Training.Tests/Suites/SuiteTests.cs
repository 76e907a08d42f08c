using SaeBench.Compute.Backends;
using SaeBench.Compute.Tensors;
using SaeBench.Core.Checkpoints;
using SaeBench.Core.Models;
using SaeBench.Core.Registry;
using SaeBench.Training.Data;
using SaeBench.Training.Objectives;
using SaeBench.Training.Suites;

namespace SaeBench.Training.Tests.Suites;

public sealed class SuiteTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("saebench-suite-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>A model with only activations (train and test splits from the same sparse generator).</summary>
    private sealed class TinyModel : IModelUnderStudy
    {
        private readonly IActivationSource _train = new InMemoryActivationSource(TrainingBenchmark.SparseRows(1500, 12, 30, 21));
        private readonly IActivationSource _test = new InMemoryActivationSource(TrainingBenchmark.SparseRows(300, 12, 30, 22));
        public int TrainReads;

        public ModelInfo Info { get; } = new("tiny", "tiny.x", 12, 1, new string('a', 64), "test model");

        public IActivationSource Activations(Split split)
        {
            if (split == Split.Train) TrainReads++;
            return split == Split.Train ? _train : _test;
        }

        public T? Capability<T>() where T : class => null;
    }

    private static SuiteDefinition Tiny(IReadOnlyList<string> archs) => new()
    {
        Name = "tiny", Architectures = archs, Widths = [24], TargetL0s = [3], Steps = 40, BatchSize = 32,
    };

    [Fact]
    public void Trains_writes_loadable_checkpoints_and_a_registry_then_skips_by_content_key()
    {
        var backend = CpuBackend.Create(new CpuBackendOptions(GemmChoice.Managed));
        var suite = Tiny(ObjectiveFactory.Architectures);
        var model = new TinyModel();
        var first = new SuiteTrainer(backend).EnsureTrained(suite, model, _dir);
        Assert.Equal(9, first.Count);
        Assert.All(first, m => Assert.False(m.Skipped));

        // The registry resolves to every member with its tags; every checkpoint loads and encodes like the trained SAE.
        var resolution = CheckpointRegistry.FromFile(Path.Combine(_dir, SuiteTrainer.RegistryFile)).Resolve();
        Assert.Empty(resolution.Diagnostics);
        Assert.Equal(first.Select(m => m.Id).Order(), resolution.Entries.Select(e => e.Id).Order());
        foreach (var e in resolution.Entries)
        {
            Assert.Contains(e.Tags["architecture"], ObjectiveFactory.Architectures);
            Assert.Equal("24", e.Tags["width"]);
            Assert.Equal("3", e.Tags["target_l0"]);
            var loaded = CheckpointLoader.Load(e.Path).Sae;
            var member = first.Single(m => m.Id == e.Id);
            var held = HeldOutStatistics.Measure(loaded, model.Activations(Split.Test), backend);
            Assert.Equal(member.HeldOut.L0, held.L0, 9);
            Assert.Equal(member.HeldOut.ExplainedVariance, held.ExplainedVariance, 6);
            Assert.False(File.Exists(Path.Combine(e.Path, SuiteTrainer.StateFileName)));
        }

        // Second call: everything is skipped; a changed setting retrains only what it changes.
        var second = new SuiteTrainer(backend).EnsureTrained(suite, model, _dir);
        Assert.All(second, m => Assert.True(m.Skipped));
        var changed = suite with { Architectures = ["topk", "relu"], Overrides = new Dictionary<string, Func<TrainingOptions, TrainingOptions>> { ["topk"] = o => o with { LearningRate = 5e-4 } } };
        var third = new SuiteTrainer(backend).EnsureTrained(changed, model, _dir);
        Assert.False(third.Single(m => m.Tags["architecture"] == "topk").Skipped);
        Assert.True(third.Single(m => m.Tags["architecture"] == "relu").Skipped);
    }

    [Fact]
    public void Checkpoint_metadata_holds_the_training_options_and_statistics()
    {
        var backend = CpuBackend.Create(new CpuBackendOptions(GemmChoice.Managed));
        var trained = new SuiteTrainer(backend).EnsureTrained(Tiny(["jumprelu"]), new TinyModel(), _dir).Single();
        var cfg = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(trained.CheckpointPath, "cfg.json")))!;
        Assert.Equal("jumprelu", cfg["architecture"]!.GetValue<string>());
        Assert.Equal("tiny", cfg["metadata"]!["model_name"]!.GetValue<string>());
        Assert.Equal(40, cfg["metadata"]!["statistics"]!["steps"]!.GetValue<long>());
        Assert.Equal(trained.HeldOut.L0, cfg["metadata"]!["statistics"]!["l0"]!.GetValue<double>());
        Assert.Equal(24, cfg["metadata"]!["training"]!["options"]!["Width"]!.GetValue<int>());
        Assert.Equal(64, cfg["metadata"]!["training"]!["key"]!.GetValue<string>().Length);
    }

    [Fact]
    public void Suite_yaml_is_parsed_and_bad_fields_are_named()
    {
        var s = SuiteDefinition.FromYaml("""
            name: s
            architectures: [topk, feature_choice]
            widths: [64, 128]
            target_l0: [4, 8, 16]
            seeds: [0, 1]
            steps: 100
            overrides:
              feature_choice: {capacity: zipf, lr: 0.0005}
            """, "s.yaml", "x");
        var members = s.Members();
        Assert.Equal(2 * 2 * 3 * 2, members.Count);
        Assert.Equal(members.Count, members.Select(m => m.Id).Distinct().Count());
        var fc = members.First(m => m.Options.Architecture == "feature_choice");
        Assert.Equal("zipf", fc.Options.Capacity);
        Assert.Equal(5e-4, fc.Options.LearningRate);
        Assert.Equal(100, fc.Options.Steps);

        void Bad(string yaml, string field)
        {
            var e = Assert.Throws<SuiteFormatException>(() => SuiteDefinition.FromYaml(yaml, "bad.yaml", "x"));
            Assert.Contains("bad.yaml", e.Message);
            Assert.Contains(field, e.Message);
        }
        Bad("widths: [64]\ntarget_l0: [4]\narchitectures: [topkk]", "architectures");
        Bad("widths: [64]", "target_l0");
        Bad("widths: [0]\ntarget_l0: [4]", "widths");
        Bad("widths: [64]\ntarget_l0: [4]\nstep: 3", "step");
        Bad("widths: [64]\ntarget_l0: [100]", "target_l0");
        Bad("widths: [64]\ntarget_l0: [4]\noverrides: {topk: {capacity: lots}}", "capacity");
        Bad("widths: [64]\ntarget_l0: [4]\noverrides: {jumprelu: {jumprelu_negative_penalty_floor: -1}}", "jumprelu_negative_penalty_floor");
        Bad("widths: [64]\ntarget_l0: [4]\noverrides: {jumprelu: {jumprelu_calibration_min_density: 1.5}}", "jumprelu_calibration_min_density");
    }

    [Fact]
    public void Built_in_suites_cover_every_architecture_at_the_promised_sizes()
    {
        var quick = BuiltInSuites.Get("quick");
        Assert.Equal(ObjectiveFactory.Architectures.Order(), quick.Architectures.Order());
        Assert.True(quick.TargetL0s.Count >= 2);
        var def = BuiltInSuites.Get("default");
        Assert.Equal(ObjectiveFactory.Architectures.Order(), def.Architectures.Order());
        Assert.True(def.Widths.Count >= 2 && def.TargetL0s.Count >= 3);
        Assert.Contains("quick", Assert.Throws<ArgumentException>(() => BuiltInSuites.Get("quik")).Message);
        foreach (var suite in new[] { quick, def })
        {
            // relu's tuned settings (4× lr, 30 % λ warm-up, controller rate 0.005); every other trainer keeps the suite's.
            foreach (var m in suite.Members().Where(m => m.Baseline is null))
            {
                bool relu = m.Options.Architecture == "relu";
                Assert.Equal(relu ? 4 * suite.LearningRate : suite.LearningRate, m.Options.LearningRate, 12);
                Assert.Equal(relu ? 0.3 : 0.05, m.Options.PenaltyWarmupFraction, 12);
                Assert.Equal(relu ? 0.005 : 0.01, m.Options.PenaltyAdaptRate, 12);
            }
            var baselines = suite.Members().Where(m => m.Baseline is not null).ToList();
            Assert.Equal(["identity", "pca"], baselines.Select(m => m.Id).Order());
            Assert.Equal(suite.Members().Count, (suite.Widths.Count * suite.TargetL0s.Count * suite.Architectures.Count) + 2);
        }
    }

    [Fact]
    public void Baseline_members_are_written_once_with_model_width_tags_and_skipped_by_content_key()
    {
        var backend = CpuBackend.Create(new CpuBackendOptions(GemmChoice.Managed));
        var suite = Tiny(["topk"]) with { TargetL0s = [3, 4], Baselines = ["pca", "identity"] };
        var model = new TinyModel();
        var first = new SuiteTrainer(backend).EnsureTrained(suite, model, _dir);
        Assert.Equal(4, first.Count);
        var resolution = CheckpointRegistry.FromFile(Path.Combine(_dir, SuiteTrainer.RegistryFile)).Resolve();
        Assert.Empty(resolution.Diagnostics);
        foreach (var kind in new[] { "pca", "identity" })
        {
            var e = resolution.Entries.Single(e => e.Tags["architecture"] == kind);
            Assert.Equal("12", e.Tags["width"]);
            Assert.False(e.Tags.ContainsKey("target_l0"));
            var loaded = CheckpointLoader.Load(e.Path).Sae;
            Assert.Equal(kind, loaded.Architecture);
            Assert.Equal(12, loaded.DSae);
            // Full-rank PCA and identity reconstruct the held-out rows (EV 1 up to float rounding).
            Assert.True(first.Single(m => m.Id == e.Id).HeldOut.ExplainedVariance > 0.9999);
        }
        var second = new SuiteTrainer(backend).EnsureTrained(suite, model, _dir);
        Assert.All(second, m => Assert.True(m.Skipped));
        var fewer = new SuiteTrainer(backend).EnsureTrained(suite with { Architectures = [], Baselines = ["pca"], PcaComponents = 4 }, model, _dir).Single();
        Assert.Equal("pca-k4", fewer.Id);
        Assert.False(fewer.Skipped);
        Assert.Equal("4", fewer.Tags["width"]);
        Assert.InRange(fewer.HeldOut.ExplainedVariance, 0.05, 0.9999);
    }

    [Fact]
    public void Suite_yaml_baselines_are_parsed_and_unknown_ones_named()
    {
        var s = SuiteDefinition.FromYaml("widths: [64]\ntarget_l0: [4]\nbaselines: [pca, identity]\npca_components: 16", "s.yaml", "x");
        Assert.Equal(["pca", "identity"], s.Baselines);
        Assert.Equal(16, s.PcaComponents);
        Assert.Contains(s.Members(), m => m.Id == "pca-k16" && m.Baseline == "pca");
        Assert.Empty(SuiteDefinition.FromYaml("widths: [64]\ntarget_l0: [4]", "s.yaml", "x").Baselines);
        var e = Assert.Throws<SuiteFormatException>(() => SuiteDefinition.FromYaml("widths: [64]\ntarget_l0: [4]\nbaselines: [ica]", "bad.yaml", "x"));
        Assert.Contains("bad.yaml", e.Message);
        Assert.Contains("baselines", e.Message);
    }

    [Theory]
    [InlineData(30_000, "nested deeper than")]
    [InlineData(0, "inside the node it names")]
    public void Hostile_suite_yaml_is_refused_naming_the_file_and_line(int depth, string expected)
    {
        // Nesting 30,000 deep once overflowed the stack (YamlDotNet builds nodes recursively); an alias cycle recursed forever.
        var yaml = depth > 0
            ? "widths: " + new string('[', depth) + new string(']', depth) + "\ntarget_l0: [4]"
            : "widths: [64]\ntarget_l0: [4]\noverrides: &o\n  all: *o";
        var e = Assert.Throws<SuiteFormatException>(() => SuiteDefinition.FromYaml(yaml, "hostile.yaml", "x"));
        Assert.Equal("hostile.yaml", e.File);
        Assert.StartsWith("line ", e.Field);
        Assert.Contains(expected, e.Message);
    }
}
