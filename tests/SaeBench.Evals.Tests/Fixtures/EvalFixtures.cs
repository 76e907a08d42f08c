using SaeBench.Compute.Backends;
using SaeBench.Compute.Tensors;
using SaeBench.Core.Evaluation;
using SaeBench.Core.Models;
using SaeBench.Core.Autoencoders;
using SaeBench.Models;
using SaeBench.Models.Synthetic;

namespace SaeBench.Evals.Tests.Fixtures;

/// <summary>Contexts, synthetic worlds and SAEs with known structure.</summary>
public static class EvalFixtures
{
    public static EvaluationContext Context(Sae sae, IModelUnderStudy model, int seed = 7, int batchRows = 512, TimeProvider? clock = null) =>
        new(sae, "id", new Dictionary<string, string>(), model, CpuBackend.Create(), seed, batchRows, clock ?? TimeProvider.System);

    /// <summary>A small synthetic world: 40 features in d = 64 (4 parents × 3 children, 2 groups of 3, 18 independent), no noise.</summary>
    public static SyntheticWorldConfig SmallWorld => new()
    {
        Seed = 11,
        DModel = 64,
        Features = 40,
        Parents = 4,
        ChildrenPerParent = 3,
        CorrelatedGroups = 2,
        GroupSize = 3,
        NoiseStd = 0,
        TrainExamples = 4000,
        TestExamples = 2000,
    };

    public static SyntheticWorld World(SyntheticWorldConfig config) =>
        (SyntheticWorld)ModelCatalog.Create("synthetic", new ModelOptions { Synthetic = config, CacheActivations = false });

    /// <summary>
    /// A ReLU SAE whose code is ReLU(c·<paramref name="mix"/> − 1e-4) for the true code c (the encoder is the
    /// pseudo-inverse of the true directions, exact for noise-free activations), with the given decoder rows.
    /// <paramref name="mix"/> null = identity (the oracle SAE).
    /// </summary>
    public static Sae FromTrueCodes(HostMatrix directions, HostMatrix decoder, double[,]? mix = null)
    {
        int n = directions.Rows, d = directions.Cols;
        var pinv = PseudoInverse(directions); // d × n, directions · pinv = I
        var wEnc = new HostMatrix(d, n);
        for (int i = 0; i < d; i++)
        for (int j = 0; j < n; j++)
        {
            double v = 0;
            if (mix is null) v = pinv[i, j];
            else for (int k = 0; k < n; k++) v += pinv[i, k] * mix[k, j];
            wEnc[i, j] = (float)v;
        }
        return new Sae("relu", new SaeParameters
        {
            WEnc = wEnc,
            BEnc = Enumerable.Repeat(-1e-4f, n).ToArray(),
            WDec = decoder,
            BDec = new float[d],
        });
    }

    /// <summary>The oracle SAE of a synthetic world: decoder = true directions, code = true code.</summary>
    public static Sae Oracle(SyntheticWorld world) => FromTrueCodes(world.Directions, world.Directions.Clone());

    /// <summary>
    /// An SAE that absorbs every parent into its children: child latents have decoder normalise(child + parent) and
    /// fire (×10) only with their child; a parent latent is silenced whenever one of its children fires.
    /// </summary>
    public static Sae Absorbing(SyntheticWorld world)
    {
        var dirs = world.Directions;
        int n = dirs.Rows, d = dirs.Cols;
        var parentOf = world.ParentOf;
        var decoder = dirs.Clone();
        var mix = new double[n, n];
        for (int i = 0; i < n; i++) mix[i, i] = 1;
        for (int c = 0; c < n; c++)
        {
            int p = parentOf[c];
            if (p < 0) continue;
            var row = decoder.Row(c);
            double norm = 0;
            for (int k = 0; k < d; k++) { row[k] += dirs[p, k]; norm += (double)row[k] * row[k]; }
            for (int k = 0; k < d; k++) row[k] = (float)(row[k] / Math.Sqrt(norm));
            mix[c, c] = 10;
            mix[c, p] = -1000; // child's code pushes the parent latent far below zero
        }
        return FromTrueCodes(dirs, decoder, mix);
    }

    /// <summary>Dᵀ(D Dᵀ)⁻¹ for D with full row rank (Gauss–Jordan in double).</summary>
    public static double[,] PseudoInverse(HostMatrix dirs)
    {
        int n = dirs.Rows, d = dirs.Cols;
        var g = new double[n, 2 * n];
        for (int i = 0; i < n; i++)
        {
            for (int j = 0; j < n; j++)
            {
                double s = 0;
                for (int k = 0; k < d; k++) s += (double)dirs[i, k] * dirs[j, k];
                g[i, j] = s;
            }
            g[i, n + i] = 1;
        }
        for (int col = 0; col < n; col++)
        {
            int pivot = col;
            for (int r = col + 1; r < n; r++) if (Math.Abs(g[r, col]) > Math.Abs(g[pivot, col])) pivot = r;
            for (int k = 0; k < 2 * n; k++) (g[col, k], g[pivot, k]) = (g[pivot, k], g[col, k]);
            double inv = 1 / g[col, col];
            for (int k = 0; k < 2 * n; k++) g[col, k] *= inv;
            for (int r = 0; r < n; r++)
            {
                if (r == col || g[r, col] == 0) continue;
                double factor = g[r, col];
                for (int k = 0; k < 2 * n; k++) g[r, k] -= factor * g[col, k];
            }
        }
        var result = new double[d, n];
        for (int i = 0; i < d; i++)
        for (int j = 0; j < n; j++)
        {
            double s = 0;
            for (int k = 0; k < n; k++) s += dirs[k, i] * g[k, n + j];
            result[i, j] = s;
        }
        return result;
    }
}
