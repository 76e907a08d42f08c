using System.Text.Json.Nodes;
using SaeBench.Compute.Backends;
using SaeBench.Compute.Tensors;
using SaeBench.Core.Autoencoders;
using SaeBench.Core.Evaluation;
using SaeBench.Evals.Shared;
using SaeBench.Training;
using SaeBench.Training.Data;

namespace SaeBench.Evals.MetaStructure;

/// <summary>Options of the <c>meta_structure_decoder_variance</c> evaluator (SAEBench's <c>MetaStructureEvalConfig</c> names).</summary>
public sealed record MetaStructureOptions : EvaluatorOptions
{
    /// <summary>Meta-SAE width = max(⌈d_sae · width_ratio⌉, k).</summary>
    public double WidthRatio { get; init; } = 0.25;

    /// <summary>BatchTopK's k: latents per decoder row on average over a batch.</summary>
    public int K { get; init; } = 4;

    public int TrainSteps { get; init; } = 1500;
    public int TrainBatchSize { get; init; } = 1024;
    public double LearningRate { get; init; } = 5e-4;

    /// <summary>Rows reconstructed together when measuring (BatchTopK selects over each chunk, as SAEBench's eval does).</summary>
    public int EvalBatchSize { get; init; } = 4096;

    /// <summary>A meta-latent is dead (AuxK revives it) after this many steps without firing.</summary>
    public int DeadFeatureWindow { get; init; } = 2000;

    public override IEnumerable<string> Validate()
    {
        if (!(WidthRatio > 0) || !double.IsFinite(WidthRatio)) yield return $"width_ratio: {WidthRatio} must be a positive number.";
        if (K < 1) yield return $"k: {K} must be at least 1.";
        if (TrainSteps < 1) yield return $"train_steps: {TrainSteps} must be at least 1.";
        if (TrainBatchSize < 1) yield return $"train_batch_size: {TrainBatchSize} must be at least 1.";
        if (!(LearningRate > 0) || !double.IsFinite(LearningRate)) yield return $"learning_rate: {LearningRate} must be a positive number.";
        if (EvalBatchSize < 1) yield return $"eval_batch_size: {EvalBatchSize} must be at least 1.";
        if (DeadFeatureWindow < 1) yield return $"dead_feature_window: {DeadFeatureWindow} must be at least 1.";
    }
}

/// <summary>
/// SAEBench's <c>meta_structure</c> (Bussmann et al., Matryoshka SAEs, App. D.1): a BatchTopK meta-SAE trained on the
/// SAE's decoder rows; the fraction of the decoder's variance it explains says how much the latents' directions share
/// structure (are sparse combinations of a few meta-directions). Needs only the checkpoint: no model, no activations.
/// </summary>
public sealed class MetaStructureEvaluator : Evaluator<MetaStructureOptions>
{
    public const string Id = "meta_structure_decoder_variance";

    public override EvaluatorInfo Info { get; } = new(Id, "Meta-structure (decoder variance)",
        "Trains a BatchTopK meta-SAE on the decoder rows and reports the fraction of the decoder's variance it explains.", Version: "2");

    /// <summary>Uses the checkpoint alone: the model under study is never asked for anything.</summary>
    protected override IEvaluationJob Start(EvaluationContext context, MetaStructureOptions options) => new Job(context, options);

    /// <summary>The outcome of one meta-SAE fit.</summary>
    public sealed record Outcome(double FractionVarianceExplained, double ReconstructionMse, double TrainSeconds, int MetaWidth, double MetaL0);

    /// <summary>
    /// Fits the meta-SAE to <paramref name="rows"/> (one decoder direction per row; each is first scaled to unit norm, as
    /// SAEBench's folded decoders are) and measures it: residual = Σ‖W − Ŵ‖², total = Σ‖W − mean row‖²;
    /// FVE = 1 − residual/total (0 when total = 0), MSE = residual / #elements.
    /// </summary>
    public static Outcome Fit(HostMatrix rows, MetaStructureOptions options, ComputeBackend backend, int seed, TimeProvider clock,
        CancellationToken cancellation = default)
    {
        using var w = UnitRows(rows);
        int width = Math.Max((int)Math.Ceiling(w.Rows * options.WidthRatio), options.K);
        // A decoder with no more rows than a batch is trained full-batch: batches are drawn epoch after epoch, so a batch of
        // 1024 from 256 rows holds every row four times — the same mean gradient and batch-level selection at four times
        // the cost.
        int batch = Math.Min(options.TrainBatchSize, w.Rows);
        var training = new TrainingOptions
        {
            Architecture = "batchtopk",
            Width = width,
            TargetL0 = options.K,
            Steps = options.TrainSteps,
            BatchSize = batch,
            LearningRate = options.LearningRate,
            Seed = seed,
            WarmupFraction = 0,                // SAEBench: constant learning rate, no warm-up …
            DecayFraction = 0,                 // … and no decay
            NormalizeActivations = false,      // the rows are unit vectors already
            DeadWindowTokens = (long)options.DeadFeatureWindow * batch,
            CheckpointEvery = 0,
        };
        long start = clock.GetTimestamp();
        var trained = new SaeTrainer(backend).Train(new InMemoryActivationSource(w), training, new TrainingRun { Cancellation = cancellation });
        double seconds = clock.GetElapsedTime(start).TotalSeconds;

        // Measure with the batch-level selection over each chunk (SAEBench's eval mode), not the learned threshold.
        var p = trained.Sae.Parameters.Clone();
        p.ScalarThreshold = null;
        p.K = options.K;
        var meta = new Sae(SaeArchitectures.BatchTopK, p);
        var mean = new double[w.Cols];
        for (int r = 0; r < w.Rows; r++)
        {
            var row = w.Row(r);
            for (int c = 0; c < row.Length; c++) mean[c] += row[c];
        }
        for (int c = 0; c < mean.Length; c++) mean[c] /= Math.Max(1, w.Rows);
        double residual = 0, total = 0, active = 0;
        for (int first = 0; first < w.Rows; first += options.EvalBatchSize)
        {
            cancellation.ThrowIfCancellationRequested();
            int n = Math.Min(options.EvalBatchSize, w.Rows - first);
            var chunk = w.SliceRows(first, n);
            using var f = new HostMatrix(n, width);
            using var reconstruction = new HostMatrix(n, w.Cols);
            meta.Encode(backend, chunk, f);
            meta.Decode(backend, f, reconstruction);
            for (int r = 0; r < n; r++)
            {
                var x = chunk.Row(r);
                var y = reconstruction.Row(r);
                for (int c = 0; c < x.Length; c++)
                {
                    double e = x[c] - (double)y[c], t = x[c] - mean[c];
                    residual += e * e;
                    total += t * t;
                }
                foreach (float v in f.Row(r)) if (v != 0f) active++;
            }
        }
        double fve = total > 0 ? 1 - residual / total : 0;
        return new Outcome(fve, residual / Math.Max(1.0, (double)w.Rows * w.Cols), seconds, width, active / Math.Max(1, w.Rows));
    }

    /// <summary>A copy with every non-zero row scaled to unit norm (SAELens's <c>fold_W_dec_norm</c> on the decoder).</summary>
    private static HostMatrix UnitRows(HostMatrix rows)
    {
        var copy = rows.Clone();
        for (int r = 0; r < copy.Rows; r++)
        {
            var row = copy.Row(r);
            double norm = Math.Sqrt(System.Numerics.Tensors.TensorPrimitives.SumOfSquares(row));
            if (norm > 0) System.Numerics.Tensors.TensorPrimitives.Multiply(row, (float)(1 / norm), row);
        }
        return copy;
    }

    private sealed class Job(EvaluationContext context, MetaStructureOptions options) : IEvaluationJob
    {
        public void Observe(SaeBatch batch) { }

        public EvalResult Complete(CancellationToken cancellation)
        {
            // The managed GEMM sums in a fixed order for any thread count, so the meta-SAE (1500 dependent steps) comes out
            // the same on every machine; OpenBLAS's last bits vary with threads and would be amplified by training.
            var backend = CpuBackend.Create(new CpuBackendOptions(GemmChoice.Managed));
            var outcome = Fit(context.Sae.Parameters.WDec, options, backend, Sampling.Derive(context.Seed, Id), context.Clock, cancellation);
            return new EvalResult(
            [
                MetricValue.Of(MetaStructureMetrics.FractionVarianceExplained, outcome.FractionVarianceExplained),
                MetricValue.Of(MetaStructureMetrics.TrainTimeSeconds, outcome.TrainSeconds),
                MetricValue.Of(MetaStructureMetrics.FinalReconstructionMse, outcome.ReconstructionMse),
            ], [], new JsonObject
            {
                ["meta_sae_width"] = outcome.MetaWidth,
                ["decoder_rows"] = context.Sae.DSae,
                ["mean_meta_latents_per_row"] = outcome.MetaL0,
            });
        }
    }
}

/// <summary>Descriptors of the meta-structure metrics (SAEBench's category and names).</summary>
public static class MetaStructureMetrics
{
    public const string Category = "meta_structure";

    public static readonly MetricDescriptor FractionVarianceExplained =
        new(Category, "decoder_fraction_variance_explained", "Decoder variance explained by a meta-SAE", "fraction", true);

    public static readonly MetricDescriptor TrainTimeSeconds = new(Category, "train_time_seconds", "Meta-SAE training time", "s", null);

    public static readonly MetricDescriptor FinalReconstructionMse =
        new(Category, "final_reconstruction_mse", "Meta-SAE reconstruction MSE (unit decoder rows)", "mse", false);
}
