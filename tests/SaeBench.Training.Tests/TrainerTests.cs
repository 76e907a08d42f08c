using SaeBench.Compute.Backends;
using SaeBench.Training.Objectives;
using SaeBench.Training.Optimization;

namespace SaeBench.Training.Tests;

public sealed class TrainerTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("saebench-trainer-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static readonly ComputeBackend Managed = CpuBackend.Create(new CpuBackendOptions(GemmChoice.Managed));

    private static TrainingOptions Small(string arch) => new()
    {
        Architecture = arch, Width = 32, TargetL0 = 3, Steps = 60, BatchSize = 32, LearningRate = 3e-3,
        CheckpointEvery = 20, DeadWindowTokens = 200, ShuffleChunkRows = 128, InitRows = 256,
    };

    private static void AssertSameWeights(ParameterSet a, ParameterSet b, string what)
    {
        foreach (var (name, t) in a.Tensors)
            Assert.True(t.Span.SequenceEqual(b[name].Span), $"{what}: {name} differs");
    }

    [Theory]
    [MemberData(nameof(AllArchitectures))]
    public void Resuming_after_an_interruption_gives_the_same_weights(string arch)
    {
        var source = MemorySource.Sparse(2000, 16, 40, seed: 11);
        var options = Small(arch);
        var full = new SaeTrainer(Managed).Train(source, options);

        // Interrupted at step 47 (not a checkpoint multiple): the state written there is resumed from.
        string state = Path.Combine(_dir, arch + ".state");
        var part = new SaeTrainer(Managed).Train(source, options, new TrainingRun { StateFile = state, StopAfterStep = 47 });
        Assert.False(part.Completed);
        Assert.Equal(47, part.State.Step);
        var resumed = new SaeTrainer(Managed).Train(source, options, new TrainingRun { StateFile = state });
        Assert.True(resumed.Completed);
        AssertSameWeights(full.Parameters, resumed.Parameters, arch);
        Assert.Equal(full.State.Penalty, resumed.State.Penalty);
        Assert.Equal(full.State.ScalarThreshold, resumed.State.ScalarThreshold);
    }

    public static TheoryData<string> AllArchitectures() => new(ObjectiveFactory.Architectures);

    [Fact]
    public void A_killed_run_resumes_from_its_last_periodic_checkpoint_to_the_same_weights()
    {
        var source = MemorySource.Sparse(2000, 16, 40, seed: 12);
        var options = Small("batchtopk");
        var full = new SaeTrainer(Managed).Train(source, options);
        string state = Path.Combine(_dir, "killed.state");
        using var cts = new CancellationTokenSource();
        // Cancelled at step 33: no state is written then, so the run restarts from the checkpoint at step 20.
        var progress = new Callback(p => { if (p.Step == 33) cts.Cancel(); });
        Assert.Throws<OperationCanceledException>(() => new SaeTrainer(Managed).Train(source, options,
            new TrainingRun { StateFile = state, Progress = progress, ProgressEvery = 1, Cancellation = cts.Token }));
        var snapshot = TrainingStateFile.Load(state, SaeTrainer.HashOptions(options, 16), () => ObjectiveFactory.Create(options, 16, Managed).CreateParameters());
        Assert.Equal(20, snapshot!.State.Step);
        var resumed = new SaeTrainer(Managed).Train(source, options, new TrainingRun { StateFile = state });
        AssertSameWeights(full.Parameters, resumed.Parameters, "batchtopk");
    }

    [Fact]
    public void A_state_file_of_other_options_is_not_resumed_from()
    {
        var source = MemorySource.Sparse(1000, 16, 40, seed: 13);
        string state = Path.Combine(_dir, "other.state");
        new SaeTrainer(Managed).Train(source, Small("topk"), new TrainingRun { StateFile = state, StopAfterStep = 30 });
        var other = Small("topk") with { Seed = 9 };
        var fresh = new SaeTrainer(Managed).Train(source, other);
        var viaState = new SaeTrainer(Managed).Train(source, other, new TrainingRun { StateFile = state });
        AssertSameWeights(fresh.Parameters, viaState.Parameters, "topk");
    }

    [Fact]
    public void A_state_file_of_another_shape_is_not_resumed_from_and_does_not_fail()
    {
        var source = MemorySource.Sparse(1000, 16, 40, seed: 13);
        string state = Path.Combine(_dir, "other-shape.state");
        new SaeTrainer(Managed).Train(source, Small("topk"), new TrainingRun { StateFile = state, StopAfterStep = 30 });
        var other = Small("gated") with { Width = 24 };
        var fresh = new SaeTrainer(Managed).Train(source, other);
        var viaState = new SaeTrainer(Managed).Train(source, other, new TrainingRun { StateFile = state });
        AssertSameWeights(fresh.Parameters, viaState.Parameters, "gated");
    }

    [Fact]
    public void A_corrupt_state_file_is_reported_with_its_path()
    {
        string state = Path.Combine(_dir, "bad.state");
        File.WriteAllBytes(state, "SAEBTRN1\u0005\0\0\0{bad"u8.ToArray());
        var e = Assert.Throws<InvalidDataException>(() => TrainingStateFile.Load(state, "any", () => new ParameterSet(1, 1)));
        Assert.Contains(state, e.Message);
    }

    [Fact]
    public void Constrained_decoders_end_with_unit_rows_and_training_reduces_the_loss()
    {
        var source = MemorySource.Sparse(3000, 16, 40, seed: 14);
        foreach (var arch in new[] { "topk", "jumprelu", "gated" })
        {
            var options = Small(arch) with { Steps = 150 };
            var result = new SaeTrainer(Managed).Train(source, options);
            var dec = result.Parameters[ParameterSet.WDec];
            for (int j = 0; j < dec.Rows; j++)
                Assert.Equal(1.0, System.Numerics.Tensors.TensorPrimitives.Norm(dec.Row(j)), 4);
            var held = HeldOutStatistics.Measure(result.Sae, source, Managed);
            Assert.True(held.ExplainedVariance > 0.5, $"{arch}: explained variance {held.ExplainedVariance}");
        }
    }

    [Theory]
    [InlineData("relu")]
    [InlineData("jumprelu")]
    [InlineData("gated")]
    [InlineData("p_anneal")]
    public void Penalty_trainers_are_steered_to_the_target_L0(string arch)
    {
        var source = MemorySource.Sparse(4000, 16, 40, seed: 15);
        var options = Small(arch) with { Steps = 600, TargetL0 = 4, PenaltyAdaptRate = 0.05 };
        var result = new SaeTrainer(Managed).Train(source, options);
        var held = HeldOutStatistics.Measure(result.Sae, source, Managed);
        Assert.InRange(held.L0, 2.0, 8.0);
    }

    private sealed class Callback(Action<TrainingProgress> action) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress value) => action(value);
    }
}
