using SaeBench.Compute.Backends;

namespace SaeBench.Training.Objectives;

/// <summary>The trainer ids and the objective behind each.</summary>
public static class ObjectiveFactory
{
    /// <summary>Every trainer, in the order of ARCHITECTURES.md's training table.</summary>
    public static IReadOnlyList<string> Architectures { get; } =
        ["relu", "p_anneal", "topk", "batchtopk", "jumprelu", "gated", "matryoshka_batchtopk", "mutual_choice", "feature_choice"];

    public static SaeObjective Create(TrainingOptions options, int dIn, ComputeBackend backend)
    {
        Validate(options, dIn);
        return options.Architecture switch
        {
            "relu" => new ReluObjective(options, dIn, backend),
            "p_anneal" => new PAnnealObjective(options, dIn, backend),
            "topk" => new TopKObjective(options, dIn, backend),
            "batchtopk" => new BatchTopKObjective(options, dIn, backend),
            "jumprelu" => new JumpReluObjective(options, dIn, backend),
            "gated" => new GatedObjective(options, dIn, backend),
            "matryoshka_batchtopk" => new MatryoshkaObjective(options, dIn, backend),
            "mutual_choice" => new MutualChoiceObjective(options, dIn, backend),
            "feature_choice" => new FeatureChoiceObjective(options, dIn, backend),
            _ => throw new ArgumentException(
                $"architecture: unknown trainer '{options.Architecture}'. Valid: {string.Join(", ", Architectures)}."),
        };
    }

    /// <summary>Throws <see cref="ArgumentException"/> naming the field when the options cannot be trained.</summary>
    public static void Validate(TrainingOptions o, int dIn)
    {
        if (!Architectures.Contains(o.Architecture))
            throw new ArgumentException($"architecture: unknown trainer '{o.Architecture}'. Valid: {string.Join(", ", Architectures)}.");
        if (dIn <= 0) throw new ArgumentException($"d_in: {dIn} must be positive.");
        if (o.Width <= 0) throw new ArgumentException($"width: {o.Width} must be positive.");
        if (!(o.TargetL0 > 0) || o.TargetL0 > o.Width) throw new ArgumentException($"target_l0: {o.TargetL0} must be in (0, width = {o.Width}].");
        if (o.Steps <= 0) throw new ArgumentException($"steps: {o.Steps} must be positive.");
        if (o.BatchSize <= 0) throw new ArgumentException($"batch_size: {o.BatchSize} must be positive.");
        if (!(o.LearningRate > 0)) throw new ArgumentException($"lr: {o.LearningRate} must be positive.");
        if (o.WarmupFraction is < 0 or > 1) throw new ArgumentException($"warmup_fraction: {o.WarmupFraction} must be in [0, 1].");
        if (o.DecayFraction is < 0 or > 1) throw new ArgumentException($"decay_fraction: {o.DecayFraction} must be in [0, 1].");
        if (o.PAnnealFloor is <= 0 or > 1) throw new ArgumentException($"p_anneal_floor: {o.PAnnealFloor} must be in (0, 1].");
        if (!(o.JumpReluBandwidth > 0)) throw new ArgumentException($"jumprelu_bandwidth: {o.JumpReluBandwidth} must be positive.");
        if (!(o.JumpReluInitialThreshold > 0)) throw new ArgumentException($"jumprelu_initial_threshold: {o.JumpReluInitialThreshold} must be positive.");
        if (!(o.JumpReluNegativePenaltyFloor >= 0) || double.IsInfinity(o.JumpReluNegativePenaltyFloor))
            throw new ArgumentException($"jumprelu_negative_penalty_floor: {o.JumpReluNegativePenaltyFloor} must be a finite number ≥ 0.");
        if (o.JumpReluCalibrationMinDensity is < 0 or > 1 or double.NaN)
            throw new ArgumentException($"jumprelu_calibration_min_density: {o.JumpReluCalibrationMinDensity} must be in [0, 1].");
        if (o.Capacity is not ("uniform" or "zipf")) throw new ArgumentException($"capacity: '{o.Capacity}' is not one of uniform, zipf.");
        if (o.ShuffleChunkRows <= 0 || o.ShuffleChunksPerBuffer <= 0) throw new ArgumentException("shuffle: chunk rows and chunks per buffer must be positive.");
    }
}
