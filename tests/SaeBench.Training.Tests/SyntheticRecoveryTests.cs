using SaeBench.TestKit;
using SaeBench.Compute.Backends;
using SaeBench.Compute.Tensors;
using SaeBench.Core.Models;
using SaeBench.Models.Synthetic;
using SaeBench.Training.Optimization;

namespace SaeBench.Training.Tests;

[Trait(Category.Name, Category.Slow)]
public sealed class SyntheticRecoveryTests
{
    [Fact]
    public void TopK_at_the_true_feature_count_recovers_at_least_90_percent_of_the_true_features()
    {
        // A small world (for test speed): 128 features in 64 dimensions (2× superposition), a little hierarchy and two
        // correlated groups (the structured features are the hard ones: children get absorbed into parents).
        var config = new SyntheticWorldConfig
        {
            Seed = 3, DModel = 64, Features = 128, Parents = 2, ChildrenPerParent = 2, CorrelatedGroups = 2, GroupSize = 2,
            TrainExamples = 32768, TestExamples = 1024,
        };
        var world = new SyntheticWorld(config);
        var truth = world.Capability<IGroundTruthFeatures>()!;
        int f = truth.Directions.Rows;

        // k: 1.5 × the world's mean number of active features per example (measured from the true codes), so that
        // examples with more active features than average are not truncated.
        var codes = new HostMatrix(4096, f);
        truth.TrueCodes(Split.Train, 0, codes);
        double active = codes.Span.ToArray().Count(v => v != 0) / 4096.0;

        var backend = CpuBackend.Create(new CpuBackendOptions(GemmChoice.Managed));
        var options = new TrainingOptions
        {
            Architecture = "topk", Width = f, TargetL0 = Math.Ceiling(1.5 * active), Steps = 2500, BatchSize = 512, LearningRate = 1e-2,
            DeadWindowTokens = 20_000, CheckpointEvery = 0, Seed = 1,
        };
        var trained = new SaeTrainer(backend).Train(world.Activations(Split.Train), options);
        var dec = trained.Parameters[ParameterSet.WDec];

        // For every true direction, the best cosine with any decoder row (rows are unit norm).
        int recovered = 0;
        for (int i = 0; i < f; i++)
        {
            var t = truth.Directions.Row(i);
            double best = 0;
            for (int j = 0; j < dec.Rows; j++) best = Math.Max(best, System.Numerics.Tensors.TensorPrimitives.CosineSimilarity(t, dec.Row(j)));
            if (best >= 0.9) recovered++;
        }

        Assert.True(recovered >= 0.9 * f, $"recovered {recovered}/{f} true features at cosine ≥ 0.9 (k = {options.TargetL0})");
    }
}
