using System.Diagnostics;
using System.Numerics.Tensors;
using System.Text.Json;
using System.Text.Json.Nodes;
using SaeBench.Compute.Backends;
using SaeBench.Compute.Tensors;
using SaeBench.Core.Models;
using SaeBench.Core.Results;
using SaeBench.Core.Autoencoders;
using SaeBench.Training.Data;
using SaeBench.Training.Objectives;
using SaeBench.Training.Optimization;

namespace SaeBench.Training;

/// <summary>A progress report, every few steps.</summary>
public sealed record TrainingProgress(long Step, long TotalSteps, double Loss, double L0, double ExplainedVariance, double DeadFraction, double SamplesPerSecond);

/// <summary>How one training run is driven (not what is trained: that is <see cref="TrainingOptions"/>).</summary>
public sealed record TrainingRun
{
    /// <summary>Resumable state file: resumed from when it exists and matches the options, written every
    /// <see cref="TrainingOptions.CheckpointEvery"/> steps. Null = no checkpointing.</summary>
    public string? StateFile { get; init; }

    public IProgress<TrainingProgress>? Progress { get; init; }

    /// <summary>Steps between progress reports.</summary>
    public int ProgressEvery { get; init; } = 50;

    /// <summary>Stop (as if interrupted) after this many steps have been completed in total, after writing the state file.</summary>
    public long? StopAfterStep { get; init; }

    public CancellationToken Cancellation { get; init; }

    /// <summary>Dense GEMMs or the sparse-code products (<see cref="Objectives.CodePath"/>); the same function either
    /// way, so it is not part of the options' content key. Default: sparse whenever the codes are sparse enough.</summary>
    public CodePath CodePath { get; init; } = CodePath.Auto;
}

/// <summary>The outcome of a training run: the weights as an <see cref="Sae"/> plus what the run measured.</summary>
public sealed record TrainedSae(Sae Sae, ParameterSet Parameters, ObjectiveState State, TrainingStatistics Statistics, bool Completed);

/// <summary>Measured during training (running averages over the last ~100 steps) and timing.</summary>
public sealed record TrainingStatistics(
    long Steps, double Seconds, double GemmSeconds, double Loss, double L0, double ExplainedVariance, double DeadFraction,
    double FinalPenalty, double SamplesPerSecond)
{
    /// <summary>Steps of this run (since a resume) that took the sparse-code path.</summary>
    public long SparseSteps { get; init; }
}

/// <summary>
/// Trains one SAE: streams shuffled batches from the train split, initialises (input scale, geometric-median b_dec,
/// tied encoder), runs Adam with the LR schedule and the decoder constraint, updates the objective's state, and
/// checkpoints/resumes. All GEMMs go through the backend. With the same options, backend GEMM and data, the result is
/// bit-identical, interrupted or not.
/// </summary>
public sealed class SaeTrainer(ComputeBackend backend)
{
    private const ulong InitPurpose = 0x1417;
    private const double StatisticsRate = 0.01;

    /// <summary>Code version of the trainer; part of every suite member's content key.</summary>
    public const string CodeVersion = "trainer-3"; // 2: feature_choice thresholds calibrated to the target L0; 3: sparse backward (sums in another order)

    public TrainedSae Train(IActivationSource source, TrainingOptions options, TrainingRun? run = null)
    {
        run ??= new TrainingRun();
        int dIn = source.Shape.DModel;
        var timed = new TimedGemm(backend.Gemm);
        var timedBackend = backend with { Gemm = timed };
        var objective = ObjectiveFactory.Create(options, dIn, timedBackend);
        objective.CodePath = run.CodePath;
        var stream = new ShuffledBatchStream(source, options.BatchSize, options.Seed, options.ShuffleChunkRows, options.ShuffleChunksPerBuffer);
        string optionsHash = HashOptions(options, dIn);

        ParameterSet p;
        Adam adam;
        ObjectiveState state;
        float inputScale;
        Dictionary<string, double> stats;
        double elapsedBefore = 0;
        if (run.StateFile is not null && File.Exists(run.StateFile)
            && TrainingStateFile.Load(run.StateFile, optionsHash, objective.CreateParameters) is { } snap)
        {
            (p, adam, state, inputScale, stats, elapsedBefore) = (snap.Parameters, snap.Optimizer, snap.State, snap.InputScale, snap.Statistics, snap.ElapsedSeconds);
            stream.Seek(snap.Cursor);
        }
        else
        {
            p = objective.CreateParameters();
            adam = new Adam(p);
            state = new ObjectiveState(options.Width);
            using var init = stream.Peek(options.InitRows);
            inputScale = options.NormalizeActivations ? InputScaleOf(init) : 1f;
            TensorPrimitives.Multiply(init.Span, inputScale, init.Span);
            var median = GeometricMedian.Compute(init);
            var rng = SplitMix64.Derive(options.Seed, InitPurpose);
            objective.Initialize(p, state, median, ref rng);
            objective.Calibrate(init, p, state);
            stats = new Dictionary<string, double> { ["loss"] = double.NaN, ["l0"] = double.NaN, ["ev"] = double.NaN };
        }

        var schedule = new LearningRateSchedule(options.LearningRate, options.Steps, (int)Math.Round(options.Steps * options.WarmupFraction), options.DecayFraction);
        int b = options.BatchSize;
        var x = new HostMatrix(b, dIn);
        var grads = p.ZerosLike();
        var clock = Stopwatch.StartNew();
        long startStep = state.Step;
        long penaltyWarmup = (long)Math.Round(options.Steps * options.PenaltyWarmupFraction);
        bool completed = true;
        long sparseSteps = 0;

        while (state.Step < options.Steps)
        {
            run.Cancellation.ThrowIfCancellationRequested();
            long step = state.Step;
            stream.Next(x);
            if (inputScale != 1f) TensorPrimitives.Multiply(x.Span, inputScale, x.Span);
            state.PenaltyScale = objective.WarmsUpPenalty && penaltyWarmup > 0 ? Math.Min(1, (step + 1) / (double)penaltyWarmup) : 1;

            grads.Clear();
            var r = objective.Evaluate(x, p, p, state, grads);
            if (r.SparseCodes) sparseSteps++;
            if (!double.IsFinite(r.Loss))
                throw new InvalidOperationException($"{options.Architecture}: the loss became {r.Loss} at step {step}; lower the learning rate.");
            if (objective.ConstrainedDecoder) DecoderNorm.RemoveParallelComponent(p[ParameterSet.WDec], grads[ParameterSet.WDec]);
            adam.Step(p, grads, schedule.At(step));
            if (objective.ConstrainedDecoder) DecoderNorm.Normalize(p[ParameterSet.WDec]);
            objective.Observe(r, state);
            state.RecordFires(r.FiresPerLatent, b, options.DensityRate);
            state.Step++;

            double ev = 1 - r.SquaredErrorSum / Math.Max(TotalVariance(x), 1e-30);
            Ema(stats, "loss", r.Loss);
            Ema(stats, "l0", r.L0);
            Ema(stats, "ev", ev);

            if (run.Progress is not null && (state.Step % run.ProgressEvery == 0 || state.Step == options.Steps))
                run.Progress.Report(new TrainingProgress(state.Step, options.Steps, stats["loss"], stats["l0"], stats["ev"],
                    DeadFraction(state, options), (state.Step - startStep) * (double)b / Math.Max(clock.Elapsed.TotalSeconds, 1e-9)));

            bool stop = run.StopAfterStep is { } s && state.Step >= s && state.Step < options.Steps;
            if (run.StateFile is not null && state.Step < options.Steps && ((options.CheckpointEvery > 0 && state.Step % options.CheckpointEvery == 0) || stop))
                TrainingStateFile.Save(run.StateFile, new TrainingSnapshot
                {
                    OptionsHash = optionsHash, InputScale = inputScale, Cursor = stream.Cursor, Parameters = p, Optimizer = adam,
                    State = state, Statistics = stats, ElapsedSeconds = elapsedBefore + clock.Elapsed.TotalSeconds,
                });
            if (stop)
            {
                completed = false;
                break;
            }
        }

        double seconds = elapsedBefore + clock.Elapsed.TotalSeconds;
        var statistics = new TrainingStatistics(state.Step, seconds, timed.Elapsed.TotalSeconds, stats["loss"], stats["l0"], stats["ev"],
            DeadFraction(state, options), state.Penalty, (state.Step - startStep) * (double)b / Math.Max(clock.Elapsed.TotalSeconds, 1e-9))
        {
            SparseSteps = sparseSteps,
        };
        var sae = Export(objective, p, state, inputScale, options);
        if (completed && objective is FeatureChoiceObjective && options.ThresholdCalibrationRows > 0)
            sae = FeatureChoiceCalibration.Calibrate(backend, sae, stream, state.Capacity, b, options.ThresholdCalibrationRows);
        return new TrainedSae(sae, p, state, statistics, completed);
    }

    /// <summary>The content hash of the options (plus d_in and the trainer's code version).</summary>
    public static string HashOptions(TrainingOptions options, int dIn) =>
        Hashing.OfCanonicalJson(new JsonObject
        {
            ["options"] = JsonSerializer.SerializeToNode(options),
            ["d_in"] = dIn,
            ["code"] = CodeVersion,
        });

    /// <summary>s = √d / E‖x‖ (SAELens <c>expected_average_only_in</c>).</summary>
    public static float InputScaleOf(HostMatrix rows)
    {
        double sum = 0;
        for (int r = 0; r < rows.Rows; r++) sum += TensorPrimitives.Norm(rows.Row(r));
        double mean = sum / Math.Max(1, rows.Rows);
        return mean > 0 ? (float)(Math.Sqrt(rows.Cols) / mean) : 1f;
    }

    private static double TotalVariance(HostMatrix x)
    {
        var mean = new double[x.Cols];
        Compute.Kernels.Reductions.ColumnSums(x.Span, x.Rows, x.Cols, mean);
        for (int c = 0; c < mean.Length; c++) mean[c] /= x.Rows;
        double total = 0;
        for (int r = 0; r < x.Rows; r++)
        {
            var row = x.Row(r);
            for (int c = 0; c < row.Length; c++) { double t = row[c] - mean[c]; total += t * t; }
        }
        return total;
    }

    private static double DeadFraction(ObjectiveState state, TrainingOptions options) =>
        state.TokensSinceFire.Count(t => t >= options.DeadWindowTokens) / (double)state.TokensSinceFire.Length;

    private static void Ema(Dictionary<string, double> stats, string key, double value) =>
        stats[key] = double.IsNaN(stats[key]) ? value : (1 - StatisticsRate) * stats[key] + StatisticsRate * value;

    /// <summary>The trained weights as an inference SAE in the checkpoint's architecture (θ = exp(log θ) for jumprelu,
    /// the learned scalar/per-latent thresholds for batch and feature-choice SAEs, k for topk).</summary>
    public static Sae Export(SaeObjective objective, ParameterSet p, ObjectiveState state, float inputScale, TrainingOptions options)
    {
        var sp = new SaeParameters
        {
            WEnc = p[ParameterSet.WEnc].Clone(),
            BEnc = p.Has(ParameterSet.BEnc) ? p[ParameterSet.BEnc].ToArray() : new float[p.DSae],
            WDec = p[ParameterSet.WDec].Clone(),
            BDec = p[ParameterSet.BDec].ToArray(),
            ApplyBDecToInput = objective.ApplyBDecToInput,
            InputScale = inputScale,
        };
        switch (objective)
        {
            case TopKObjective t:
                sp.K = t.K;
                break;
            case MatryoshkaObjective m:
                sp.ScalarThreshold = ThresholdOrZero(state);
                sp.GroupSizes = m.GroupSizes;
                sp.K = m.K;
                break;
            case BatchTopKObjective bt:
                sp.ScalarThreshold = ThresholdOrZero(state);
                sp.K = bt.K;
                break;
            case FeatureChoiceObjective fc:
                sp.Threshold = (float[])state.LatentThreshold.Clone();
                for (int j = 0; j < sp.Threshold.Length; j++) if (sp.Threshold[j] == 0f) sp.Threshold[j] = float.MaxValue;
                sp.K = fc.K;
                break;
            case JumpReluObjective:
                sp.Threshold = p[ParameterSet.LogThreshold].ToArray().Select(MathF.Exp).ToArray();
                break;
            case GatedObjective:
                sp.BGate = p[ParameterSet.BGate].ToArray();
                sp.RMag = p[ParameterSet.RMag].ToArray();
                sp.BMag = p[ParameterSet.BMag].ToArray();
                break;
        }
        var config = new SaeConfig { ArchitectureName = objective.Id == objective.CheckpointArchitecture ? null : objective.Id };
        return new Sae(objective.CheckpointArchitecture, sp, config);
    }

    private static float ThresholdOrZero(ObjectiveState state) => double.IsNaN(state.ScalarThreshold) ? 0f : (float)state.ScalarThreshold;
}
