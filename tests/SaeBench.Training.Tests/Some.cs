using SaeBench.Compute.Backends;
using SaeBench.Compute.Tensors;
using SaeBench.Training;
using SaeBench.Training.Objectives;
using SaeBench.Training.Optimization;

namespace SaeBench.Training.Tests;

/// <summary>Test data: small random problems for every objective.</summary>
internal static class Some
{
    public static readonly ComputeBackend Backend = CpuBackend.Create(new CpuBackendOptions(GemmChoice.Managed, 1));

    public const int DIn = 6, Width = 10, Batch = 7;

    public static TrainingOptions Options(string architecture, Func<TrainingOptions, TrainingOptions>? tweak = null)
    {
        var o = new TrainingOptions
        {
            Architecture = architecture,
            Width = Width,
            TargetL0 = 3,
            AuxK = 2,
            DeadWindowTokens = 5,
            MatryoshkaPrefixes = [2, 5, 10],
            PAnnealDelta = 0.1,
            JumpReluBandwidth = 0.3,
        };
        return tweak is null ? o : tweak(o);
    }

    public static HostMatrix Matrix(int rows, int cols, ulong seed, double scale = 1, double shift = 0)
    {
        var rng = new SplitMix64(seed);
        var m = new HostMatrix(rows, cols);
        var s = m.Span;
        for (int i = 0; i < s.Length; i++) s[i] = (float)(shift + scale * rng.NextGaussian());
        return m;
    }

    /// <summary>An objective with random (not initialised) parameters and a state in which some latents are dead and
    /// the densities vary, so that every term of every loss is active.</summary>
    public static (SaeObjective Objective, ParameterSet Parameters, ObjectiveState State, HostMatrix X) Problem(TrainingOptions options, ulong seed = 1,
        int dIn = DIn, int batch = Batch)
    {
        int width = options.Width;
        var objective = ObjectiveFactory.Create(options, dIn, Backend);
        var p = objective.CreateParameters();
        var rng = new SplitMix64(seed);
        foreach (var (name, t) in p.Tensors)
        {
            var s = t.Span;
            for (int i = 0; i < s.Length; i++)
            {
                double v = rng.NextGaussian();
                s[i] = name switch
                {
                    ParameterSet.WEnc or ParameterSet.WDec => (float)(0.5 * v),
                    ParameterSet.LogThreshold => (float)Math.Log(0.3 + 0.2 * rng.NextDouble()),
                    ParameterSet.RMag => (float)(0.3 * v),
                    _ => (float)(0.2 * v),
                };
            }
        }
        if (objective.ConstrainedDecoder) DecoderNorm.Normalize(p[ParameterSet.WDec]);
        var state = new ObjectiveState(width)
        {
            Penalty = 0.3,
            PenaltyScale = 0.7,
            P = 0.7,
            Step = 3,
        };
        int dead = width * 6 / 10;
        for (int j = 0; j < width; j++)
        {
            state.TokensSinceFire[j] = j >= dead ? 10 : 0;            // latents 6..9 dead (of 10)
            state.Density[j] = j >= dead ? 0 : 0.5 / (j + 1) * (j == 4 ? 0.1 : 1); // latent 4 under-utilised
        }
        var x = Matrix(batch, dIn, seed + 100, scale: 1, shift: 0.3);
        return (objective, p, state, x);
    }
}
