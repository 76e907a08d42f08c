using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using SaeBench.Compute.Backends;
using SaeBench.Training;
using SaeBench.Training.Objectives;

namespace SaeBench.Cli.Commands;

/// <summary><c>saebench bench train</c>: training throughput (samples/s) and the share of time in GEMM, per architecture.</summary>
public static class TrainBenchCommand
{
    public static Command Create(CliContext context)
    {
        var arch = new Option<string>("--architecture") { Description = "A trainer id or 'all'.", DefaultValueFactory = _ => "all" };
        var dIn = new Option<int>("--d-in") { Description = "Activation width (the default model's hook is 128).", DefaultValueFactory = _ => 128 };
        var width = new Option<int>("--width") { Description = "Latents.", DefaultValueFactory = _ => 512 };
        var k = new Option<double>("--k") { Description = "Target L0.", DefaultValueFactory = _ => 16 };
        var batch = new Option<int>("--batch-size") { DefaultValueFactory = _ => 256 };
        var steps = new Option<int>("--steps") { Description = "Measured steps per architecture.", DefaultValueFactory = _ => 300 };
        var gemm = new Option<string?>("--gemm") { Description = "auto, openblas, managed (default: $SAEBENCH_GEMM, else auto)." };
        var json = new Option<bool>("--json") { Description = "One JSON object per architecture per line." };
        var codePath = new Option<string>("--code-path")
        {
            Description = "auto (sparse products whenever the codes are sparse enough), dense (GEMMs only) or sparse (always).",
            DefaultValueFactory = _ => "auto",
        };
        var dead = new Option<long?>("--dead-window") { Description = "Tokens without a fire after which a latent is dead (AuxK); default the trainer's." };
        var command = new Command("train", "Time SAE training steps on synthetic sparse data: samples/s and share of time in GEMM.")
        {
            arch, dIn, width, k, batch, steps, gemm, json, codePath, dead,
        };
        command.SetAction(parse =>
        {
            string which = parse.GetValue(arch)!;
            var archs = which == "all" ? ObjectiveFactory.Architectures : [which];
            if (which != "all" && !ObjectiveFactory.Architectures.Contains(which))
                throw new UserInputException($"--architecture: unknown trainer '{which}'. Valid: all, {string.Join(", ", ObjectiveFactory.Architectures)}.");
            int d = parse.GetValue(dIn), w = parse.GetValue(width), b = parse.GetValue(batch), n = parse.GetValue(steps);
            double kk = parse.GetValue(k);
            if (d <= 0 || w <= 0 || b <= 0 || n <= 0 || !(kk > 0) || kk > w)
                throw new UserInputException($"--d-in, --width, --batch-size, --steps must be positive and 0 < --k ≤ --width (got {d}, {w}, {b}, {n}, {kk}).");
            var path = parse.GetValue(codePath) switch
            {
                "auto" => CodePath.Auto,
                "dense" => CodePath.Dense,
                "sparse" => CodePath.Sparse,
                var other => throw new UserInputException($"--code-path: '{other}' is not one of auto, dense, sparse."),
            };
            var backend = Harness.BackendCatalog.Cpu(context.Harness, parse.GetValue(gemm));
            if (!parse.GetValue(json)) context.Out.WriteLine($"{backend.Description}; d_in {d}, width {w}, k {kk}, batch {b}, {n} steps, code path {parse.GetValue(codePath)}");
            foreach (var a in archs)
            {
                var t = TrainingBenchmark.Measure(backend, a, d, w, kk, b, n, path, deadWindow: parse.GetValue(dead));
                if (parse.GetValue(json))
                    context.Out.WriteLine(JsonSerializer.Serialize(new
                    {
                        architecture = a, gemm = backend.Gemm.Name, d_in = d, width = w, k = kk, batch_size = b, steps = t.Steps,
                        seconds = t.Seconds, samples_per_second = t.SamplesPerSecond, gemm_share = t.GemmShare,
                        code_path = parse.GetValue(codePath), sparse_share = t.SparseShare, dead_fraction = t.DeadFraction, l0 = t.L0,
                    }));
                else
                    context.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"{a,-22} {t.SamplesPerSecond,10:F0} samples/s  {t.Steps / t.Seconds,7:F1} steps/s  GEMM {t.GemmShare,5:P0}  sparse steps {t.SparseShare,5:P0}  L0 {t.L0,6:F1}  dead {t.DeadFraction,5:P0}"));
            }
            return ExitCodes.Success;
        });
        return command;
    }
}
