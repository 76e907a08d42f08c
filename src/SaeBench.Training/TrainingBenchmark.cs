using SaeBench.Compute.Backends;
using SaeBench.Compute.Tensors;
using SaeBench.Training.Data;
using SaeBench.Training.Objectives;
using SaeBench.Training.Optimization;

namespace SaeBench.Training;

/// <summary>One architecture's measured training throughput.</summary>
public sealed record TrainingThroughput(string Architecture, int DIn, int Width, int BatchSize, long Steps, double Seconds, double SamplesPerSecond, double GemmShare)
{
    /// <summary>Share of the measured steps that took the sparse-code path.</summary>
    public double SparseShare { get; init; }

    /// <summary>Dead latents at the end (no fire in the dead window), which is what sizes the AuxK term.</summary>
    public double DeadFraction { get; init; }

    /// <summary>Mean L0 over the last steps.</summary>
    public double L0 { get; init; }
}

/// <summary>
/// Training throughput on synthetic sparse data of a given shape (no model needed): runs the real trainer for a
/// number of steps and reports samples per second and the share of wall time spent inside the backend's GEMM.
/// </summary>
public static class TrainingBenchmark
{
    public static TrainingThroughput Measure(ComputeBackend backend, string architecture, int dIn = 128, int width = 512, double k = 16,
        int batchSize = 256, int steps = 300, CodePath codePath = CodePath.Auto, HostMatrix? data = null, long? deadWindow = null)
    {
        var source = new InMemoryActivationSource(data ?? SparseRows(16_384, dIn, 4 * dIn, seed: 1));
        var run = new TrainingRun { CodePath = codePath };
        var options = new TrainingOptions
        {
            Architecture = architecture, Width = width, TargetL0 = k, BatchSize = batchSize, Steps = steps, CheckpointEvery = 0,
        };
        if (deadWindow is { } window) options = options with { DeadWindowTokens = window };
        // Warm-up (JIT, pools) on a short run, then the measured one.
        new SaeTrainer(backend).Train(source, options with { Steps = Math.Min(steps, Math.Clamp(16_384 / batchSize, 3, 20)) }, run);
        var result = new SaeTrainer(backend).Train(source, options, run);
        var s = result.Statistics;
        return new TrainingThroughput(architecture, dIn, width, batchSize, s.Steps, s.Seconds, s.SamplesPerSecond, s.GemmSeconds / s.Seconds)
        {
            SparseShare = s.SparseSteps / (double)Math.Max(1, s.Steps), DeadFraction = s.DeadFraction, L0 = s.L0,
        };
    }

    /// <summary>Rows that are sparse non-negative combinations of random unit directions, plus an offset.</summary>
    public static HostMatrix SparseRows(int rows, int dIn, int features, ulong seed)
    {
        var rng = new SplitMix64(seed);
        var dirs = new HostMatrix(features, dIn);
        for (int j = 0; j < features; j++)
        {
            var r = dirs.Row(j);
            for (int c = 0; c < dIn; c++) r[c] = (float)rng.NextGaussian();
            float n = System.Numerics.Tensors.TensorPrimitives.Norm(r);
            System.Numerics.Tensors.TensorPrimitives.Divide(r, n, r);
        }
        var x = new HostMatrix(rows, dIn);
        double p = 8.0 / features;
        for (int i = 0; i < rows; i++)
        {
            var row = x.Row(i);
            for (int j = 0; j < features; j++)
                if (rng.NextDouble() < p) System.Numerics.Tensors.TensorPrimitives.MultiplyAdd(dirs.Row(j), (float)(0.5 + rng.NextDouble()), row, row);
            row[0] += 1f;
        }
        return x;
    }
}
