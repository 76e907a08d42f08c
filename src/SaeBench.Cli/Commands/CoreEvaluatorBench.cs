using SaeBench.Evals.Shared;
using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using SaeBench.Compute.Tensors;
using SaeBench.Core.Evaluation;
using SaeBench.Core.Models;
using SaeBench.Core.Autoencoders;
using SaeBench.Evals.CoreEval;

namespace SaeBench.Cli.Commands;

/// <summary>
/// <c>saebench bench core</c>: the core evaluator's streaming work (encode with top-k, sparse decode, every token-level
/// metric; no forward pass) against the encode GEMM alone on the same data, as a ratio. The per-latent max-cosine
/// details (an F×F computation that does not grow with tokens) are timed separately.
/// </summary>
internal static class CoreEvaluatorBench
{
    public static Command Create(CliContext context)
    {
        var d = new Option<int>("--d") { Description = "d_model.", DefaultValueFactory = _ => 768 };
        var f = new Option<int>("--f") { Description = "d_sae.", DefaultValueFactory = _ => 16384 };
        var k = new Option<int>("--k") { Description = "TopK k.", DefaultValueFactory = _ => 64 };
        var tokens = new Option<int>("--tokens") { Description = "Evaluation tokens.", DefaultValueFactory = _ => 16384 };
        var batch = new Option<int>("--batch-rows") { Description = "Tokens per batch.", DefaultValueFactory = _ => 2048 };
        var details = new Option<bool>("--details") { Description = "Also time the per-latent details (max cosine, F×F blocked)." };
        var json = new Option<bool>("--json") { Description = "Print one JSON object." };
        var command = new Command("core", "Time the core evaluator's streaming metrics against the encode GEMM alone (ratio; target ≤ 1.3).")
        {
            d, f, k, tokens, batch, details, json,
        };
        command.SetAction(parse =>
        {
            int D = parse.GetValue(d), F = parse.GetValue(f), K = parse.GetValue(k), T = parse.GetValue(tokens), B = parse.GetValue(batch);
            if (D <= 0 || F <= 0 || T <= 0 || B <= 0 || K <= 0 || K > F)
                throw new UserInputException($"--d, --f, --tokens and --batch-rows must be positive and 0 < --k ≤ --f (got {D}, {F}, {T}, {B}, k {K}).");
            var backend = Harness.BackendCatalog.Cpu(context.Harness);
            using var x = BenchCommand.Random(T, D, 1);
            using var wEnc = BenchCommand.Random(D, F, 2);
            using var wDec = wEnc.Transpose();
            var sae = new Sae("topk", new SaeParameters { WEnc = wEnc, BEnc = new float[F], WDec = wDec, BDec = new float[D], K = K });
            var model = new InMemoryModel(x);
            using var c = HostMatrix.Rent(B, F, clear: false);

            double gemm = BenchCommand.Measure(() =>
            {
                for (int s = 0; s < T; s += B)
                {
                    int n = Math.Min(B, T - s);
                    backend.Gemm.Gemm(x.SliceRows(s, n), false, wEnc, false, c.SliceRows(0, n));
                }
            }, 3);

            var evaluator = new CoreEvaluator();
            var options = evaluator.ParseOptions(new() { ["compute_downstream_loss"] = false, ["compute_feature_details"] = false });
            var ctx = new EvaluationContext(sae, "bench", new Dictionary<string, string>(), model, backend, 0, B, context.Clock);
            double full = BenchCommand.Measure(() => Core.Running.SingleJob.Run(evaluator, options, ctx), 3);

            double? detailSeconds = null;
            if (parse.GetValue(details))
            {
                var sw = Stopwatch.StartNew();
                LatentGeometry.MaxCosineToOthers(backend, wDec);
                detailSeconds = sw.Elapsed.TotalSeconds;
            }
            double ratio = full / gemm;
            if (parse.GetValue(json))
                context.Out.WriteLine(JsonSerializer.Serialize(new { d = D, f = F, k = K, tokens = T, encode_gemm_seconds = gemm, core_evaluator_seconds = full, ratio, max_cosine_one_matrix_seconds = detailSeconds, gemm = backend.Gemm.Name }));
            else
            {
                context.Out.WriteLine($"encode GEMM alone ({T}×{D}·{D}×{F}, {backend.Gemm.Name}): {gemm:F3} s");
                context.Out.WriteLine($"core evaluator, streaming metrics (encode + top-{K} + decode + metrics):  {full:F3} s");
                context.Out.WriteLine($"ratio: {ratio:F2} (target ≤ 1.3)");
                if (detailSeconds is { } ds) context.Out.WriteLine($"per-latent max cosine, one {F}×{D} matrix (blocked F×F): {ds:F3} s (×2 for encoder and decoder; independent of tokens)");
            }
            return ExitCodes.Success;
        });
        return command;
    }

    /// <summary>Test-split activations held in memory; no labels, no forward pass.</summary>
    private sealed class InMemoryModel(HostMatrix x) : IModelUnderStudy, IActivationSource
    {
        public ModelInfo Info { get; } = new("bench", "bench", x.Cols, 1, "bench", "in-memory benchmark activations");
        public ActivationShape Shape => new(x.Rows, 1, x.Cols);
        public IActivationSource Activations(Split split) => this;
        public T? Capability<T>() where T : class => null;

        public IEnumerable<ActivationBatch> Batches(int maxRows, Range? examples = null)
        {
            var (start, count) = (examples ?? Range.All).GetOffsetAndLength(x.Rows);
            for (int s = start; s < start + count; s += maxRows)
            {
                int n = Math.Min(maxRows, start + count - s);
                yield return ActivationBatch.ForExamples(Split.Test, x.SliceRows(s, n), s, 1, new int[n]);
            }
        }
    }
}
