using System.Text;
using System.Text.Json.Nodes;
using SaeBench.Compute.Tensors;
using SaeBench.Core.Autoencoders;
using SaeBench.Core.Checkpoints;
using SaeBench.Core.Checkpoints.Torch;
using SaeBench.Core.Configuration;
using SaeBench.Core.Evaluation;
using SaeBench.Core.Models;
using SaeBench.Core.Registry;
using SaeBench.Core.Results;
using SaeBench.Core.Safetensors;
using SaeBench.Models;
using SaeBench.Reporting;
using SaeBench.Reporting.Results;
using SaeBench.TestKit;
using SaeBench.Training.Suites;

namespace SaeBench.Harness.Tests.Fuzzing;

/// <summary>The real-tool checkpoint fixtures (linked from SaeBench.Core.Tests) and small valid files to mutate.</summary>
public static class Seeds
{
    public static string Root => Path.Combine(AppContext.BaseDirectory, "Fixtures", "checkpoints");

    public static byte[] Read(string relative) => File.ReadAllBytes(Path.Combine(Root, relative));

    /// <summary>Every file of a fixture checkpoint directory, by file name.</summary>
    public static Dictionary<string, byte[]> Directory(string relative) =>
        System.IO.Directory.GetFiles(Path.Combine(Root, relative)).ToDictionary(f => Path.GetFileName(f), File.ReadAllBytes, StringComparer.Ordinal);

    public static IReadOnlyList<string> SafetensorsFiles { get; } =
        System.IO.Directory.GetFiles(Root, "*.safetensors", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(Root, f)).Order(StringComparer.Ordinal).ToList();

    /// <summary>A valid float32 .npy <c>[rows, cols]</c>.</summary>
    public static byte[] Npy(int rows, int cols, Random rng)
    {
        string dict = $"{{'descr': '<f4', 'fortran_order': False, 'shape': ({rows}, {cols}), }}";
        while ((10 + dict.Length + 1) % 64 != 0) dict += " ";
        dict += "\n";
        var bytes = new List<byte> { 0x93 };
        bytes.AddRange("NUMPY"u8.ToArray());
        bytes.AddRange([1, 0, (byte)dict.Length, (byte)(dict.Length >> 8)]);
        bytes.AddRange(Encoding.ASCII.GetBytes(dict));
        for (int i = 0; i < rows * cols; i++) bytes.AddRange(BitConverter.GetBytes((float)rng.NextDouble()));
        return bytes.ToArray();
    }

    /// <summary>The files of a small native (SAELens v6 layout) checkpoint, written once per process into a temp folder.</summary>
    public static Dictionary<string, byte[]> NativeCheckpoint(int d, int seed)
    {
        using var tmp = new TempDirectory("saebench-fuzz-seed");
        var rng = new Random(seed);
        var enc = new HostMatrix(d, 2 * d);
        var dec = new HostMatrix(2 * d, d);
        for (int i = 0; i < enc.Span.Length; i++) enc.Span[i] = (float)rng.NextDouble();
        for (int i = 0; i < dec.Span.Length; i++) dec.Span[i] = (float)rng.NextDouble();
        NativeCheckpointWriter.Write(tmp.Path, new Sae("relu", new SaeParameters { WEnc = enc, BEnc = new float[2 * d], WDec = dec, BDec = new float[d] }));
        return System.IO.Directory.GetFiles(tmp.Path).ToDictionary(f => Path.GetFileName(f), File.ReadAllBytes, StringComparer.Ordinal);
    }

    public static string ResultFile(Random rng)
    {
        var metrics = new[]
        {
            new MetricValue(new MetricDescriptor("reconstruction_quality", "explained_variance", "Explained variance", "fraction", true), rng.NextDouble()),
            new MetricValue(new MetricDescriptor("sparsity", "l0", "L0", "latents", null), 1 + rng.Next(64)),
            new MetricValue(new MetricDescriptor("mdl", "description_length_bits", "Description length", "bits/token", false), null),
        };
        var envelope = new ResultEnvelope("core", new JsonObject { ["seed"] = 42 }, "e", 1_700_000_000_000, new EvalResult(metrics, [new JsonObject { ["latent"] = 1 }]), "custom",
            new JsonObject { ["architecture"] = "topk", ["d_in"] = 8, ["d_sae"] = 16 },
            new Provenance("0.1.0", "asm:0", null, "1", "key", JobStatus.Done, null, "cpu", "file:x", "hash", 0,
                new CheckpointProvenance("a", "00", "/ckpt/a", "saelens", "topk", 8, 16, new Dictionary<string, string> { ["width"] = "16", ["target_l0"] = "4" }), 1.0));
        return envelope.ToJson().ToJsonString(ResultJson.Indented);
    }
}

/// <summary>Loads a checkpoint directory or file every way the harness does: detect, inspect (quick and full), load.</summary>
internal static class CheckpointLoads
{
    public static void All(string path)
    {
        CheckpointLoader.Detect(path);
        CheckpointLoader.Inspect(path, depth: InspectDepth.Quick);
        CheckpointLoader.Inspect(path);
        var loaded = CheckpointLoader.Load(path);
        _ = loaded.Sae.DecoderNorms();
        _ = CheckpointHash.GetOrCompute(CheckpointLoader.Detect(path), null);
    }
}

/// <summary>Lone safetensors weight files: the real fixtures mutated, and headers generated.</summary>
public sealed class SafetensorsTarget : FuzzTarget
{
    private static readonly string[] HeaderKeys = ["W_enc", "b_enc", "W_dec", "b_dec", "threshold", "dtype", "shape", "data_offsets", "__metadata__", "F32", "BF16"];
    private readonly List<byte[]> _seeds = Seeds.SafetensorsFiles.Select(Seeds.Read).ToList();

    public override string Name => "safetensors";

    public override FuzzInput Make(Random rng)
    {
        if (rng.Next(4) == 0)
        {
            var header = Encoding.UTF8.GetBytes(Generators.Json(rng, HeaderKeys));
            var bytes = BitConverter.GetBytes((ulong)header.Length).Concat(header).Concat(Mutations.RandomBytes(rng, rng.Next(512))).ToArray();
            return new FuzzInput { Origin = "generated header" }.With("w.safetensors", bytes);
        }
        int i = rng.Next(_seeds.Count);
        return new FuzzInput { Origin = "mutated " + Seeds.SafetensorsFiles[i] }.With("w.safetensors", Mutations.Bytes(_seeds[i], rng, _seeds));
    }

    public override void Load(string directory)
    {
        var path = Path.Combine(directory, "w.safetensors");
        using (var file = SafetensorsFile.Open(path))
            foreach (var t in file.Tensors.Where(t => t.ElementCount < 1 << 20)) file.ReadSingle(t.Name);
        CheckpointLoads.All(path);
    }
}

/// <summary>Checkpoint directories (SAELens v5/v6, sparsify) with their JSON config mutated or generated, sometimes the weights too.</summary>
public sealed class ConfigCheckpointTarget(string name, IReadOnlyList<string> fixtures, string config, IReadOnlyList<string> keys) : FuzzTarget
{
    public override string Name => name;

    public override FuzzInput Make(Random rng)
    {
        var fixture = rng.Pick(fixtures);
        var files = Seeds.Directory(fixture);
        var input = new FuzzInput();
        string how;
        switch (rng.Next(5))
        {
            case 0:
                files[config] = Encoding.UTF8.GetBytes(Generators.Json(rng, keys));
                how = "generated " + config;
                break;
            case 1:
                files[config] = Mutations.Bytes(files[config], rng);
                how = "byte-mutated " + config;
                break;
            case 2:
            {
                var weights = files.Keys.First(k => k.EndsWith(".safetensors", StringComparison.Ordinal) && !k.StartsWith("sparsity", StringComparison.Ordinal));
                files[weights] = Mutations.Bytes(files[weights], rng);
                how = "mutated " + weights;
                break;
            }
            default:
                files[config] = Mutations.Text(Encoding.UTF8.GetString(files[config]), rng);
                how = "text-mutated " + config;
                break;
        }
        input.Origin = $"{how} of {fixture}";
        foreach (var (file, bytes) in files) input.With("ckpt/" + file, bytes);
        return input;
    }

    public override void Load(string directory) => CheckpointLoads.All(Path.Combine(directory, "ckpt"));
}

/// <summary>dictionary_learning checkpoints: the torch zip mutated as bytes (its directory included), its pickle mutated
/// inside an intact zip, pickles generated from scratch, or config.json mutated.</summary>
public sealed class TorchTarget(string name, string mode) : FuzzTarget
{
    private static readonly string[] Fixtures = ["batchtopk", "gated", "jumprelu", "matryoshka", "standard", "topk"];
    private static readonly string[] ConfigKeys = ["trainer", "dict_class", "activation_dim", "dict_size", "k", "layer", "lm_name", "submodule_name", "buffer", "AutoEncoderTopK", "group_sizes"];

    public override string Name => name;

    public override FuzzInput Make(Random rng)
    {
        var fixture = "dictionary_learning/" + rng.Pick(Fixtures);
        var files = Seeds.Directory(fixture);
        var input = new FuzzInput { Origin = $"{mode} of {fixture}" };
        switch (mode)
        {
            case "zip-bytes":
                files["ae.pt"] = Mutations.Bytes(rng.Next(2) == 0 ? files["ae.pt"] : TorchZip.Rewrite(TorchZip.Entries(files["ae.pt"])), rng);
                break;
            case "pickle-mutated":
            {
                var entries = TorchZip.Entries(files["ae.pt"]);
                int pkl = entries.FindIndex(e => e.Name.EndsWith("data.pkl", StringComparison.Ordinal));
                if (rng.Next(4) != 0) entries[pkl] = (entries[pkl].Name, Mutations.Bytes(entries[pkl].Bytes, rng));
                else
                {
                    // Leave the pickle alone and damage a storage (or the version entry): the pickle's sizes must catch it.
                    int s = rng.Next(entries.Count);
                    entries[s] = (entries[s].Name, Mutations.Bytes(entries[s].Bytes, rng));
                }
                files["ae.pt"] = TorchZip.Rewrite(entries);
                break;
            }
            case "pickle-generated":
            {
                var storages = Enumerable.Range(0, 4).Select(i => (i.ToString(System.Globalization.CultureInfo.InvariantCulture), Mutations.RandomBytes(rng, 4 * rng.Next(64)))).ToArray();
                var entries = new List<(string, byte[])> { ("archive/data.pkl", Generators.Pickle(rng)) };
                entries.AddRange(storages.Select(s => ("archive/data/" + s.Item1, s.Item2)));
                files["ae.pt"] = TorchZip.Rewrite(entries);
                break;
            }
            default: // config
                files["config.json"] = rng.Next(3) == 0
                    ? Encoding.UTF8.GetBytes(Generators.Json(rng, ConfigKeys))
                    : Mutations.Text(Encoding.UTF8.GetString(files["config.json"]), rng);
                break;
        }
        foreach (var (file, bytes) in files) input.With("ckpt/" + file, bytes);
        return input;
    }

    public override void Load(string directory)
    {
        var dir = Path.Combine(directory, "ckpt");
        try
        {
            using var zip = TorchZipCheckpoint.Open(Path.Combine(dir, "ae.pt"));
            foreach (var (tensor, t) in zip.Tensors.Where(t => t.Value.ElementCount < 1 << 20)) zip.ReadSingle(tensor);
        }
        catch (CheckpointFormatException)
        {
        }
        CheckpointLoads.All(dir);
    }
}

/// <summary>Gemma Scope <c>params.npz</c> checkpoints (NumPy's own <c>savez</c> and <c>savez_compressed</c> files): the zip mutated
/// as bytes, one member's <c>.npy</c> bytes mutated inside an intact zip (header and data), or members generated.</summary>
public sealed class NpzTarget : FuzzTarget
{
    private static readonly string[] Fixtures = ["savez", "savez_compressed"];

    public override string Name => "gemma-scope-npz";

    public override FuzzInput Make(Random rng)
    {
        var fixture = rng.Pick(Fixtures);
        var npz = File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "Fixtures", "numpy", fixture, "params.npz"));
        var input = new FuzzInput();
        switch (rng.Next(3))
        {
            case 0:
                input.Origin = "byte-mutated " + fixture;
                npz = Mutations.Bytes(npz, rng);
                break;
            case 1:
            {
                var entries = TorchZip.Entries(npz);
                int i = rng.Next(entries.Count);
                input.Origin = $"mutated member {entries[i].Name} of {fixture}";
                entries[i] = (entries[i].Name, Mutations.Bytes(entries[i].Bytes, rng));
                npz = TorchZip.Rewrite(entries);
                break;
            }
            default:
            {
                input.Origin = "generated members";
                var names = new[] { "W_enc.npy", "W_dec.npy", "b_enc.npy", "b_dec.npy", "threshold.npy", "extra.npy", "W_enc" };
                var entries = Enumerable.Range(0, 1 + rng.Next(6)).Select(_ => (rng.Pick(names), Generators.Npy(rng))).ToList();
                npz = TorchZip.Rewrite(entries);
                break;
            }
        }
        return input.With("ckpt/params.npz", npz);
    }

    public override void Load(string directory)
    {
        var path = Path.Combine(directory, "ckpt", "params.npz");
        try
        {
            using var source = SaeBench.Core.Checkpoints.Numpy.NpzTensorSource.Open(path);
            foreach (var name in source.Arrays.Keys)
                if (source.TryDescribe(name, out var t) && t.ElementCount < 1 << 20) source.Read(name, 0, new float[t.ElementCount]);
        }
        catch (CheckpointFormatException)
        {
        }
        CheckpointLoads.All(Path.Combine(directory, "ckpt"));
    }
}

/// <summary>Activation files (<c>.npy</c> and safetensors), with labels: opened as <c>file:</c> models and streamed.</summary>
public sealed class ActivationFileTarget(string name, string mode) : FuzzTarget
{
    public override string Name => name;

    public override FuzzInput Make(Random rng)
    {
        var input = new FuzzInput();
        switch (mode)
        {
            case "npy":
                input.Origin = rng.Next(2) == 0 ? "generated .npy" : "mutated .npy";
                input.With("acts.npy", input.Origin == "generated .npy" ? Generators.Npy(rng) : Mutations.Bytes(Seeds.Npy(1 + rng.Next(20), 1 + rng.Next(6), rng), rng));
                break;
            case "safetensors":
            {
                int n = 2 + rng.Next(10), p = 1 + rng.Next(3), d = 1 + rng.Next(5);
                var values = Enumerable.Range(0, n * p * d).Select(_ => rng.Next(50) == 0 ? float.NaN : (float)rng.NextDouble()).ToArray();
                using var tmp = new TempDirectory("saebench-fuzz-seed");
                var tensors = new List<SafetensorsTensor>
                {
                    rng.Next(3) switch
                    {
                        0 => SafetensorsTensor.Half("activations", values, HalfKind.BF16, p == 1 ? [n, d] : [n, p, d]),
                        1 => SafetensorsTensor.Half("activations", values, HalfKind.F16, p == 1 ? [n, d] : [n, p, d]),
                        _ => SafetensorsTensor.F32("activations", values, p == 1 ? [n, d] : [n, p, d]),
                    },
                };
                if (rng.Next(2) == 0) tensors.Add(SafetensorsTensor.U8("mask", Enumerable.Range(0, n * p).Select(_ => (byte)rng.Next(2)).ToArray(), n, p));
                SafetensorsWriter.Write(tmp.File("a.safetensors"), tensors);
                input.Origin = "mutated activation safetensors";
                input.With("acts.safetensors", Mutations.Bytes(File.ReadAllBytes(tmp.File("a.safetensors")), rng));
                break;
            }
            default: // labels
            {
                input.With("acts.npy", Seeds.Npy(20, 2, rng));
                if (rng.Next(3) == 0)
                {
                    var valid = "label\n" + string.Join("\n", Enumerable.Range(0, 20).Select(i => (i % 3).ToString(System.Globalization.CultureInfo.InvariantCulture))) + "\n";
                    input.Origin = "mutated labels CSV";
                    input.With("acts.labels.csv", Mutations.Text(valid, rng));
                }
                else
                {
                    input.Origin = "generated labels CSV";
                    input.With("acts.labels.csv", Generators.LabelsCsv(rng, 20));
                }
                break;
            }
        }
        return input;
    }

    public override void Load(string directory)
    {
        var file = Directory.GetFiles(directory).First(f => !f.EndsWith(".csv", StringComparison.Ordinal));
        var model = ModelCatalog.Create("file:" + file, new ModelOptions { WorkingDirectory = directory, CacheActivations = false });
        foreach (var split in new[] { Split.Train, Split.Test })
        {
            foreach (var batch in model.Activations(split).Batches(64))
                using (batch) _ = batch.Activations.ToArray();
            if (model.Capability<ILabelledTasks>() is { } tasks) _ = tasks.Labels(split);
        }
    }
}

/// <summary>YAML: run configs (parsed and validated as <c>saebench run</c> does), checkpoint registries (resolved) and
/// training suites, mutated from real examples or generated.</summary>
public sealed class YamlTarget(string name, string mode) : FuzzTarget
{
    private static readonly string[] RunSeeds =
    [
        """
        model: fashion-mnist-mlp          # or synthetic, or file (then activations: and labels:)
        model_options: { hook: mlp.hidden2, forget_class: Bag }
        checkpoints:
          - path: ckpts/a
            id: topk-16k
            tags: { architecture: topk, width: 16384, target_l0: 64 }
          - glob: ckpts/*
        evaluators:
          - core
          - id: sparse_probing
            options: { k_values: [1, 2, 5] }
        backend: cpu
        output: results
        seed: 0
        """,
        """
        model: file
        activations: acts.npy
        labels: acts.labels.csv
        model_options: {hook: resid, allow_non_finite: false, cache_activations: false}
        checkpoints:
          - glob: "**/cfg.json"
        evaluators: [core, mdl]
        output: out
        """,
        "model: synthetic\nsuite: quick\nevaluators:\n  - id: mdl\n    options: {epsilon: 0.02}\n",
    ];

    private static readonly string[] SuiteSeeds =
    [
        "name: s\nwidths: [64, 128]\ntarget_l0: [4, 8]\narchitectures: [relu, topk]\nseeds: [0]\nsteps: 10\nbatch_size: 32\nlr: 0.001\nbaselines: [pca]\npca_components: 8\noverrides:\n  topk: {aux_k: 4}\n  all: {warmup_fraction: 0.1}\n",
    ];

    private readonly Dictionary<string, byte[]> _checkpoint = Seeds.NativeCheckpoint(4, 1);

    public override string Name => name;

    public override FuzzInput Make(Random rng)
    {
        string text;
        string origin;
        if (rng.Next(5) < 2)
        {
            text = mode == "suite" ? "widths: [64]\ntarget_l0: [4]\n" + Generators.Yaml(rng) : Generators.Yaml(rng);
            origin = "generated YAML";
        }
        else
        {
            var seed = mode switch
            {
                "suite" => rng.Pick(SuiteSeeds),
                "registry" => "checkpoints:\n  - path: ckpts/a\n    id: a\n    tags: {architecture: relu, width: 8}\n  - glob: \"ckpts/**\"\n  - ckpts/a\n",
                _ => rng.Pick(RunSeeds),
            };
            text = Encoding.UTF8.GetString(Mutations.Text(seed, rng));
            origin = "mutated YAML";
        }
        var input = new FuzzInput { Origin = origin }.With("run.yaml", text);
        if (mode != "suite")
        {
            input.With("acts.npy", Seeds.Npy(12, 4, rng));
            foreach (var (file, bytes) in _checkpoint) input.With("ckpts/a/" + file, bytes);
        }
        return input;
    }

    public override void Load(string directory)
    {
        var path = Path.Combine(directory, "run.yaml");
        switch (mode)
        {
            case "suite":
                _ = SuiteDefinition.FromFile(path).Members();
                break;
            case "registry":
                var resolution = CheckpointRegistry.FromFile(path).Resolve();
                foreach (var e in resolution.Entries) _ = e.Sha256;
                break;
            default:
                var env = new HarnessEnvironment(directory, v => v == HarnessEnvironment.CacheVariable ? Path.Combine(directory, "cache") : null, TimeProvider.System, TextWriter.Null);
                new RunPipeline(env).Validate(new RunRequest(RunConfig.Load(path)));
                break;
        }
    }
}

/// <summary>Result files and manifests, read and reported as <c>saebench report</c> does.</summary>
public sealed class ResultFilesTarget : FuzzTarget
{
    private static readonly string[] ResultKeys =
    [
        "eval_type_id", "sae_lens_id", "eval_result_metrics", "saebench_net", "status", "checkpoint", "id", "tags", "metrics", "category",
        "name", "higher_is_better", "datetime_epoch_millis", "sae_cfg_dict", "d_sae", "architecture", "job_key", "explained_variance", "l0",
    ];

    public override string Name => "result-files";

    public override FuzzInput Make(Random rng)
    {
        var input = new FuzzInput();
        string result = Seeds.ResultFile(rng);
        byte[] mutated;
        switch (rng.Next(4))
        {
            case 0:
                mutated = Encoding.UTF8.GetBytes(Generators.Json(rng, ResultKeys));
                input.Origin = "generated result file";
                break;
            case 1:
                mutated = Mutations.Bytes(Encoding.UTF8.GetBytes(result), rng);
                input.Origin = "byte-mutated result file";
                break;
            default:
                mutated = Mutations.Text(result, rng);
                input.Origin = "text-mutated result file";
                break;
        }
        input.With("run/eval_results/core/a_eval_results.json", mutated);
        input.With("run/eval_results/core/b_eval_results.json", result.Replace("\"a\"", "\"b\"", StringComparison.Ordinal));
        var manifest = new RunManifest([new PlannedJob("core", "a", "key")], [new PlannedJob("core", "a", "key")], [], [new FailedJob(new PlannedJob("core", "b", "k2"), "boom")], [], false).ToJsonString();
        input.With("run/manifest.json", rng.Next(3) == 0 ? Mutations.Text(manifest, rng) : Encoding.UTF8.GetBytes(manifest));
        return input;
    }

    public override void Load(string directory)
    {
        var run = Path.Combine(directory, "run");
        _ = ResultFile.ReadStamp(Path.Combine(run, "eval_results", "core", "a_eval_results.json"));
        var set = ResultReader.Load(run);
        ReportBuilder.Build(set, Path.Combine(directory, "report"), new ReportOptions(RenderImages: false));
    }
}

/// <summary>Every target, in a fixed order.</summary>
public static class FuzzTargets
{
    public static IReadOnlyList<FuzzTarget> All() =>
    [
        new SafetensorsTarget(),
        new ConfigCheckpointTarget("saelens", ["saelens_v6/topk", "saelens_v6/gated", "saelens_v6/jumprelu", "saelens_v6/standard", "saelens_v5/topk", "hostile/nan_weights"], "cfg.json",
            ["architecture", "d_in", "d_sae", "dtype", "k", "apply_b_dec_to_input", "normalize_activations", "metadata", "hook_name", "model_name", "activation_fn_str", "activation_fn_kwargs", "norm_scaling_factor", "threshold", "group_sizes"]),
        new ConfigCheckpointTarget("sparsify", ["sparsify/layers.4"], "cfg.json",
            ["activation", "expansion_factor", "num_latents", "k", "d_in", "multi_topk", "skip_connection", "transcode", "normalize_decoder"]),
        new TorchTarget("torch-zip-bytes", "zip-bytes"),
        new TorchTarget("torch-pickle-mutated", "pickle-mutated"),
        new TorchTarget("torch-pickle-generated", "pickle-generated"),
        new TorchTarget("dictionary-learning-config", "config"),
        new NpzTarget(),
        new ActivationFileTarget("npy", "npy"),
        new ActivationFileTarget("activation-safetensors", "safetensors"),
        new ActivationFileTarget("labels-csv", "labels"),
        new YamlTarget("run-config-yaml", "run"),
        new YamlTarget("registry-yaml", "registry"),
        new YamlTarget("suite-yaml", "suite"),
        new ResultFilesTarget(),
    ];
}
