using SaeBench.Compute.Backends;

namespace SaeBench.Models.Language.Tests;

/// <summary>The chunked loss / KL / accuracy path: equal to the full-logits computation, and never holding more than its chunks.</summary>
public sealed class LossEvaluatorTests
{
    private static TransformerConfig Tiny(int vocab) => TinyLlama.Config(layers: 1, vocab) with { FinalSoftCap = 5f };

    [Fact]
    public void Chunked_metrics_equal_the_full_logits_computation()
    {
        var model = RandomTransformer.Model(Tiny(500), seed: 3);
        var tokens = RandomTransformer.Tokens(500, 3, 40, seed: 5);
        using var clean = model.Forward(tokens);
        using var noisyValue = model.RunToHook(tokens, "blocks.0.hook_resid_mid");
        var rng = new Random(2);
        foreach (ref var v in noisyValue.Span) v += (float)(rng.NextDouble() - 0.5);
        using var noisy = model.ForwardFromHook("blocks.0.hook_resid_mid", noisyValue, tokens);
        var metrics = new LossEvaluator(model, chunkRows: 17).Evaluate(noisy.RequireHidden(), tokens, clean.RequireHidden());

        using var full = model.Logits(noisy.RequireHidden());
        using var fullClean = model.Logits(clean.RequireHidden());
        int t = tokens.Context;
        for (int r = 0; r < tokens.Tokens; r++)
        {
            var row = full.Row(r);
            var refRow = fullClean.Row(r);
            double max = row.ToArray().Max(), refMax = refRow.ToArray().Max();
            double lse = max + Math.Log(row.ToArray().Sum(x => Math.Exp(x - max)));
            double refLse = refMax + Math.Log(refRow.ToArray().Sum(x => Math.Exp(x - refMax)));
            double kl = 0;
            for (int i = 0; i < row.Length; i++)
            {
                double p = Math.Exp(refRow[i] - refLse);
                kl += p * ((refRow[i] - refLse) - (row[i] - lse));
            }
            Assert.True(Math.Abs(kl - metrics.Kl![r]) <= 2e-5 * Math.Max(1, kl), $"KL row {r}: {metrics.Kl[r]} vs {kl}");
            int argMax = Array.IndexOf(row.ToArray(), row.ToArray().Max());
            Assert.Equal(argMax == Array.IndexOf(refRow.ToArray(), refRow.ToArray().Max()), metrics.SameTop1![r]);
            if (r % t == t - 1) continue;
            int k = r / t * (t - 1) + r % t;
            int next = tokens.Ids[r + 1];
            Assert.True(Math.Abs(lse - row[next] - metrics.Loss[k]) <= 2e-5 * Math.Max(1, lse - row[next]), $"loss row {r}");
            Assert.Equal(argMax == next, metrics.Correct[k]);
        }
        Assert.True(metrics.MeanKl > 0);
        Assert.Equal(3 * 39, metrics.Loss.Length);
    }

    [Fact]
    public void The_evaluator_never_materialises_more_than_its_chunks_of_logits()
    {
        const int vocab = 65_536, chunk = 16;
        var model = RandomTransformer.Model(Tiny(vocab), seed: 1);
        var tokens = RandomTransformer.Tokens(vocab, 8, 64, seed: 2);
        using var clean = model.Forward(tokens);
        using var other = model.Forward(RandomTransformer.Tokens(vocab, 8, 64, seed: 9));
        var evaluator = new LossEvaluator(model, chunk);
        evaluator.Evaluate(clean.RequireHidden(), tokens, other.RequireHidden()); // warm the pool and the JIT

        long fullLogitsBytes = (long)tokens.Tokens * vocab * sizeof(float); // 134 MB
        long chunkBytes = (long)chunk * vocab * sizeof(float);                // 4 MB
        // Counted on this thread, where the evaluator rents its logits buffers (and where any full-logits allocation
        // would happen), so tests running in parallel do not disturb the count.
        long before = GC.GetAllocatedBytesForCurrentThread();
        var metrics = evaluator.Evaluate(clean.RequireHidden(), tokens, other.RequireHidden());
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(tokens.Tokens, metrics.Kl!.Length);
        Assert.Equal(2L * chunk * vocab, evaluator.PeakLogitElements);
        Assert.True(allocated < 3 * chunkBytes, $"allocated {allocated:N0} bytes; two chunks are {2 * chunkBytes:N0}, the full logits {fullLogitsBytes:N0}");
        Assert.True(fullLogitsBytes > 10 * allocated);
    }
}
