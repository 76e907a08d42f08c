namespace SaeBench.Training.Objectives;

/// <summary>
/// The non-parameter state a training objective reads during a step and updates after it: step counter, dead-latent
/// tracking, running densities, the penalty controller, annealing and inference thresholds. It is saved in the
/// resumable state file, so everything here must be plain numbers.
/// </summary>
public sealed class ObjectiveState
{
    public ObjectiveState(int dSae)
    {
        TokensSinceFire = new long[dSae];
        Density = new double[dSae];
        LatentThreshold = new float[dSae];
        Capacity = new int[dSae];
    }

    /// <summary>Steps completed.</summary>
    public long Step { get; set; }

    /// <summary>Training tokens since each latent last fired.</summary>
    public long[] TokensSinceFire { get; }

    /// <summary>Running (EMA) firing frequency of each latent, per token.</summary>
    public double[] Density { get; }

    /// <summary>Penalty coefficient (λ; α for p_anneal), adapted towards the target L0.</summary>
    public double Penalty { get; set; }

    /// <summary>Warm-up factor s(t) ∈ [0, 1] multiplying the penalty this step (objectives that warm up λ); 1 otherwise.</summary>
    public double PenaltyScale { get; set; } = 1;

    /// <summary>p_anneal exponent p.</summary>
    public double P { get; set; } = 1;

    /// <summary>Batch architectures: inference threshold θ (NaN until first observed).</summary>
    public double ScalarThreshold { get; set; } = double.NaN;

    /// <summary>feature_choice: per-latent inference thresholds θ_j (0 until first observed).</summary>
    public float[] LatentThreshold { get; }

    /// <summary>feature_choice: per-latent capacities m_j for the current step.</summary>
    public int[] Capacity { get; }

    /// <summary>Tokens seen so far.</summary>
    public long Tokens { get; set; }

    /// <summary>Latents counted as dead by AuxK: no fire for <paramref name="windowTokens"/> tokens.</summary>
    public int[] DeadLatents(long windowTokens)
    {
        var dead = new List<int>();
        for (int j = 0; j < TokensSinceFire.Length; j++) if (TokensSinceFire[j] >= windowTokens) dead.Add(j);
        return [.. dead];
    }

    /// <summary>Records which latents fired in a batch of <paramref name="rows"/> tokens.</summary>
    public void RecordFires(ReadOnlySpan<long> firesPerLatent, int rows, double densityRate)
    {
        for (int j = 0; j < TokensSinceFire.Length; j++)
        {
            long c = firesPerLatent[j];
            TokensSinceFire[j] = c > 0 ? 0 : TokensSinceFire[j] + rows;
            Density[j] = (1 - densityRate) * Density[j] + densityRate * (c / (double)rows);
        }
        Tokens += rows;
    }
}
