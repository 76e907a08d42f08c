namespace SaeBench.Training.Objectives;

/// <summary>What one forward/backward pass of an objective measured.</summary>
public sealed class StepResult
{
    public StepResult(int dSae) => FiresPerLatent = new long[dSae];

    /// <summary>The total loss the gradients are of.</summary>
    public double Loss { get; set; }

    /// <summary>Mean over the batch of ‖x − x̂‖² (mean over prefixes for matryoshka).</summary>
    public double Reconstruction { get; set; }

    /// <summary>Σ‖x − x̂‖² of the full reconstruction (for explained variance).</summary>
    public double SquaredErrorSum { get; set; }

    /// <summary>The sparsity penalty before its coefficient (mean Σ_j of the penalised quantity).</summary>
    public double RawPenalty { get; set; }

    /// <summary>Auxiliary terms (AuxK, aux_zipf_loss, gated's frozen-decoder term), already weighted.</summary>
    public double Auxiliary { get; set; }

    /// <summary>Mean number of non-zero codes per token.</summary>
    public double L0 { get; set; }

    /// <summary>Number of tokens each latent fired on.</summary>
    public long[] FiresPerLatent { get; }

    /// <summary>Batch architectures: the smallest selected positive activation (NaN when none).</summary>
    public double MinSelected { get; set; } = double.NaN;

    /// <summary>feature_choice: each latent's smallest selected positive activation (NaN when none).</summary>
    public float[]? MinSelectedPerLatent { get; set; }

    /// <summary>A hash of every discrete choice the pass made (which codes are active, which were selected for
    /// the auxiliary loss); only computed when asked (finite-difference tests use it to skip kink crossings).</summary>
    public ulong Support { get; set; }

    /// <summary>True when the pass ran on the sparse-code path (<see cref="CodePath"/>).</summary>
    public bool SparseCodes { get; set; }
}
