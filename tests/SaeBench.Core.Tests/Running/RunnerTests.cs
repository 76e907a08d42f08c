using SaeBench.Core.Models;
using SaeBench.TestKit;
using System.Text.Json;
using System.Text.Json.Nodes;
using SaeBench.Compute.Backends;
using SaeBench.Compute.Tensors;
using SaeBench.Core.Checkpoints;
using SaeBench.Core.Evaluation;
using SaeBench.Core.Results;
using SaeBench.Core.Running;
using SaeBench.Core.Autoencoders;

namespace SaeBench.Core.Tests.Running;

public class RunnerTests
{
    private const int D = 4;
    private readonly FakeModel _model = FakeModelBuilder.Random(D, examples: 50, seed: 1).Build();
    private readonly string _out = Directory.CreateTempSubdirectory("saebench-runner").FullName;

    private static CheckpointInfo Info(Sae sae, string id) => new()
    {
        Path = "/mem/" + id,
        Format = "memory",
        Architecture = sae.Architecture,
        DIn = sae.DIn,
        DSae = sae.DSae,
        Dtype = "float32",
        DecoderNorms = new SummaryStats(1, 1, 1, sae.DSae),
        ApplyBDecToInput = false,
        InputScale = 1,
        Files = [],
        Sha256 = "sha-" + id,
    };

    /// <summary>An identity SAE whose decoder is scaled, so each checkpoint reconstructs differently.</summary>
    private static RunCheckpoint Checkpoint(string id, float scale = 1f, Func<LoadedCheckpoint>? load = null, int[]? loads = null)
    {
        return new RunCheckpoint(id, "/mem/" + id, new Dictionary<string, string> { ["architecture"] = "identity" },
            () => "sha-" + id + scale,
            load ?? (() =>
            {
                if (loads is not null) loads[0]++;
                var sae = new Sae("relu", new SaeParameters
                {
                    WEnc = Eye(D, 1f), BEnc = new float[D], WDec = Eye(D, scale), BDec = new float[D],
                });
                return new LoadedCheckpoint(sae, Info(sae, id));
            }));
    }

    private static HostMatrix Eye(int n, float v)
    {
        var m = new HostMatrix(n, n);
        for (int i = 0; i < n; i++) m[i, i] = v;
        return m;
    }

    private RunSettings Settings(Shard? shard = null, bool force = false) =>
        new(_out, CpuBackend.Create(), new HarnessVersion("0.1.0", "asm:test", null), TimeProvider.System) { Shard = shard ?? Shard.All, Force = force, BatchRows = 16 };

    private static PlannedEvaluator Plan(IEvaluator e, JsonObject? options = null) => new(e, e.ParseOptions(options ?? []));

    private static Dictionary<string, double?> Metrics(string outDir, string eval)
    {
        var result = new Dictionary<string, double?>();
        foreach (var f in Directory.GetFiles(Path.Combine(outDir, "eval_results", eval)))
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(f));
            var m = doc.RootElement.GetProperty("eval_result_metrics").GetProperty("stats").GetProperty("mean_xhat");
            result[doc.RootElement.GetProperty("sae_lens_id").GetString()!] = m.ValueKind == JsonValueKind.Null ? null : m.GetDouble();
        }
        return result;
    }

    [Fact]
    public void Writes_one_result_per_job_and_a_manifest()
    {
        var manifest = new Runner(Settings()).Run([Checkpoint("b", 2), Checkpoint("a", 1)], [Plan(new MeanEvaluator())], _model);
        Assert.True(manifest.Succeeded);
        Assert.Equal(2, manifest.Done.Count);
        Assert.True(File.Exists(Path.Combine(_out, "manifest.json")));
        var m = Metrics(_out, "mean");
        Assert.Equal(2 * m["a"]!.Value, m["b"]!.Value, 6);
    }

    [Fact]
    public void Finished_jobs_are_skipped_unless_forced_and_redone_when_options_change()
    {
        var ev = new MeanEvaluator();
        var loads = new int[1];
        new Runner(Settings()).Run([Checkpoint("a", loads: loads)], [Plan(ev)], _model);
        var again = new Runner(Settings()).Run([Checkpoint("a", loads: loads)], [Plan(ev)], _model);
        Assert.Single(again.Skipped);
        Assert.Empty(again.Done);
        Assert.Equal(1, ev.Starts);
        Assert.Equal(1, loads[0]); // nothing pending: the checkpoint is not even loaded

        var forced = new Runner(Settings(force: true)).Run([Checkpoint("a")], [Plan(ev)], _model);
        Assert.Single(forced.Done);
        var changed = new Runner(Settings()).Run([Checkpoint("a")], [Plan(ev, new JsonObject { ["scale"] = 3 })], _model);
        Assert.Single(changed.Done);
    }

    [Fact]
    public void Bumping_one_evaluators_version_reruns_exactly_its_jobs_and_is_recorded()
    {
        var checkpoints = new[] { Checkpoint("a"), Checkpoint("b") };
        new Runner(Settings()).Run(checkpoints, [Plan(new MeanEvaluator("m1")), Plan(new MeanEvaluator("m2"))], _model);

        var bumped = new Runner(Settings()).Run(checkpoints, [Plan(new MeanEvaluator("m1")), Plan(new MeanEvaluator("m2", version: "2"))], _model);

        Assert.Equal(["m2/a", "m2/b"], bumped.Done.Select(j => j.EvalTypeId + "/" + j.CheckpointId).Order());
        Assert.Equal(["m1/a", "m1/b"], bumped.Skipped.Select(j => j.EvalTypeId + "/" + j.CheckpointId).Order());
        var record = ResultFile.Parse(File.ReadAllText(ResultEnvelope.PathFor(_out, "m2", "a")), "m2", []);
        Assert.Equal("2", record.Provenance.EvaluatorVersion);
        Assert.Equal("asm:test", record.Provenance.CodeVersion);
        Assert.Equal(0, record.Provenance.Seed);
    }

    [Fact]
    public void A_new_code_version_or_seed_reruns_every_job()
    {
        new Runner(Settings()).Run([Checkpoint("a")], [Plan(new MeanEvaluator())], _model);
        var newCode = new Runner(Settings() with { Harness = new HarnessVersion("0.1.0", "asm:other", null) }).Run([Checkpoint("a")], [Plan(new MeanEvaluator())], _model);
        Assert.Single(newCode.Done);
        var newSeed = new Runner(Settings() with { Harness = new HarnessVersion("0.1.0", "asm:other", null), Seed = 5 }).Run([Checkpoint("a")], [Plan(new MeanEvaluator())], _model);
        Assert.Single(newSeed.Done);
    }

    [Fact]
    public void A_checkpoint_of_another_width_fails_its_jobs_saying_why()
    {
        var wide = new RunCheckpoint("wide", "/x/wide", new Dictionary<string, string>(), () => "sha-wide",
            () => new LoadedCheckpoint(Sae.Identity(D + 1), new CheckpointInfo
            {
                Path = "/x/wide", Format = "native", Architecture = "identity", DIn = D + 1, DSae = D + 1, Dtype = "float32",
                ApplyBDecToInput = false, InputScale = 1, Files = [],
            }));
        var manifest = new Runner(Settings()).Run([wide, Checkpoint("ok")], [Plan(new MeanEvaluator())], _model);
        var failure = Assert.Single(manifest.Failed);
        Assert.Contains("d_in is " + (D + 1), failure.Error);
        Assert.Single(manifest.Done);
    }

    [Fact]
    public void A_checkpoint_made_for_another_model_is_refused_unless_allowed()
    {
        var model = new Mismatching(_model, "hook_name is 'blocks.3.hook_resid_post' but the model under study reads 'fake.hook'");
        var refused = new Runner(Settings()).Run([Checkpoint("a")], [Plan(new MeanEvaluator())], model);
        Assert.Contains("allow_model_mismatch", Assert.Single(refused.Failed).Error);
        var allowed = new Runner(Settings() with { AllowModelMismatch = true }).Run([Checkpoint("a")], [Plan(new MeanEvaluator())], model);
        Assert.Single(allowed.Done);
    }

    private sealed class Mismatching(IModelUnderStudy inner, string problem) : IModelUnderStudy, ICheckpointCompatibility
    {
        public ModelInfo Info => inner.Info;
        public IActivationSource Activations(Split split) => inner.Activations(split);
        public T? Capability<T>() where T : class => this as T ?? inner.Capability<T>();
        public IReadOnlyList<string> Problems(SaeConfig config) => [problem];
    }

    [Fact]
    public void A_failing_job_is_recorded_and_the_others_complete()
    {
        var evals = new[] { Plan(new ThrowingEvaluator("start")), Plan(new ThrowingEvaluator("observe")), Plan(new ThrowingEvaluator("complete")), Plan(new MeanEvaluator()) };
        var manifest = new Runner(Settings()).Run([Checkpoint("a"), Checkpoint("b")], evals, _model);
        Assert.False(manifest.Succeeded);
        Assert.Equal(6, manifest.Failed.Count);
        Assert.Equal(2, manifest.Done.Count);
        Assert.Contains(manifest.Failed, f => f.Error.Contains("boom in observe"));
        var stamp = ResultFile.ReadStamp(ResultEnvelope.PathFor(_out, "throws_complete", "a"));
        Assert.Equal("failed", stamp!.Value.Status);
    }

    [Fact]
    public void Failed_jobs_are_retried_on_the_next_run()
    {
        new Runner(Settings()).Run([Checkpoint("a")], [Plan(new ThrowingEvaluator("observe"))], _model);
        var again = new Runner(Settings()).Run([Checkpoint("a")], [Plan(new ThrowingEvaluator("observe"))], _model);
        Assert.Single(again.Failed);
        Assert.Empty(again.Skipped);
    }

    [Fact]
    public void A_checkpoint_that_fails_to_load_fails_its_jobs_only()
    {
        var bad = Checkpoint("bad", load: () => throw new CheckpointFormatException("/x/sae_weights.safetensors", "W_enc", "missing required tensor"));
        var manifest = new Runner(Settings()).Run([bad, Checkpoint("good")], [Plan(new MeanEvaluator())], _model);
        Assert.Single(manifest.Failed);
        Assert.Contains("W_enc", manifest.Failed[0].Error);
        Assert.Single(manifest.Done);
    }

    [Fact]
    public void Not_applicable_is_not_a_failure()
    {
        var manifest = new Runner(Settings()).Run([Checkpoint("a")], [Plan(new ThrowingEvaluator("na"))], _model);
        Assert.True(manifest.Succeeded);
        Assert.Single(manifest.NotApplicable);
        using var doc = JsonDocument.Parse(File.ReadAllText(ResultEnvelope.PathFor(_out, "throws_na", "a")));
        Assert.Equal("needs ground truth", doc.RootElement.GetProperty("saebench_net").GetProperty("error").GetString());
    }

    [Fact]
    public void Each_checkpoint_is_streamed_once_for_all_its_evaluators()
    {
        int before = _model.BatchesServed;
        new Runner(Settings()).Run([Checkpoint("a")], [Plan(new MeanEvaluator("m1")), Plan(new MeanEvaluator("m2")), Plan(new MeanEvaluator("m3"))], _model);
        Assert.Equal((50 + 15) / 16, _model.BatchesServed - before);
    }

    [Fact]
    public void Two_shards_into_one_directory_equal_one_unsharded_run()
    {
        var cks = Enumerable.Range(0, 5).Select(i => Checkpoint("c" + i, 1 + i)).ToList();
        var single = Directory.CreateTempSubdirectory("saebench-single").FullName;
        new Runner(Settings() with { OutputDirectory = single }).Run(cks, [Plan(new MeanEvaluator())], _model);
        var m1 = new Runner(Settings(Shard.Parse("1/2"))).Run(cks, [Plan(new MeanEvaluator())], _model);
        var m2 = new Runner(Settings(Shard.Parse("2/2"))).Run(cks, [Plan(new MeanEvaluator())], _model);
        Assert.Equal(5, m1.Done.Count + m2.Done.Count);
        Assert.Empty(m1.Done.Select(j => j.CheckpointId).Intersect(m2.Done.Select(j => j.CheckpointId)));
        Assert.Equal(Metrics(single, "mean"), Metrics(_out, "mean"));
        Assert.True(File.Exists(Path.Combine(_out, "manifest.shard-1-of-2.json")));
    }

    [Fact]
    public void Same_config_twice_gives_identical_files_apart_from_ids_times_and_timings()
    {
        var other = Directory.CreateTempSubdirectory("saebench-twice").FullName;
        new Runner(Settings()).Run([Checkpoint("a", 1.5f)], [Plan(new MeanEvaluator())], _model);
        new Runner(Settings() with { OutputDirectory = other }).Run([Checkpoint("a", 1.5f)], [Plan(new MeanEvaluator())], _model);
        static string Stable(string path)
        {
            var o = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
            o.Remove("eval_id");
            o.Remove("datetime_epoch_millis");
            o["saebench_net"]!.AsObject().Remove("timings");
            return o.ToJsonString();
        }
        Assert.Equal(Stable(ResultEnvelope.PathFor(_out, "mean", "a")), Stable(ResultEnvelope.PathFor(other, "mean", "a")));
    }

    [Fact]
    public void Cancellation_stops_without_partial_files_and_a_rerun_finishes_the_rest()
    {
        using var cts = new CancellationTokenSource();
        var cks = new[] { Checkpoint("a"), Checkpoint("b"), Checkpoint("c") };
        var first = new Runner(Settings()).Run(cks, [Plan(new MeanEvaluator()), Plan(new CancellingEvaluator(cts, atBatch: 2))], _model, cts.Token);
        Assert.True(first.Interrupted);
        Assert.Empty(first.Done); // cancelled during the first checkpoint's stream
        Assert.Empty(Directory.Exists(Path.Combine(_out, "eval_results")) ? Directory.GetFiles(Path.Combine(_out, "eval_results"), "*", SearchOption.AllDirectories) : []);

        var second = new Runner(Settings()).Run(cks, [Plan(new MeanEvaluator())], _model);
        Assert.Equal(3, second.Done.Count);
        Assert.True(second.Succeeded);
    }

    [Fact]
    public void Duplicate_checkpoint_ids_are_refused()
    {
        var e = Assert.Throws<SaeBench.Core.Configuration.ConfigException>(() =>
            new Runner(Settings()).Run([Checkpoint("a"), Checkpoint("a", 2)], [Plan(new MeanEvaluator())], _model));
        Assert.Contains("'a'", e.Message);
    }

    [Fact]
    public void Unknown_options_name_the_field_and_the_valid_ones()
    {
        var e = Assert.Throws<SaeBench.Core.Configuration.ConfigException>(() => new MeanEvaluator().ParseOptions(new JsonObject { ["scael"] = 2 }));
        Assert.Contains("Did you mean 'scale'", e.Message);
    }
}
