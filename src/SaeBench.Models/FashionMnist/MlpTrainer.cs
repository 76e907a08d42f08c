using System.Diagnostics;
using SaeBench.Compute.Backends;
using SaeBench.Compute.Tensors;
using SaeBench.Core.Models;

namespace SaeBench.Models.FashionMnist;

/// <summary>How the Fashion-MNIST MLP is trained. Part of the weights' cache key.</summary>
public sealed record MlpTrainingConfig
{
    /// <summary>Hidden layer widths; the network is 784 → hidden… → 10.</summary>
    public IReadOnlyList<int> Hidden { get; init; } = [256, 128];
    public int Epochs { get; init; } = 5;
    public int BatchSize { get; init; } = 128;
    public double LearningRate { get; init; } = 1e-3;
    public ulong Seed { get; init; }
    /// <summary>Train on the first N training images only (0 = all 60,000); for quick tests.</summary>
    public int TrainExamples { get; init; }

    /// <summary>A canonical text of every field, for hashing.</summary>
    /// <summary>The cache identity of the configuration; culture-invariant, so a comma-decimal locale does not retrain.</summary>
    public string Canonical() => string.Create(System.Globalization.CultureInfo.InvariantCulture,
        $"hidden=[{string.Join(',', Hidden)}];epochs={Epochs};batch={BatchSize};lr={LearningRate:R};seed={Seed};n={TrainExamples}");

    public void Validate()
    {
        if (Hidden.Count < 1 || Hidden.Any(h => h < 1)) throw new ArgumentException($"mlp.hidden: widths must be ≥ 1, got [{string.Join(", ", Hidden)}].");
        if (Epochs < 1) throw new ArgumentException($"mlp.epochs: must be ≥ 1, got {Epochs}.");
        if (BatchSize < 1) throw new ArgumentException($"mlp.batch_size: must be ≥ 1, got {BatchSize}.");
        if (!(LearningRate > 0)) throw new ArgumentException($"mlp.learning_rate: must be > 0, got {LearningRate}.");
        if (TrainExamples < 0) throw new ArgumentException($"mlp.train_examples: must be ≥ 0, got {TrainExamples}.");
    }
}

/// <summary>
/// Trains the MLP with Adam on shuffled minibatches, deterministically: the order comes from the seed, every
/// reduction runs in a fixed order, and the GEMM is the managed one (its sums do not depend on thread count —
/// OpenBLAS gives no such promise), so the same configuration gives byte-identical weights.
/// </summary>
public static class MlpTrainer
{
    /// <summary>Bump when a change to training code changes the weights it produces; part of the cache key.</summary>
    public const string CodeVersion = "mlp-trainer-1";

    private const double Beta1 = 0.9, Beta2 = 0.999, Epsilon = 1e-8;

    /// <summary>The GEMM training and inference use: managed, for bit-reproducibility.</summary>
    public static IGemm DeterministicGemm() => CpuBackend.Create(new CpuBackendOptions(GemmChoice.Managed)).Gemm;

    public static Mlp Train(FashionMnistData data, MlpTrainingConfig config, Action<string>? log = null)
    {
        config.Validate();
        var gemm = DeterministicGemm();
        int[] sizes = [FashionMnistData.Pixels, .. config.Hidden, FashionMnistClasses.Names.Count];
        var mlp = new Mlp(sizes, gemm);
        mlp.Initialize(config.Seed);
        var grads = new Mlp(sizes, gemm);
        var m = new Mlp(sizes, gemm);
        var v = new Mlp(sizes, gemm);

        int n = config.TrainExamples > 0 ? Math.Min(config.TrainExamples, data.Count(Split.Train)) : data.Count(Split.Train);
        var order = new int[n];
        var x = new HostMatrix(config.BatchSize, FashionMnistData.Pixels);
        var y = new int[config.BatchSize];
        long step = 0;
        var clock = Stopwatch.StartNew();
        for (int epoch = 0; epoch < config.Epochs; epoch++)
        {
            for (int i = 0; i < n; i++) order[i] = i;
            new Common.Rng(config.Seed, 1000UL + (ulong)epoch).Shuffle(order);
            double lossSum = 0;
            int batches = 0;
            for (int start = 0; start < n; start += config.BatchSize)
            {
                int b = Math.Min(config.BatchSize, n - start);
                var xb = x.SliceRows(0, b);
                for (int r = 0; r < b; r++)
                {
                    int e = order[start + r];
                    Pixels(data.TrainImages, e, xb.Row(r));
                    y[r] = data.TrainLabels[e];
                }
                lossSum += mlp.LossAndGradients(xb, y.AsSpan(0, b), grads);
                batches++;
                step++;
                AdamStep(mlp, grads, m, v, step, config.LearningRate);
            }
            log?.Invoke($"fashion-mnist-mlp: epoch {epoch + 1}/{config.Epochs}, mean loss {lossSum / batches:F4}, {clock.Elapsed.TotalSeconds:F1} s");
        }
        return mlp;
    }

    /// <summary>Image <paramref name="index"/> as floats in [0, 1].</summary>
    public static void Pixels(byte[] images, int index, Span<float> destination)
    {
        var src = images.AsSpan(index * FashionMnistData.Pixels, FashionMnistData.Pixels);
        for (int i = 0; i < src.Length; i++) destination[i] = src[i] * (1f / 255f);
    }

    private static void AdamStep(Mlp p, Mlp g, Mlp m, Mlp v, long step, double lr)
    {
        float c1 = (float)(1 - Math.Pow(Beta1, step));
        float c2 = (float)(1 - Math.Pow(Beta2, step));
        float b1 = (float)Beta1, b2 = (float)Beta2, eps = (float)Epsilon, rate = (float)lr;
        using var pe = p.Parameters().GetEnumerator();
        using var ge = g.Parameters().GetEnumerator();
        using var me = m.Parameters().GetEnumerator();
        using var ve = v.Parameters().GetEnumerator();
        while (pe.MoveNext() && ge.MoveNext() && me.MoveNext() && ve.MoveNext())
        {
            var ps = pe.Current.Values.Span;
            var gs = ge.Current.Values.Span;
            var ms = me.Current.Values.Span;
            var vs = ve.Current.Values.Span;
            for (int i = 0; i < ps.Length; i++)
            {
                float gi = gs[i];
                ms[i] = b1 * ms[i] + (1 - b1) * gi;
                vs[i] = b2 * vs[i] + (1 - b2) * gi * gi;
                ps[i] -= rate * (ms[i] / c1) / (MathF.Sqrt(vs[i] / c2) + eps);
            }
        }
    }

    /// <summary>Fraction of the test split the network classifies correctly.</summary>
    public static double Accuracy(Mlp mlp, FashionMnistData data, Split split, int batchSize = 1000)
    {
        int n = data.Count(split);
        var images = data.Images(split);
        var labels = data.Labels(split);
        int correct = 0;
        using var x = new HostMatrix(batchSize, FashionMnistData.Pixels);
        using var logits = new HostMatrix(batchSize, mlp.OutputWidth);
        for (int start = 0; start < n; start += batchSize)
        {
            int b = Math.Min(batchSize, n - start);
            var xb = x.SliceRows(0, b);
            var lb = logits.SliceRows(0, b);
            for (int r = 0; r < b; r++) Pixels(images, start + r, xb.Row(r));
            mlp.Forward(xb, lb);
            for (int r = 0; r < b; r++)
            {
                var row = lb.Row(r);
                int arg = 0;
                for (int c = 1; c < row.Length; c++) if (row[c] > row[arg]) arg = c;
                if (arg == labels[start + r]) correct++;
            }
        }
        return (double)correct / n;
    }
}
