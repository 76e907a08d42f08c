using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using SaeBench.Compute.Backends;
using SaeBench.Compute.Kernels;
using SaeBench.Compute.Tensors;

namespace SaeBench.Cli.Commands;

/// <summary><c>saebench bench …</c>: quick throughput measurements of the compute kernels.</summary>
public static class BenchCommand
{
    public static Command Create(CliContext context)
    {
        var bench = new Command("bench", "Measure compute kernels on this machine (GEMM, top-k selection).");
        bench.Subcommands.Add(Gemm(context));
        bench.Subcommands.Add(TopK(context));
        bench.Subcommands.Add(CoreEvaluatorBench.Create(context));
        bench.Subcommands.Add(TrainBenchCommand.Create(context));
        bench.Subcommands.Add(LmCommand.Bench(context));
        return bench;
    }

    private static Command Gemm(CliContext context)
    {
        var m = new Option<int>("--m") { Description = "Rows of A and C.", DefaultValueFactory = _ => 2048 };
        var k = new Option<int>("--k") { Description = "Columns of A, rows of B.", DefaultValueFactory = _ => 768 };
        var n = new Option<int>("--n") { Description = "Columns of B and C.", DefaultValueFactory = _ => 4096 };
        var backend = new Option<string>("--backend") { Description = "openblas, managed or all.", DefaultValueFactory = _ => "all" };
        backend.AcceptOnlyFromAmong("openblas", "managed", "all");
        var seconds = new Option<double>("--seconds") { Description = "Minimum measuring time per backend.", DefaultValueFactory = _ => 2.0 };
        var json = new Option<bool>("--json") { Description = "One JSON object per backend per line (keys: backend, m, k, n, seconds, gflops)." };
        var command = new Command("gemm", "Time C = A·B (float32) on each GEMM backend and report GFLOP/s (best of repeated runs).")
        {
            m, k, n, backend, seconds, json,
        };
        command.SetAction(parse =>
        {
            int M = parse.GetValue(m), K = parse.GetValue(k), N = parse.GetValue(n);
            if (M <= 0 || K <= 0 || N <= 0) throw new UserInputException($"--m, --k, --n must be positive (got {M}, {K}, {N}).");
            string which = parse.GetValue(backend)!;
            var choices = which == "all" ? new[] { "openblas", "managed" } : new[] { which };
            using var a = Random(M, K, 1);
            using var b = Random(K, N, 2);
            using var c = new HostMatrix(M, N);
            int status = ExitCodes.Success;
            foreach (var name in choices)
            {
                IGemm gemm;
                try
                {
                    gemm = Harness.BackendCatalog.Cpu(context.Harness, name).Gemm;
                }
                catch (Core.BadInputException e)
                {
                    context.Error.WriteLine($"{name}: {e.Message}");
                    status = ExitCodes.Failed;
                    continue;
                }
                double best = Measure(() => gemm.Gemm(a, false, b, false, c), parse.GetValue(seconds));
                double gflops = 2.0 * M * N * K / best / 1e9;
                if (parse.GetValue(json))
                    context.Out.WriteLine(JsonSerializer.Serialize(new { backend = name, implementation = gemm.Name, m = M, k = K, n = N, seconds = best, gflops }));
                else
                    context.Out.WriteLine($"{name,-9} {gemm.Name,-32} {M}×{K}·{K}×{N}: {best * 1e3,9:F2} ms  {gflops,8:F1} GFLOP/s");
            }
            return status;
        });
        return command;
    }

    private static Command TopK(CliContext context)
    {
        var rows = new Option<int>("--rows") { Description = "Rows (tokens).", DefaultValueFactory = _ => 1024 };
        var cols = new Option<int>("--cols") { Description = "Columns (latents).", DefaultValueFactory = _ => 16384 };
        var k = new Option<int>("--k") { Description = "Entries kept per row.", DefaultValueFactory = _ => 64 };
        var json = new Option<bool>("--json") { Description = "Print one JSON object." };
        var command = new Command("topk", "Time exact row top-k selection (one thread) and report elements/s.") { rows, cols, k, json };
        command.SetAction(parse =>
        {
            int R = parse.GetValue(rows), C = parse.GetValue(cols), K = parse.GetValue(k);
            if (R <= 0 || C <= 0 || K < 0 || K > C) throw new UserInputException($"Need rows, cols > 0 and 0 ≤ k ≤ cols (got {R}, {C}, {K}).");
            using var x = Random(R, C, 3);
            var idx = new int[R * K];
            var val = new float[R * K];
            double best = Measure(() => Selection.RowTopK(x.Span, R, C, K, idx, val), 1.0);
            double rate = (double)R * C / best;
            if (parse.GetValue(json))
                context.Out.WriteLine(JsonSerializer.Serialize(new { op = "row_topk", rows = R, cols = C, k = K, seconds = best, elements_per_second = rate }));
            else
                context.Out.WriteLine($"row top-{K} of {C}, {R} rows: {best * 1e3:F2} ms, {rate / 1e6:F0} M elements/s (one thread)");
            return ExitCodes.Success;
        });
        return command;
    }

    internal static HostMatrix Random(int rows, int cols, int seed)
    {
        var m = new HostMatrix(rows, cols);
        var rng = new Random(seed);
        var s = m.Span;
        for (int i = 0; i < s.Length; i++) s[i] = (float)(rng.NextDouble() * 2 - 1);
        return m;
    }

    /// <summary>Best wall time of repeated calls after one warm-up, measuring for at least <paramref name="seconds"/>.</summary>
    internal static double Measure(Action action, double seconds)
    {
        action();
        double best = double.MaxValue;
        var total = Stopwatch.StartNew();
        int runs = 0;
        while (runs < 3 || total.Elapsed.TotalSeconds < seconds)
        {
            var sw = Stopwatch.StartNew();
            action();
            best = Math.Min(best, sw.Elapsed.TotalSeconds);
            runs++;
            if (runs >= 1000) break;
        }
        return best;
    }
}
