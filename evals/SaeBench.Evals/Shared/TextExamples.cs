using SaeBench.Compute.Tensors;
using SaeBench.Core.Evaluation;
using SaeBench.Core.Models;

namespace SaeBench.Evals.Shared;

/// <summary>
/// Texts as probe examples on a language model, SAEBench's way (<c>sae_bench_utils/activation_collection.py</c>): each text
/// is tokenized with the model's BOS rule and truncated to the context length; the model's activations at the hook and
/// the SAE's code are mean-pooled over the tokens that are not special (BOS, EOS, padding — SAEBench zeroes those and
/// divides by the count of the others; padding never exists here, texts are not padded).
/// </summary>
public static class TextExamples
{
    /// <summary>Token ids of <paramref name="text"/>, at most <paramref name="contextLength"/>, at least one.</summary>
    public static int[] Tokenize(ITextModel model, string text, int contextLength)
    {
        var ids = model.Tokenizer.Encode(text);
        if (ids.Length > contextLength) ids = ids[..contextLength];
        return ids.Length > 0 ? ids : model.Tokenizer.Encode(" ");
    }

    /// <summary>
    /// Mean-pooled latents (<see cref="PooledExamples.Latents"/>) and activations (<see cref="PooledExamples.Activations"/>)
    /// of the texts, example i = texts[i]; batches of about <see cref="EvaluationContext.BatchRows"/> tokens.
    /// </summary>
    public static PooledExamples EncodePooled(EvaluationContext context, ITextModel model, IReadOnlyList<string> texts, int contextLength,
        CancellationToken cancellation = default)
    {
        var collector = new PoolingCollector(Enumerable.Range(0, texts.Count), context.Sae.DSae, context.Model.Info.DModel);
        var batch = new List<int[]>();
        var batchIndex = new List<int>();
        int tokens = 0;

        void Flush()
        {
            if (batch.Count == 0) return;
            cancellation.ThrowIfCancellationRequested();
            using var x = model.HookActivations(batch);
            using var f = new HostMatrix(x.Rows, context.Sae.DSae);
            context.Sae.Encode(context.Backend, x, f);
            var index = new int[x.Rows];
            var valid = new bool[x.Rows];
            int row = 0;
            for (int s = 0; s < batch.Count; s++)
                foreach (int id in batch[s])
                {
                    index[row] = batchIndex[s];
                    valid[row] = !model.Tokenizer.IsSpecial(id);
                    row++;
                }
            collector.Observe(x, f, index, valid);
            batch.Clear();
            batchIndex.Clear();
            tokens = 0;
        }

        for (int i = 0; i < texts.Count; i++)
        {
            var ids = Tokenize(model, texts[i], contextLength);
            if (tokens + ids.Length > Math.Max(context.BatchRows, contextLength)) Flush();
            batch.Add(ids);
            batchIndex.Add(i);
            tokens += ids.Length;
        }
        Flush();
        return collector.Finish();
    }
}
