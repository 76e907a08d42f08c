using SaeBench.Compute.Backends;
using SaeBench.Compute.Tensors;
using SaeBench.Training.Objectives;

namespace SaeBench.Training.Tests.Objectives;

public class FeatureChoiceCalibrationTests
{
    private static readonly ComputeBackend Managed = CpuBackend.Create(new CpuBackendOptions(GemmChoice.Managed));

    [Fact]
    public void Thresholds_leave_each_latent_exactly_its_share_of_rows_by_hand()
    {
        // Columns: 5 4 3 2 1 (rate 0.4 → 2 rows above θ = 3); 3 0 0 0 0 (rate 0.6 → only one positive: θ = 0, never a
        // negative θ); any column at rate 0 → never fires; at rate 1 → every positive activation fires.
        var a = new HostMatrix(5, 4);
        float[] c0 = [5, 4, 3, 2, 1], c1 = [3, 0, 0, 0, 0], c2 = [1, 2, 3, 4, 5], c3 = [0, 7, 0, 1, 0];
        for (int r = 0; r < 5; r++) { a[r, 0] = c0[r]; a[r, 1] = c1[r]; a[r, 2] = c2[r]; a[r, 3] = c3[r]; }
        var theta = FeatureChoiceCalibration.Thresholds(a, [0.4, 0.6, 0.0, 1.0]);
        Assert.Equal([3f, 0f, float.MaxValue, 0f], theta);
        Assert.Equal(2, c0.Count(v => v > theta[0]));
    }

    [Fact]
    public void A_trained_feature_choice_sae_fires_at_the_target_l0_at_inference()
    {
        // Invariant: the calibration sample cycles through the whole (small) training source, so the inference L0 measured
        // independently on every row of the source is Σ m_j / B = k up to ties and rounding.
        var source = MemorySource.Sparse(2000, 16, 40, seed: 13);
        var options = new TrainingOptions
        {
            Architecture = "feature_choice", Width = 32, TargetL0 = 3, Steps = 80, BatchSize = 32, LearningRate = 3e-3,
            CheckpointEvery = 0, DeadWindowTokens = 200, ShuffleChunkRows = 128, InitRows = 256,
        };
        var trained = new SaeTrainer(Managed).Train(source, options);
        Assert.Equal(3 * 32, trained.State.Capacity.Sum());
        Assert.Equal(3.0, InferenceL0(trained.Sae, source), 0.1);
        // The EMA thresholds alone (no calibration) are what the calibration replaces; they differ.
        var uncalibrated = new SaeTrainer(Managed).Train(source, options with { ThresholdCalibrationRows = 0 });
        Assert.NotEqual(uncalibrated.Sae.Parameters.Threshold!, trained.Sae.Parameters.Threshold!);
    }

    private static double InferenceL0(SaeBench.Core.Autoencoders.Sae sae, MemorySource source)
    {
        long active = 0, rows = 0;
        foreach (var batch in source.Batches(500))
            using (batch)
            {
                using var f = new HostMatrix(batch.Rows, sae.DSae);
                sae.Encode(Managed, batch.Activations, f);
                foreach (float v in f.Span) if (v != 0f) active++;
                rows += batch.Rows;
            }
        return active / (double)rows;
    }
}
