using SaeBench.Compute.Tensors;

namespace SaeBench.Core.Models;

/// <summary>
/// The model's forward pass from the hook, as a capability that hands back statistics, never logits: for a batch, the
/// model runs the rest of its forward pass once with the batch's own hook values (clean) and once per replacement, and
/// compares each run's prediction with the target and with the clean run. The target is whatever the model predicts:
/// the class for a classifier, the next token for a language model. So no <c>rows × vocabulary</c> matrix crosses
/// the contract (a language model reduces its logits chunk by chunk). Activation files do not have this capability.
/// </summary>
public interface IDownstreamLoss
{
    /// <summary>
    /// <paramref name="replacements"/> are <c>[batch.Rows, DModel]</c>, laid out like the batch (whole examples,
    /// example-major). The model may use <see cref="ActivationBatch.Split"/> and <see cref="ActivationBatch.ExampleIndex"/>
    /// to recompute what precedes the hook. Passing the batch's own activations as a replacement reproduces the clean
    /// run's outcomes exactly.
    /// </summary>
    DownstreamComparison Compare(ActivationBatch batch, IReadOnlyList<HostMatrix> replacements);
}

/// <summary>The clean run's outcomes and one set per replacement, in the order the replacements were given.</summary>
public sealed record DownstreamComparison(RowOutcomes Clean, IReadOnlyList<RowOutcomes> Replaced);

/// <summary>Per row (token or example) of one run: the loss against the target, the divergence from the clean run and
/// whether the prediction was right. Rows without a target (unlabelled, or the last token of a context) have
/// <see cref="HasTarget"/> false: their cross-entropy and correctness mean nothing, their KL does.</summary>
public sealed class RowOutcomes
{
    public RowOutcomes(int rows)
    {
        CrossEntropy = new double[rows];
        KlFromClean = new double[rows];
        Correct = new bool[rows];
        HasTarget = new bool[rows];
    }

    public int Rows => CrossEntropy.Length;

    /// <summary>−log p(target) in nats (natural log), where <see cref="HasTarget"/>.</summary>
    public double[] CrossEntropy { get; }

    /// <summary>KL(p_clean ‖ p_run) in nats; 0 for the clean run.</summary>
    public double[] KlFromClean { get; }

    /// <summary>Whether the run's most likely prediction (the first of equal maxima) is the target.</summary>
    public bool[] Correct { get; }

    public bool[] HasTarget { get; }
}
