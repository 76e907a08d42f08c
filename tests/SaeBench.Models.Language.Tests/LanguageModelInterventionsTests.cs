using SaeBench.Compute.Backends;
using SaeBench.Compute.Tensors;

namespace SaeBench.Models.Language.Tests;

/// <summary>
/// RAVEL's interventions on a real (tiny, random) transformer: batched, right-padded greedy generation with an edit at one
/// position per sequence equals running each sequence alone and splicing the edited hook value in by hand.
/// </summary>
public sealed class LanguageModelInterventionsTests
{
    private const int Vocab = 60;
    private static readonly HookPoint Hook = new(0, HookKind.ResidPost);

    private static LanguageModel Model()
    {
        var config = TinyLlama.Config(layers: 2, Vocab);
        // Larger weights than the default 0.02 so that the logits are far from ties.
        var weights = RandomTransformer.Weights(config, seed: 11);
        foreach (var m in new[] { weights.Embed }.Concat(weights.Layers.SelectMany(l => new[] { l.Qkv, l.Out, l.MlpIn, l.MlpOut })))
            foreach (ref var v in m.Span) v *= 25;
        return new LanguageModel(config, weights);
    }

    private static List<int[]> Sequences()
    {
        var rng = new Random(4);
        return [.. new[] { 5, 9, 3, 7 }.Select(n => Enumerable.Range(0, n).Select(_ => rng.Next(Vocab)).ToArray())];
    }

    private static int ArgMax(ReadOnlySpan<float> row)
    {
        int best = 0;
        for (int i = 1; i < row.Length; i++) if (row[i] > row[best]) best = i;
        return best;
    }

    /// <summary>The reference: one sequence at a time, no padding, the edit spliced with ForwardFromHook.</summary>
    private static int[] Alone(LanguageModel model, int[] prompt, int count, int? position, float[]? row)
    {
        var ids = prompt.ToList();
        for (int step = 0; step < count; step++)
        {
            var tokens = new TokenBatch(ids.ToArray(), 1, ids.Count);
            ForwardResult run;
            if (position is int p)
            {
                using var value = model.RunToHook(tokens, Hook.Name);
                row!.CopyTo(value.Row(p));
                run = model.ForwardFromHook(Hook, value, tokens);
            }
            else run = model.Forward(tokens);
            using (run)
            using (var logits = model.Logits(run.RequireHidden()))
                ids.Add(ArgMax(logits.Row(ids.Count - 1)));
        }
        return ids.Skip(prompt.Length).ToArray();
    }

    [Fact]
    public void Hook_rows_are_the_rows_at_the_positions()
    {
        var model = Model();
        var sequences = Sequences();
        int[] positions = [4, 0, 2, 6];
        using var rows = new LanguageModelInterventions(model, Hook, maxBatchTokens: 20).HookRowsAt(sequences, positions);
        for (int i = 0; i < sequences.Count; i++)
        {
            using var alone = model.RunToHook(new TokenBatch(sequences[i], 1, sequences[i].Length), Hook.Name);
            // Padding does not change a sequence, up to the GEMM's blocking over a different number of rows.
            var expected = alone.Row(positions[i]).ToArray();
            var actual = rows.Row(i).ToArray();
            for (int j = 0; j < expected.Length; j++) Assert.Equal(expected[j], actual[j], 1e-4 * (1 + Math.Abs(expected[j])));
        }
    }

    [Fact]
    public void Batched_generation_equals_each_sequence_alone_with_and_without_an_edit()
    {
        var model = Model();
        var sequences = Sequences();
        // A budget of 20 tokens per batch: lengths 5, 9 | 3, 7 — two batches, each with a padded sequence.
        var interventions = new LanguageModelInterventions(model, Hook, maxBatchTokens: 20);
        var plain = interventions.Generate(sequences, 4);
        for (int i = 0; i < sequences.Count; i++) Assert.Equal(Alone(model, sequences[i], 4, null, null), plain[i]);

        int[] positions = [2, 8, 1, 6];
        var rng = new Random(8);
        using var rows = new HostMatrix(sequences.Count, 16);
        foreach (ref var v in rows.Span) v = (float)(rng.NextDouble() * 40 - 20);
        var edited = interventions.Generate(sequences, 4, positions, rows);
        for (int i = 0; i < sequences.Count; i++) Assert.Equal(Alone(model, sequences[i], 4, positions[i], rows.Row(i).ToArray()), edited[i]);
        Assert.Contains(Enumerable.Range(0, sequences.Count), i => !plain[i].SequenceEqual(edited[i])); // the edit matters
    }

    /// <summary>Loss of one sequence alone with its hook row at <paramref name="position"/> replaced, in double from the logits.</summary>
    private static double LossAlone(LanguageModel model, int[] ids, int position, float[] row, int target)
    {
        var tokens = new TokenBatch(ids, 1, ids.Length);
        using var value = model.RunToHook(tokens, Hook.Name);
        row.CopyTo(value.Row(position));
        using var run = model.ForwardFromHook(Hook, value, tokens);
        using var logits = model.Logits(run.RequireHidden());
        var last = logits.Row(ids.Length - 1).ToArray();
        double max = last.Max();
        return -(last[target] - max - Math.Log(last.Sum(l => Math.Exp(l - max))));
    }

    [Fact]
    public void Batched_loss_gradient_equals_each_sequence_alone_and_finite_differences()
    {
        var model = Model();
        var sequences = Sequences();
        int[] positions = [2, 8, 1, 6];
        int[] targets = [3, 17, 42, 0];
        var interventions = new LanguageModelInterventions(model, Hook, maxBatchTokens: 20); // padded batches, as above
        using var rows = interventions.HookRowsAt(sequences, positions);
        var rng = new Random(3);
        foreach (ref var v in rows.Span) v += (float)(rng.NextDouble() - 0.5);
        using var result = interventions.LossGradient(sequences, positions, rows, targets);
        for (int i = 0; i < sequences.Count; i++)
        {
            var row = rows.Row(i).ToArray();
            Assert.Equal(LossAlone(model, sequences[i], positions[i], row, targets[i]), result.Losses[i], 4);
            double largest = 0;
            for (int j = 0; j < row.Length; j++) largest = Math.Max(largest, Math.Abs(result.Gradient[i, j]));
            // The scaled-up weights make the hook rows long, and the next norm divides by their length: gradients are small.
            Assert.True(largest > 1e-4, $"sequence {i}: a vanishing gradient would make the comparison vacuous ({largest})");
            for (int j = 0; j < row.Length; j++)
            {
                const float h = 0.1f;
                var plus = (float[])row.Clone();
                var minus = (float[])row.Clone();
                plus[j] += h;
                minus[j] -= h;
                double numeric = (LossAlone(model, sequences[i], positions[i], plus, targets[i]) - LossAlone(model, sequences[i], positions[i], minus, targets[i])) / (2 * h);
                Assert.True(Math.Abs(numeric - result.Gradient[i, j]) <= 1e-5 + 3e-2 * largest, $"sequence {i}, dim {j}: {result.Gradient[i, j]} vs {numeric} (largest {largest})");
            }
        }
    }

    [Fact]
    public void Positions_outside_a_sequence_are_refused()
    {
        var interventions = new LanguageModelInterventions(Model(), Hook, maxBatchTokens: 64);
        Assert.Throws<ArgumentOutOfRangeException>(() => interventions.HookRowsAt([[1, 2, 3]], [3]));
        using var rows = new HostMatrix(1, 16);
        Assert.Throws<ArgumentException>(() => interventions.Generate([[1, 2, 3]], 2, [1], null));
    }
}
