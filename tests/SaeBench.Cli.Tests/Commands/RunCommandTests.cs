using SaeBench.TestKit;
using System.Diagnostics;
using System.Text.Json;
using SaeBench.Cli;
using SaeBench.Compute.Tensors;
using SaeBench.Core.Checkpoints;
using SaeBench.Core.Safetensors;
using SaeBench.Core.Autoencoders;

namespace SaeBench.Cli.Tests.Commands;

/// <summary>End-to-end <c>saebench run</c> on a small activation file with native checkpoints written here.</summary>
public class RunCommandTests
{
    private const int D = 8, N = 240;
    private readonly string _dir = Directory.CreateTempSubdirectory("saebench-run").FullName;

    public RunCommandTests()
    {
        var rng = new Random(5);
        var acts = Enumerable.Range(0, N * D).Select(_ => (float)(rng.NextDouble() * 2)).ToArray(); // positive: the identity part of the ReLU SAEs reconstructs it exactly
        SafetensorsWriter.Write(Path.Combine(_dir, "acts.safetensors"), [SafetensorsTensor.F32("activations", acts, N, D)]);
        File.WriteAllText(Path.Combine(_dir, "labels.csv"), "label\n" + string.Join("\n", Enumerable.Range(0, N).Select(i => i % 3)) + "\n");
    }

    private void WriteCheckpoints(int count)
    {
        for (int c = 0; c < count; c++)
        {
            var rng = new Random(100 + c);
            var enc = new HostMatrix(D, 2 * D);
            var dec = new HostMatrix(2 * D, D);
            for (int i = 0; i < D; i++) { enc[i, i] = 1; dec[i, i] = 1; }
            for (int j = D; j < 2 * D; j++) for (int i = 0; i < D; i++) { enc[i, j] = (float)(rng.NextDouble() - 0.5); dec[j, i] = (float)(rng.NextDouble() - 0.5) * 0.1f * c; }
            var sae = new Sae("relu", new SaeParameters { WEnc = enc, BEnc = new float[2 * D], WDec = dec, BDec = new float[D] });
            NativeCheckpointWriter.Write(Path.Combine(_dir, "ckpts", $"sae{c:D2}"), sae);
        }
    }

    private string Config(string extra = "") => WriteConfig($"""
        model: file
        activations: acts.safetensors
        labels: labels.csv
        checkpoints:
          - glob: ckpts/*
        evaluators: [core]
        output: out
        seed: 3
        {extra}
        """);

    private string WriteConfig(string yaml)
    {
        var path = Path.Combine(_dir, "run.yaml");
        File.WriteAllText(path, yaml);
        return path;
    }

    private (int Code, string Out, string Err) Run(params string[] args) => RunWith(null, args);

    private (int Code, string Out, string Err) RunWith(IReadOnlyDictionary<string, string>? environment, params string[] args)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        int code = SaeBenchApp.RunAsync(args, CliContext.ForWriters(o, e, TestCache.Environment(environment), workingDirectory: _dir)).GetAwaiter().GetResult();
        return (code, o.ToString(), e.ToString());
    }

    private string[] ResultFiles(string outDir = "out") =>
        Directory.GetFiles(Path.Combine(_dir, outDir, "eval_results"), "*.json", SearchOption.AllDirectories).Order().ToArray();

    [Fact]
    public void Runs_writes_results_tables_and_skips_on_rerun()
    {
        WriteCheckpoints(2);
        var (code, output, error) = Run("run", "--config", Config(), "--no-images");
        Assert.True(code == 0, error + output);
        Assert.Equal(2, ResultFiles().Length);
        Assert.True(File.Exists(Path.Combine(_dir, "out", "manifest.json")));
        Assert.True(File.Exists(Path.Combine(_dir, "out", "metrics_tidy.csv")));
        Assert.True(File.Exists(Path.Combine(_dir, "out", "report.html")));
        using (var doc = JsonDocument.Parse(File.ReadAllText(ResultFiles()[0])))
        {
            var root = doc.RootElement;
            Assert.Equal("core", root.GetProperty("eval_type_id").GetString());
            // the first checkpoint (sae00) has a zero extra decoder: identity reconstruction → explained variance 1
            Assert.Equal(1.0, root.GetProperty("eval_result_metrics").GetProperty("reconstruction_quality").GetProperty("explained_variance").GetDouble(), 5);
            Assert.False(root.GetProperty("eval_result_metrics").TryGetProperty("model_performance_preservation", out _)); // no forward pass for files
        }

        var again = Run("run", "--config", Config(), "--no-images");
        Assert.Equal(0, again.Code);
        Assert.Contains("skipped 2", again.Out);
    }

    [Fact]
    public void A_corrupt_checkpoint_fails_its_job_the_others_complete_and_the_exit_code_is_1()
    {
        WriteCheckpoints(2);
        var weights = Path.Combine(_dir, "ckpts", "sae01", "sae_weights.safetensors");
        var bytes = File.ReadAllBytes(weights);
        File.WriteAllBytes(weights, bytes[..(bytes.Length / 2)]);
        var (code, output, error) = Run("run", "--config", Config(), "--no-report");
        Assert.Equal(1, code);
        Assert.Contains("failed 1", output);
        Assert.Contains("sae_weights.safetensors", error);
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(_dir, "out", "eval_results", "core", "ckpts-sae00_eval_results.json")));
        Assert.Equal("done", doc.RootElement.GetProperty("saebench_net").GetProperty("status").GetString());
    }

    [Fact]
    public void Bad_input_is_exit_code_2_naming_the_problem()
    {
        WriteCheckpoints(1);
        var unknownEval = Run("run", "--config", Config(), "--evals", "cor");
        Assert.Equal(2, unknownEval.Code);
        Assert.Contains("Did you mean 'core'", unknownEval.Err);

        var badOption = Run("run", "--config", WriteConfig("model: file\nactivations: acts.safetensors\ncheckpoints: [ckpts]\nevaluators:\n  - id: core\n    options: { batch_tokenz: 5 }\n"));
        Assert.Equal(2, badOption.Code);
        Assert.Contains("batch_tokens", badOption.Err);

        var missing = Run("run", "--config", WriteConfig("model: file\nactivations: acts.safetensors\ncheckpoints:\n  - path: nowhere\n"));
        Assert.Equal(2, missing.Code);
        Assert.Contains("nowhere", missing.Err);

        Assert.Equal(2, Run("run", "--config", Config(), "--shard", "3/2").Code);
        Assert.Equal(2, Run("run", "--config", Config(), "--backend", "cuda").Code);
    }

    [Fact]
    public async Task Three_independent_errors_are_reported_together_before_anything_is_trained_or_loaded()
    {
        // An unknown evaluator, a missing checkpoint path and an unavailable backend — and a model that would train on use.
        var cache = Path.Combine(_dir, "cache");
        var config = WriteConfig("""
            model: fashion-mnist-mlp
            checkpoints:
              - path: missing-checkpoint
            evaluators: [core, sparse_probes]
            backend: tpu
            output: out
            """);
        var watch = Stopwatch.StartNew();
        var o = new StringWriter();
        var e = new StringWriter();
        int code = await SaeBenchApp.RunAsync(["run", "--config", config],
            CliContext.ForWriters(o, e, new Dictionary<string, string> { ["SAEBENCH_CACHE"] = cache }, _dir));

        Assert.Equal(ExitCodes.BadInput, code);
        var error = e.ToString();
        Assert.Contains("3 problems", error);
        Assert.Contains("sparse_probes", error);       // unknown evaluator (with its suggestion)
        Assert.Contains("Did you mean 'sparse_probing'", error);
        Assert.Contains("missing-checkpoint", error);  // missing path
        Assert.Contains("tpu", error);                 // unknown backend
        Assert.DoesNotContain("   at ", error);
        Assert.InRange(watch.Elapsed.TotalSeconds, 0, 20);
        Assert.False(Directory.Exists(Path.Combine(cache, "fashion-mnist-mlp")), "the MLP was trained although the run was invalid");
        Assert.False(Directory.Exists(Path.Combine(_dir, "out")), "the run wrote output although it was invalid");
    }

    [Fact]
    public void Two_shards_give_the_same_metrics_as_one_run()
    {
        WriteCheckpoints(3);
        Assert.Equal(0, Run("run", "--config", Config(), "--out", "whole", "--no-report").Code);
        Assert.Equal(0, Run("run", "--config", Config(), "--out", "sharded", "--shard", "1/2").Code);
        Assert.Equal(0, Run("run", "--config", Config(), "--out", "sharded", "--shard", "2/2").Code);
        static string Metrics(string f) => JsonDocument.Parse(File.ReadAllText(f)).RootElement.GetProperty("eval_result_metrics").GetRawText();
        var whole = ResultFiles("whole");
        var sharded = ResultFiles("sharded");
        Assert.Equal(whole.Select(Path.GetFileName), sharded.Select(Path.GetFileName));
        Assert.Equal(whole.Select(Metrics), sharded.Select(Metrics));
    }

    [Theory]
    [InlineData("slurm")]
    [InlineData("indexed-job")]
    public void Shard_auto_under_a_scheduler_covers_the_plan_exactly_once_in_one_directory(string scheduler)
    {
        WriteCheckpoints(5);
        var manifests = new List<Core.Results.RunManifest>();
        for (int task = 0; task < 3; task++)
        {
            var env = scheduler == "slurm"
                ? new Dictionary<string, string> { ["SLURM_ARRAY_TASK_ID"] = (task + 1).ToString(System.Globalization.CultureInfo.InvariantCulture),
                    ["SLURM_ARRAY_TASK_MIN"] = "1", ["SLURM_ARRAY_TASK_MAX"] = "3", ["SLURM_ARRAY_TASK_COUNT"] = "3" }
                : new Dictionary<string, string> { ["JOB_COMPLETION_INDEX"] = task.ToString(System.Globalization.CultureInfo.InvariantCulture), ["SAEBENCH_SHARD_COUNT"] = "3" };
            var r = RunWith(env, "run", "--config", Config(), "--out", "shared", "--shard", "auto");
            Assert.True(r.Code == 0, r.Err + r.Out);
            Assert.Contains($"shard {task + 1}/3", r.Out);
            manifests.Add(Core.Results.RunManifest.Parse(File.ReadAllText(Path.Combine(_dir, "shared", $"manifest.shard-{task + 1}-of-3.json"))));
        }
        var planned = manifests.SelectMany(m => m.Planned).Select(j => j.CheckpointId).ToList();
        Assert.Equal(5, planned.Count);                        // every checkpoint planned by exactly one shard …
        Assert.Equal(5, planned.Distinct().Count());
        Assert.Equal(5, ResultFiles("shared").Length);         // … and evaluated once, into one directory
        var report = Run("report", "shared");
        Assert.Equal(0, report.Code);
        Assert.Equal(5, Core.Results.RunManifest.Parse(File.ReadAllText(Path.Combine(_dir, "shared", "manifest.json"))).Done.Count);
    }

    [Fact]
    public async Task Ctrl_c_lists_the_finished_jobs_writes_the_manifest_and_exits_130()
    {
        WriteCheckpoints(30);
        using var cts = new CancellationTokenSource();
        var results = Path.Combine(_dir, "out", "eval_results");
        var watcher = Task.Run(() =>
        {
            // "Ctrl-C" as soon as the first result file is there
            var deadline = Stopwatch.StartNew();
            while (!cts.IsCancellationRequested && deadline.Elapsed < TimeSpan.FromSeconds(60))
            {
                if (Directory.Exists(results) && Directory.EnumerateFiles(results, "*.json", SearchOption.AllDirectories).Any()) { cts.Cancel(); return; }
                Thread.Sleep(5);
            }
        });
        var o = new StringWriter();
        var e = new StringWriter();
        var context = CliContext.ForWriters(o, e, TestCache.Environment(), workingDirectory: _dir);
        var request = new Harness.RunRequest(Core.Configuration.RunConfig.Load(Config())) { BatchRows = 16, BuildReport = false };
        int code = Cli.Commands.RunCommand.Execute(context, request, cts.Token);
        await watcher;

        Assert.Equal(ExitCodes.Interrupted, code);
        var manifest = Core.Results.RunManifest.Parse(File.ReadAllText(Path.Combine(_dir, "out", "manifest.json")));
        Assert.True(manifest.Interrupted);
        Assert.InRange(manifest.Done.Count, 1, 29);
        var err = e.ToString();
        Assert.Contains($"interrupted: {manifest.Done.Count} job(s) finished in this run", err);
        foreach (var job in manifest.Done) Assert.Contains($"finished: {job.CheckpointId}: core", err);
        Assert.Contains("run the same command again to resume", err);
    }

    [Fact]
    public void Checkpoint_options_evaluate_those_checkpoints_without_a_config_file()
    {
        WriteCheckpoints(3);
        var r = Run("run", "--model", "file:acts.safetensors", "--checkpoint", "ckpts/sae00", "--checkpoint", Path.Combine(_dir, "ckpts", "sae02"),
            "--evals", "core", "--out", "adhoc", "--no-report");
        Assert.True(r.Code == 0, r.Err + r.Out);
        Assert.Equal(2, ResultFiles("adhoc").Length);
        Assert.DoesNotContain("training the", r.Err);
    }

    [Trait(Category.Name, Category.Slow)]
    [Fact]
    public void A_run_killed_mid_way_resumes_without_redoing_finished_jobs_and_leaves_no_partial_file()
    {
        WriteCheckpoints(40);
        var cli = Path.Combine(AppContext.BaseDirectory, "saebench.dll");
        var config = Config();
        var psi = new ProcessStartInfo("dotnet", ["exec", cli, "run", "--config", config, "--no-report", "--batch-rows", "16"])
        {
            WorkingDirectory = _dir,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            Environment = { ["SAEBENCH_CACHE"] = TestCache.Directory }, // never the repository's cache
        };
        using (var p = Process.Start(psi)!)
        {
            p.OutputDataReceived += (_, _) => { };
            p.ErrorDataReceived += (_, _) => { };
            p.BeginOutputReadLine();
            p.BeginErrorReadLine();
            var deadline = Stopwatch.StartNew();
            while (deadline.Elapsed < TimeSpan.FromSeconds(60) && !p.HasExited
                   && (!Directory.Exists(Path.Combine(_dir, "out", "eval_results")) || ResultFiles().Length < 3))
                Thread.Sleep(20);
            Assert.False(p.HasExited, "the run finished before it could be killed; make it longer");
            p.Kill(entireProcessTree: true); // SIGKILL
            p.WaitForExit();
        }

        var before = ResultFiles().ToDictionary(f => f, f => JsonDocument.Parse(File.ReadAllText(f)).RootElement.GetProperty("eval_id").GetString());
        Assert.InRange(before.Count, 3, 39);

        var (code, output, error) = Run("run", "--config", config, "--no-report");
        Assert.True(code == 0, error);
        Assert.Contains($"skipped {before.Count}", output);
        var after = ResultFiles();
        Assert.Equal(40, after.Length);
        foreach (var (file, id) in before)
            Assert.Equal(id, JsonDocument.Parse(File.ReadAllText(file)).RootElement.GetProperty("eval_id").GetString());
        Assert.Empty(Directory.GetFiles(Path.Combine(_dir, "out"), "*.tmp", SearchOption.AllDirectories));
    }
}
