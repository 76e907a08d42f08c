using System.Diagnostics;

namespace SaeBench.Models.Language;

/// <summary>One timed forward pass.</summary>
public sealed record ForwardTiming(int Repetition, double Seconds, double TokensPerSecond);

/// <summary>The result of <see cref="ForwardBenchmark.Run"/>: every repetition and the best and median throughput.</summary>
public sealed record ForwardBenchmarkResult(
    string Model, int Batch, int Context, bool Logits, IReadOnlyList<ForwardTiming> Timings, double ForwardGflop, string Gemm)
{
    public double BestTokensPerSecond => Timings.Max(t => t.TokensPerSecond);

    public double MedianTokensPerSecond
    {
        get
        {
            var sorted = Timings.Select(t => t.TokensPerSecond).OrderBy(v => v).ToArray();
            int n = sorted.Length;
            return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
        }
    }

    /// <summary>GFLOP/s of the matrix products at the best repetition (2·m·n·k per GEMM, attention included).</summary>
    public double BestGflops => ForwardGflop / Timings.Min(t => t.Seconds);
}

/// <summary>
/// Times the forward pass: <c>[batch, context]</c> random tokens, the whole model and (by default) the full logits
/// <c>[batch·context, vocab]</c>, the same work as the PyTorch peer script (benchmarks/lm/torch_forward.py).
/// One warm-up pass, then the given number of timed passes.
/// </summary>
public static class ForwardBenchmark
{
    public static ForwardBenchmarkResult Run(LanguageModel model, int batch, int context, int repetitions = 5, bool logits = true, string? name = null)
    {
        if (repetitions <= 0) throw new ArgumentOutOfRangeException(nameof(repetitions));
        var tokens = RandomTransformer.Tokens(model.Config.Vocab, batch, context);
        var output = logits ? new Compute.Tensors.HostMatrix(tokens.Tokens, model.Config.Vocab) : null;
        void Pass()
        {
            using var result = model.Forward(tokens);
            if (output is not null) model.LogitsInto(result.RequireHidden(), output);
        }
        Pass();
        var timings = new List<ForwardTiming>();
        for (int i = 0; i < repetitions; i++)
        {
            var sw = Stopwatch.StartNew();
            Pass();
            double s = sw.Elapsed.TotalSeconds;
            timings.Add(new ForwardTiming(i, s, tokens.Tokens / s));
        }
        return new ForwardBenchmarkResult(name ?? model.Source ?? model.Config.ModelType, batch, context, logits, timings,
            Flops(model.Config, batch, context, logits) / 1e9, model.Backend.Gemm.Name);
    }

    /// <summary>Floating-point operations of the matrix products of one pass (2 per multiply-add).</summary>
    public static double Flops(TransformerConfig c, int batch, int context, bool logits)
    {
        double n = (double)batch * context;
        double perLayer = 2 * n * c.DModel * (c.FusedQkvWidth + c.DModel + c.MlpInWidth + c.DMlp);
        double attention = 0;
        for (int l = 0; l < c.Layers; l++)
        {
            double keys = 0;
            for (int t = 0; t < context; t++) keys += c.SlidingWindow[l] > 0 ? Math.Min(t + 1, c.SlidingWindow[l]) : t + 1;
            attention += 2 * 2 * batch * keys * c.QueryWidth;
        }
        return c.Layers * perLayer + attention + (logits ? 2 * n * c.DModel * c.Vocab : 0);
    }
}
