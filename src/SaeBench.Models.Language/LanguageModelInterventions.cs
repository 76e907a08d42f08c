using SaeBench.Compute.Tensors;
using SaeBench.Core.Models;

namespace SaeBench.Models.Language;

/// <summary>
/// RAVEL's interventions on a <see cref="LanguageModel"/> at one hook (<see cref="ITextInterventions"/>): the hook's rows
/// at chosen positions, and greedy generation with the hook's value replaced at one position per sequence. There is no
/// KV cache: every generated token re-runs the whole sequence with the same edit at the same prompt position, which is
/// what SAEBench's cached generation computes (its hook skips the length-1 steps because the cache already carries the
/// edit). Sequences are right-padded into batches: with causal attention padding after a sequence does not change it,
/// and each sequence's logits are read at its own last position. The gradient half (<see cref="IHookGradient"/>) is in
/// LanguageModelInterventions.Gradient.cs.
/// </summary>
public sealed partial class LanguageModelInterventions(LanguageModel model, HookPoint hook, int maxBatchTokens) : ITextInterventions
{
    public LanguageModel Model { get; } = model;

    public HookPoint Hook { get; } = hook;

    public HostMatrix HookRowsAt(IReadOnlyList<int[]> sequences, IReadOnlyList<int> positions)
    {
        CheckPositions(sequences, positions);
        var result = new HostMatrix(sequences.Count, Model.Hooks.Width(Hook));
        foreach (var (batch, first, lengths) in Batches(sequences))
        {
            using var values = Model.RunToHook(batch, Hook.Name);
            for (int b = 0; b < lengths.Length; b++)
                values.Row(b * batch.Context + positions[first + b]).CopyTo(result.Row(first + b));
        }
        return result;
    }

    public int[][] Generate(IReadOnlyList<int[]> sequences, int count, IReadOnlyList<int>? positions = null, HostMatrix? rows = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        if ((positions is null) != (rows is null)) throw new ArgumentException("Give both the positions and the rows of the edit, or neither.");
        if (positions is not null)
        {
            CheckPositions(sequences, positions);
            if (rows!.Rows != sequences.Count || rows.Cols != Model.Hooks.Width(Hook))
                throw new ArgumentException($"Edit rows are {rows.Rows}×{rows.Cols} for {sequences.Count} sequences at a hook of width {Model.Hooks.Width(Hook)}.");
        }
        var current = sequences.Select(s => s.ToList()).ToList();
        var generated = sequences.Select(_ => new int[count]).ToArray();
        for (int step = 0; step < count; step++)
        {
            var inputs = current.Select(c => c.ToArray()).ToList();
            foreach (var (batch, first, lengths) in Batches(inputs))
            {
                var options = positions is null ? ForwardOptions.Plain
                    : new ForwardOptions([Hook], new RowEdit(batch.Context, lengths.Select((_, b) => positions[first + b]).ToArray(), rows!, first));
                using var run = Model.Forward(batch, options);
                var hidden = run.RequireHidden();
                using var last = new HostMatrix(lengths.Length, hidden.Cols);
                for (int b = 0; b < lengths.Length; b++) hidden.Row(b * batch.Context + lengths[b] - 1).CopyTo(last.Row(b));
                using var logits = new HostMatrix(lengths.Length, Model.Config.Vocab);
                Model.LogitsInto(last, logits);
                for (int b = 0; b < lengths.Length; b++)
                {
                    int next = ArgMax(logits.Row(b));
                    generated[first + b][step] = next;
                    current[first + b].Add(next);
                }
            }
        }
        return generated;
    }

    /// <summary>The first index of the largest logit (torch.argmax's tie rule).</summary>
    private static int ArgMax(ReadOnlySpan<float> row)
    {
        int best = 0;
        for (int i = 1; i < row.Length; i++) if (row[i] > row[best]) best = i;
        return best;
    }

    private void CheckPositions(IReadOnlyList<int[]> sequences, IReadOnlyList<int> positions)
    {
        if (positions.Count != sequences.Count) throw new ArgumentException($"{positions.Count} positions for {sequences.Count} sequences.");
        for (int i = 0; i < sequences.Count; i++)
            if (positions[i] < 0 || positions[i] >= sequences[i].Length)
                throw new ArgumentOutOfRangeException(nameof(positions), $"Position {positions[i]} is outside sequence {i} of {sequences[i].Length} tokens.");
    }

    /// <summary>Right-padded batches of consecutive sequences, at most <c>maxBatchTokens</c> tokens each (one sequence at least).</summary>
    private IEnumerable<(TokenBatch Batch, int First, int[] Lengths)> Batches(IReadOnlyList<int[]> sequences) =>
        TokenBatch.RightPadded(sequences, maxBatchTokens, Model.Config);

    /// <summary>Writes row <c>first + b</c> of <paramref name="rows"/> over the hook's value at position <c>positions[b]</c> of sequence b.</summary>
    private sealed class RowEdit(int context, int[] positions, HostMatrix rows, int first) : IHookHandler
    {
        public void OnHook(HookPoint hook, HostMatrix value)
        {
            for (int b = 0; b < positions.Length; b++) rows.Row(first + b).CopyTo(value.Row(b * context + positions[b]));
        }
    }
}
