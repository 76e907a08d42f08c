using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using SaeBench.Cli;
using SaeBench.Compute.Tensors;
using SaeBench.Core.Autoencoders;
using SaeBench.Core.Checkpoints;
using SaeBench.Core.Safetensors;
using SaeBench.TestKit;

namespace SaeBench.Cli.Tests.Commands;

/// <summary>
/// Issue 19 end to end: every hostile or broken input the issue names reaches the user as one line naming the file (and
/// the field), exit code 2 — never the last-resort handler's stack trace; a machine that fails is one line, exit 1; and
/// inside a run a checkpoint that once killed the process fails only its own jobs.
/// </summary>
public sealed class HostileInputCommandTests : IDisposable
{
    private const int D = 4, N = 40;
    private readonly TempDirectory _dir = new();

    public HostileInputCommandTests()
    {
        var rng = new Random(3);
        SafetensorsWriter.Write(_dir.File("acts.safetensors"), [SafetensorsTensor.F32("activations", Enumerable.Range(0, N * D).Select(_ => (float)rng.NextDouble()).ToArray(), N, D)]);
        var eye = new HostMatrix(D, D);
        for (int i = 0; i < D; i++) eye[i, i] = 1;
        NativeCheckpointWriter.Write(_dir.File("ckpts", "good"), new Sae("relu", new SaeParameters { WEnc = eye, BEnc = new float[D], WDec = eye.Clone(), BDec = new float[D] }));
    }

    public void Dispose() => _dir.Dispose();

    private (int Code, string Out, string Err) Run(params string[] args)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        int code = SaeBenchApp.RunAsync(args, CliContext.ForWriters(o, e, TestCache.Environment(), workingDirectory: _dir.Path)).GetAwaiter().GetResult();
        return (code, o.ToString(), e.ToString());
    }

    private static void NoStackTrace(string error)
    {
        Assert.DoesNotContain("   at ", error);
        Assert.DoesNotContain("unexpected", error);
    }

    private string Config(string name, string yaml)
    {
        var path = _dir.File(name);
        File.WriteAllText(path, yaml);
        return path;
    }

    private const string Base = "model: file\nactivations: acts.safetensors\ncheckpoints:\n  - glob: ckpts/*\nevaluators: [core]\noutput: out\n";

    public static TheoryData<string, string, string> BadConfigs() => new()
    {
        { "deep", "model_options: {hook: " + new string('[', 30_000) + new string(']', 30_000) + "}\n", "nested deeper than 64 levels" },
        { "laughs", "model_options:\n  l0: &l0 [a, a, a, a, a, a, a, a, a]\n" + string.Concat(Enumerable.Range(1, 9).Select(i => $"  l{i}: &l{i} [{string.Join(", ", Enumerable.Repeat($"*l{i - 1}", 9))}]\n")), "billion laughs" },
        { "cycle", "model_options: &x\n  hook: *x\n", "*x is inside the node it names" },
        { "key", "? [model]\n: file\n", "a mapping key must be a plain value" },
        { "id", "evaluators:\n  - id: 5\n", "'id' must be an evaluator id (text), found the number 5" },
        { "hook", "model_options: {hook: 5}\n", "model_options: hook must be a name (non-empty text), found the number 5" },
        { "nul", "output: \"res\\0ults\"\n", "NUL character" },
        { "glob", "checkpoints:\n  - glob: \"ckpts/[]\"\n", "empty character class" },
    };

    [Theory]
    [MemberData(nameof(BadConfigs))]
    public void A_hostile_run_config_is_exit_2_naming_the_file(string name, string yaml, string expected)
    {
        var config = Config(name + ".yaml", yaml.StartsWith("checkpoints", StringComparison.Ordinal) ? "model: file\nactivations: acts.safetensors\n" + yaml : yaml);
        var (code, _, error) = Run("run", "--config", config, "--no-images");
        Assert.True(code == 2, $"exit {code}: {error}");
        Assert.StartsWith("error: ", error);
        Assert.Contains(config, error);
        Assert.Contains(expected, error);
        NoStackTrace(error);
    }

    private string SaeLensCopy(Func<byte[], byte[]> edit)
    {
        var dir = _dir.Directory("bad-ckpt");
        foreach (var f in Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "Fixtures", "checkpoints", "saelens_v6", "topk")))
            File.Copy(f, Path.Combine(dir, Path.GetFileName(f)), overwrite: true);
        var cfg = Path.Combine(dir, "cfg.json");
        File.WriteAllBytes(cfg, edit(File.ReadAllBytes(cfg)));
        return dir;
    }

    private static Func<byte[], byte[]> Text(Func<string, string> edit) => bytes => Encoding.UTF8.GetBytes(edit(Encoding.UTF8.GetString(bytes)));

    public static TheoryData<string> BadCheckpointConfigs() => ["duplicate", "surrogate", "utf8", "infinite"];

    [Theory]
    [MemberData(nameof(BadCheckpointConfigs))]
    public void A_broken_checkpoint_config_is_exit_2_naming_the_file(string kind)
    {
        var dir = SaeLensCopy(kind switch
        {
            "duplicate" => Text(t => t.Replace("\"k\": 8", "\"k\": 8, \"k\": 9")),
            "surrogate" => Text(t => t.Replace("\"gpt2\"", "\"gpt2\\ud800\"")),
            "utf8" => bytes => [.. bytes[..20], 0xFF, 0xFE, .. bytes[20..]],
            _ => Text(t => t.Replace("\"d_sae\": 64", "\"d_sae\": 1e999")),
        });
        foreach (var command in new[] { "inspect", "run" })
        {
            var (code, _, error) = command == "inspect"
                ? Run("inspect", dir)
                : Run("run", "--config", Config("c.yaml", "model: file\nactivations: acts.safetensors\ncheckpoints: [bad-ckpt]\nevaluators: [core]\noutput: out\n"), "--no-images");
            if (command == "run")
            {
                // Inside a run a bad checkpoint fails its own jobs (exit 1) and names the file.
                Assert.True(code == 1, $"exit {code}: {error}");
                Assert.Contains("failed: core on bad-ckpt", error);
            }
            else Assert.True(code == 2, $"exit {code}: {error}");
            Assert.Contains(Path.Combine(dir, "cfg.json"), error);
            NoStackTrace(error);
        }
    }

    /// <summary>The three pickles that once killed the process (stack overflow) or its machine (memory).</summary>
    public static TheoryData<string> HostilePickles() => ["self", "deep", "aliases"];

    private static byte[] Pickle(string kind)
    {
        var b = new PickleBuilder().Proto(2);
        switch (kind)
        {
            case "self":
                return b.EmptyDict().Put(0).Str("w").Get(0).SetItem().Stop().ToArray();
            case "deep":
                b.EmptyDict();
                for (int i = 0; i < 200_000; i++) b.Str("a").EmptyDict();
                for (int i = 0; i < 200_000; i++) b.SetItem();
                return b.Stop().ToArray();
            default:
                b.EmptyDict().Put(0).Pop();
                for (int i = 1; i <= 30; i++) b.EmptyDict().Str("a").Get(i - 1).SetItem().Str("b").Get(i - 1).SetItem().Put(i).Pop();
                return b.EmptyDict().Str("w").Get(30).SetItem().Stop().ToArray();
        }
    }

    [Theory]
    [MemberData(nameof(HostilePickles))]
    public void A_hostile_ae_pt_fails_only_its_own_jobs_in_a_run_and_is_exit_2_alone(string kind)
    {
        var bad = _dir.Directory("ckpts", "hostile");
        TorchZip.Write(Path.Combine(bad, "ae.pt"), Pickle(kind));
        File.WriteAllText(Path.Combine(bad, "config.json"), """{"trainer": {"dict_class": "AutoEncoder", "activation_dim": 4, "dict_size": 4}}""");

        var (code, output, error) = Run("run", "--config", Config("run.yaml", Base), "--no-images");
        Assert.True(code == 1, $"exit {code}: {error}");
        Assert.Contains("done 1,", output);
        Assert.Contains("failed: core on ckpts-hostile", error);
        Assert.Contains(Path.Combine(bad, "ae.pt"), error);
        NoStackTrace(error);
        using (var manifest = JsonDocument.Parse(File.ReadAllText(_dir.File("out", "manifest.json"))))
            Assert.Equal(1, manifest.RootElement.GetProperty("failed").GetArrayLength());

        (code, _, error) = Run("inspect", bad);
        Assert.True(code == 2, $"exit {code}: {error}");
        Assert.Contains(Path.Combine(bad, "ae.pt"), error);
        NoStackTrace(error);
    }

    [Fact]
    public void A_corrupted_zip_directory_is_exit_2_naming_the_file()
    {
        var bad = _dir.Directory("zip");
        var src = Path.Combine(AppContext.BaseDirectory, "Fixtures", "checkpoints", "dictionary_learning", "topk");
        File.Copy(Path.Combine(src, "config.json"), Path.Combine(bad, "config.json"));
        var bytes = File.ReadAllBytes(Path.Combine(src, "ae.pt"));
        int end = bytes.Length - 22;
        while (BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(end)) != 0x06054b50) end--;
        bytes[end + 8]++;  // entries on this disk
        bytes[end + 10]++; // entries in all: the directory is read lazily, on first use, where this once escaped
        File.WriteAllBytes(Path.Combine(bad, "ae.pt"), bytes);
        var (code, _, error) = Run("inspect", bad);
        Assert.True(code == 2, $"exit {code}: {error}");
        Assert.Contains(Path.Combine(bad, "ae.pt") + ": the zip is corrupt (Number of entries expected", error);
        NoStackTrace(error);
    }

    [Theory]
    [InlineData("nan")]
    [InlineData("overflow")]
    [InlineData("labels")]
    public void Hostile_activation_files_end_cleanly(string kind)
    {
        string spec;
        switch (kind)
        {
            case "nan":
                var values = Enumerable.Range(0, N * D).Select(i => i == 9 ? float.NaN : 0.5f).ToArray();
                SafetensorsWriter.Write(_dir.File("nan.safetensors"), [SafetensorsTensor.F32("activations", values, N, D)]);
                spec = "file:nan.safetensors";
                break;
            case "overflow":
                var dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (1073741824, 1073741824, 16), }".PadRight(117) + "\n";
                File.WriteAllBytes(_dir.File("huge.npy"), [0x93, .. "NUMPY"u8.ToArray(), 1, 0, (byte)dict.Length, 0, .. Encoding.ASCII.GetBytes(dict)]);
                spec = "file:huge.npy";
                break;
            default:
                File.WriteAllText(_dir.File("acts.labels.csv"), "label\n" + string.Join("\n", Enumerable.Range(0, N).Select(i => i % 2 == 0 ? "1000000000" : "0")) + "\n");
                spec = "file:acts.safetensors";
                break;
        }
        var (code, _, error) = Run("run", "--config", Config("run.yaml", Base), "--model", spec, "--no-images", "--evals", "core");
        NoStackTrace(error);
        if (kind == "labels")
        {
            Assert.True(code == 0, $"exit {code}: {error}");
            return;
        }
        Assert.True(code == 2, $"exit {code}: {error}");
        Assert.Contains(kind == "nan" ? "nan.safetensors: tensor 'activations' holds 1 non-finite values (NaN or ±Inf), the first at example 2, dimension 1" : "huge.npy: field 'shape'", error);
    }

    [Fact]
    public void An_infinite_number_in_a_result_file_is_a_warning_naming_the_file_and_field()
    {
        var run = _dir.Directory("results");
        Reporting.Tests.Fixtures.ResultFiles.Write(run, "core", new("a", "topk", 64), [Reporting.Tests.Fixtures.ResultFiles.Mse(0.5), Reporting.Tests.Fixtures.ResultFiles.L0(4)]);
        var file = Path.Combine(run, "eval_results", "core", "a_eval_results.json");
        File.WriteAllText(file, File.ReadAllText(file).Replace("\"mse\": 0.5", "\"mse\": 1e999"));
        var (code, _, error) = Run("report", run, "--no-images");
        Assert.True(code == 0, $"exit {code}: {error}");
        Assert.Contains("a_eval_results.json", error);
        Assert.Contains("eval_result_metrics.reconstruction_quality.mse' is 1e999, not a finite number", error);
        NoStackTrace(error);
    }

    [Fact]
    public void An_output_directory_under_a_file_is_one_line_exit_1_before_any_work()
    {
        File.WriteAllText(_dir.File("blocker"), "a file");
        var (code, output, error) = Run("run", "--config", Config("run.yaml", Base), "--out", "blocker/out", "--no-images");
        Assert.True(code == 1, $"exit {code}: {error}");
        Assert.StartsWith("error: cannot write " + _dir.File("blocker", "out"), error);
        Assert.Contains("a file or directory is in the way", error);
        Assert.DoesNotContain("done", output);
        NoStackTrace(error);
    }
}
