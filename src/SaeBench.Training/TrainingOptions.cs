namespace SaeBench.Training;

/// <summary>
/// Everything that determines one trained SAE (one suite member). Defaults are the project's; every random
/// choice is seeded from <see cref="Seed"/>. Two equal options on the same model give identical weights.
/// </summary>
public sealed record TrainingOptions
{
    /// <summary>Trainer id: one of <see cref="Objectives.ObjectiveFactory.Architectures"/> (e.g. <c>topk</c>, <c>p_anneal</c>).</summary>
    public required string Architecture { get; init; }

    /// <summary>Number of latents F.</summary>
    public required int Width { get; init; }

    /// <summary>Target L0 (active latents per token): k for the top-k family, the controller's set-point for penalty trainers.</summary>
    public required double TargetL0 { get; init; }

    public int Steps { get; init; } = 2000;
    public int BatchSize { get; init; } = 256;
    public double LearningRate { get; init; } = 1e-3;
    public int Seed { get; init; } = 0;

    /// <summary>Fraction of steps of linear LR warm-up.</summary>
    public double WarmupFraction { get; init; } = 0.05;

    /// <summary>Fraction of steps at the end over which the LR decays linearly to 0.</summary>
    public double DecayFraction { get; init; } = 0.2;

    /// <summary>Rows used for the geometric-median <c>b_dec</c> initialisation and the input-scale estimate.</summary>
    public int InitRows { get; init; } = 2048;

    /// <summary>Scale inputs so that E‖x‖ = √d_in (SAELens <c>expected_average_only_in</c>); recorded in the checkpoint.</summary>
    public bool NormalizeActivations { get; init; } = true;

    /// <summary>A latent is dead when it has not fired for this many training tokens.</summary>
    public long DeadWindowTokens { get; init; } = 25_000;

    /// <summary>AuxK: coefficient α_aux (1/32 in the TopK paper) and k_aux (null = d_in/2).</summary>
    public double AuxKCoefficient { get; init; } = 1.0 / 32;
    public int? AuxK { get; init; }

    /// <summary>Penalty trainers: initial coefficient (λ for relu/jumprelu/gated, α for p_anneal).</summary>
    public double InitialPenalty { get; init; } = 0.1;

    /// <summary>Penalty trainers: adapt the coefficient so that L0 tracks <see cref="TargetL0"/> (log λ += rate·log(L0/target) per step).</summary>
    public bool AdaptPenalty { get; init; } = true;
    public double PenaltyAdaptRate { get; init; } = 0.01;

    /// <summary>relu and jumprelu: the λ warm-up s(t) rises linearly from 0 to 1 over this fraction of steps.</summary>
    public double PenaltyWarmupFraction { get; init; } = 0.05;

    /// <summary>p_anneal: final p, number of p-steps, fraction of training at which annealing starts, and the δ of the smoothed penalty Σ((f+δ)^p − δ^p).</summary>
    public double PAnnealFloor { get; init; } = 0.5;
    public int PAnnealStages { get; init; } = 10;
    public double PAnnealStartFraction { get; init; } = 0.2;
    public double PAnnealDelta { get; init; } = 1e-3;

    /// <summary>jumprelu: rectangle-kernel bandwidth ε and the initial threshold θ₀ (both in normalised units).</summary>
    public double JumpReluBandwidth { get; init; } = 0.05;
    public double JumpReluInitialThreshold { get; init; } = 0.1;

    /// <summary>jumprelu: start each θ_j at its pre-activation quantile for the target density (else every θ starts at θ₀).</summary>
    public bool JumpReluCalibrate { get; init; } = true;

    /// <summary>jumprelu: the calibration starts each latent at this multiple of the target density (L0/F); the penalty then brings L0 down.</summary>
    public double JumpReluCalibrationFactor { get; init; } = 4;

    /// <summary>jumprelu: λ may go negative down to −this × <see cref="InitialPenalty"/> (a small reward for firing, for targets above the reconstruction-only L0); below |λ| = this × λ₀ the controller steps additively. 0 keeps λ &gt; 0.</summary>
    public double JumpReluNegativePenaltyFloor { get; init; } = 3;

    /// <summary>jumprelu: the calibration density is at least this (of F), whatever the target: calibrating sparser leaves more latents dead (quick, target 8: 54 % dead at 0.125, 35 % at 0.25).</summary>
    public double JumpReluCalibrationMinDensity { get; init; } = 0.25;

    /// <summary>Batch architectures: EMA rate of the inference threshold θ (θ ← (1−β)θ + β·observed).</summary>
    public double ThresholdRate { get; init; } = 0.01;

    /// <summary>matryoshka_batchtopk: prefix widths (null = F/16, F/8, F/4, F/2, F).</summary>
    public IReadOnlyList<int>? MatryoshkaPrefixes { get; init; }

    /// <summary>feature_choice capacities: <c>zipf</c> (the default, as the Feature Choice paper: m_j ∝ (r_j + c)^(−α),
    /// r_j the latent's rank by running density) or <c>uniform</c> (m = ⌈kB/F⌉). Uniform capacities force every latent to
    /// the same firing rate: on the quick suite FC was 19–37 % worse than TopK in unexplained variance at equal L0.</summary>
    public string Capacity { get; init; } = "zipf";
    /// <summary>Zipf exponent α of the capacities (≈ 1: the densities of trained SAEs' latents fall off as 1/rank).</summary>
    public double CapacityZipfAlpha { get; init; } = 1.0;
    public double CapacityZipfOffset { get; init; } = 10;

    /// <summary>feature_choice: rows of training data on which the inference thresholds θ_j are calibrated after training
    /// so that latent j fires on the share m_j/B of them that training gave it, and the inference L0 is the target
    /// (Σ m_j/B = k); 0 = keep the EMA thresholds (whose L0 came out 7–8 % below the target).</summary>
    public int ThresholdCalibrationRows { get; init; } = 16_384;

    /// <summary>aux_zipf_loss knobs (see <see cref="Objectives.AuxZipf"/>).</summary>
    public AuxZipfOptions AuxZipf { get; init; } = new();

    /// <summary>EMA rate of the per-latent firing densities ρ.</summary>
    public double DensityRate { get; init; } = 0.01;

    /// <summary>Write a resumable state file every this many steps (0 = never).</summary>
    public int CheckpointEvery { get; init; } = 500;

    /// <summary>Rows per chunk of the seeded shuffle: chunks are read in a shuffled order, a few at a time, and their rows shuffled together.</summary>
    public int ShuffleChunkRows { get; init; } = 4096;
    public int ShuffleChunksPerBuffer { get; init; } = 4;
}

/// <summary>
/// Knobs of <c>aux_zipf_loss</c>: γ (how far below the fitted Zipf curve a latent must be to count as
/// under-utilised), the offset c of the Zipf fit ρ(r) ∝ (r + c)^(−s), the coefficient, and whether it replaces AuxK.
/// </summary>
public sealed record AuxZipfOptions
{
    public double Gamma { get; init; } = 4;
    public double Offset { get; init; } = 1;
    public double Coefficient { get; init; } = 1.0 / 32;
}
