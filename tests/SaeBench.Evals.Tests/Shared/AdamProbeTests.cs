using SaeBench.Compute.Tensors;
using SaeBench.Evals.Shared;

namespace SaeBench.Evals.Tests.Shared;

public class AdamProbeTests
{
    /// <summary>Two Gaussian blobs along the first axis, noise elsewhere.</summary>
    private static (HostMatrix X, bool[] Y) Blobs(int n, int d, double separation, int seed)
    {
        var rng = new Random(seed);
        var x = new HostMatrix(n, d);
        var y = new bool[n];
        for (int i = 0; i < n; i++)
        {
            y[i] = i % 2 == 0;
            for (int j = 0; j < d; j++) x[i, j] = (float)(rng.NextDouble() * 2 - 1);
            x[i, 0] += (float)(y[i] ? separation : -separation);
        }
        return (x, y);
    }

    [Fact]
    public void It_separates_separable_data_and_puts_its_weight_on_the_informative_axis()
    {
        var (x, y) = Blobs(400, 8, 2, 1);
        var probe = AdamProbe.Train(x, y, new AdamProbeOptions(), seed: 3);
        var (tx, ty) = Blobs(200, 8, 2, 2);
        Assert.True(probe.Accuracy(tx, ty) >= 0.97, $"accuracy {probe.Accuracy(tx, ty)}");
        var w = probe.Weights.ToArray();
        Assert.True(Math.Abs(w[0]) > w.Skip(1).Max(Math.Abs), string.Join(", ", w));
    }

    [Fact]
    public void The_same_seed_gives_the_same_probe_and_another_seed_another()
    {
        var (x, y) = Blobs(100, 4, 0.5, 5);
        var a = AdamProbe.Train(x, y, new AdamProbeOptions { Epochs = 3 }, seed: 1);
        var b = AdamProbe.Train(x, y, new AdamProbeOptions { Epochs = 3 }, seed: 1);
        var c = AdamProbe.Train(x, y, new AdamProbeOptions { Epochs = 3 }, seed: 2);
        Assert.Equal(a.Weights.ToArray(), b.Weights.ToArray());
        Assert.Equal(a.Bias, b.Bias);
        Assert.NotEqual(a.Weights.ToArray(), c.Weights.ToArray());
    }

    [Fact]
    public void The_l1_penalty_shrinks_uninformative_weights()
    {
        var (x, y) = Blobs(400, 16, 1, 7);
        double Noise(LinearProbe p) => p.Weights.ToArray().Skip(1).Sum(Math.Abs);
        var plain = AdamProbe.Train(x, y, new AdamProbeOptions { L1Penalty = 0, WeightDecay = 0 }, seed: 4);
        var sparse = AdamProbe.Train(x, y, new AdamProbeOptions { L1Penalty = 0.05, WeightDecay = 0 }, seed: 4);
        Assert.True(Noise(sparse) < 0.5 * Noise(plain), $"{Noise(sparse)} vs {Noise(plain)}");
    }

    [Fact]
    public void Bad_settings_are_refused()
    {
        var (x, y) = Blobs(4, 2, 1, 1);
        Assert.Throws<ArgumentOutOfRangeException>(() => AdamProbe.Train(x, y, new AdamProbeOptions { BatchSize = 0 }, 1));
        Assert.Throws<ArgumentException>(() => AdamProbe.Train(x, y[..3], new AdamProbeOptions(), 1));
    }
}
