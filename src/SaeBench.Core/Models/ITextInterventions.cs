using SaeBench.Compute.Tensors;

namespace SaeBench.Core.Models;

/// <summary>
/// A language model's hook rows at chosen positions and greedy generation with the hook's value replaced at one position
/// per sequence (RAVEL's interchange interventions). Sequences are token ids, BOS included where the model wants one;
/// positions are indices into them.
/// </summary>
public interface ITextInterventions
{
    /// <summary>The hook's value at <paramref name="positions"/>[i] of sequence i, one row per sequence (<c>[n, DModel]</c>).</summary>
    HostMatrix HookRowsAt(IReadOnlyList<int[]> sequences, IReadOnlyList<int> positions);

    /// <summary>
    /// <paramref name="count"/> greedy tokens after each sequence. When <paramref name="rows"/> is given, the hook's value at
    /// <paramref name="positions"/>[i] of sequence i is replaced by <c>rows.Row(i)</c> on every step (the prompt positions
    /// carry the edit; generated positions are never edited).
    /// </summary>
    int[][] Generate(IReadOnlyList<int[]> sequences, int count, IReadOnlyList<int>? positions = null, HostMatrix? rows = null);
}

/// <summary>
/// The gradient of next-token cross-entropy with respect to one hook row per sequence: with the hook's value at
/// <c>positions[i]</c> of sequence i replaced by <c>rows.Row(i)</c>, <c>loss_i = −log p(targets[i])</c> at the sequence's last
/// position, and <see cref="HookRowGradient.Gradient"/> row i = ∂loss_i/∂rows.Row(i).
/// </summary>
public interface IHookGradient
{
    HookRowGradient LossGradient(IReadOnlyList<int[]> sequences, IReadOnlyList<int> positions, HostMatrix rows, IReadOnlyList<int> targets);
}

/// <summary>Per-sequence losses and the gradient rows (<c>[n, DModel]</c>; the caller disposes it).</summary>
public sealed record HookRowGradient(double[] Losses, HostMatrix Gradient) : IDisposable
{
    public void Dispose() => Gradient.Dispose();
}
