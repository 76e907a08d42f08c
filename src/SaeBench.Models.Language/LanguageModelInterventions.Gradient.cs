using SaeBench.Compute.Tensors;
using SaeBench.Core.Models;

namespace SaeBench.Models.Language;

/// <summary>RAVEL's hook gradient (<see cref="IHookGradient"/>) over <c>LanguageModel.GradientFromHook</c>: residual-stream hooks only.</summary>
public sealed partial class LanguageModelInterventions : IHookGradient
{
    /// <summary>
    /// Per chunk of right-padded sequences: the clean hook value with each sequence's row at its position replaced, then
    /// <c>LanguageModel.GradientFromHook</c> for the target token at each sequence's own last position; the gradient
    /// row of sequence i is read at its edited position.
    /// </summary>
    public HookRowGradient LossGradient(IReadOnlyList<int[]> sequences, IReadOnlyList<int> positions, HostMatrix rows, IReadOnlyList<int> targets)
    {
        CheckPositions(sequences, positions);
        if (targets.Count != sequences.Count) throw new ArgumentException($"{targets.Count} targets for {sequences.Count} sequences.");
        if (rows.Rows != sequences.Count || rows.Cols != Model.Hooks.Width(Hook))
            throw new ArgumentException($"Edit rows are {rows.Rows}×{rows.Cols} for {sequences.Count} sequences at a hook of width {Model.Hooks.Width(Hook)}.");
        var losses = new double[sequences.Count];
        var gradient = new HostMatrix(sequences.Count, rows.Cols);
        try
        {
            foreach (var (batch, first, lengths) in Batches(sequences))
            {
                using var value = Model.RunToHook(batch, Hook.Name);
                var tokenTargets = new TokenTarget[lengths.Length];
                for (int b = 0; b < lengths.Length; b++)
                {
                    rows.Row(first + b).CopyTo(value.Row(b * batch.Context + positions[first + b]));
                    tokenTargets[b] = new TokenTarget(b, lengths[b] - 1, targets[first + b]);
                }
                using var result = Model.GradientFromHook(Hook, value, batch.Context, tokenTargets);
                for (int b = 0; b < lengths.Length; b++)
                {
                    losses[first + b] = result.Losses[b];
                    result.Gradient.Row(b * batch.Context + positions[first + b]).CopyTo(gradient.Row(first + b));
                }
            }
            return new HookRowGradient(losses, gradient);
        }
        catch
        {
            gradient.Dispose();
            throw;
        }
    }
}
