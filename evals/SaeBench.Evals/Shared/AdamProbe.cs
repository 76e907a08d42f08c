using SaeBench.Compute.Tensors;

namespace SaeBench.Evals.Shared;

/// <summary>
/// Settings of SAEBench's minibatch probe (<c>probe_training.train_probe_gpu</c> as SCR and TPP call it): one linear
/// unit with bias, binary cross-entropy on the logit (mean over the batch) plus <c>L1 · Σ|w|</c>, AdamW.
/// </summary>
public sealed record AdamProbeOptions
{
    public int BatchSize { get; init; } = 16;
    public int Epochs { get; init; } = 20;
    public double LearningRate { get; init; } = 1e-3;

    /// <summary>Coefficient of <c>Σ|w|</c> (the bias is not penalised), added to every step's loss.</summary>
    public double L1Penalty { get; init; } = 1e-3;

    /// <summary>AdamW's decoupled weight decay (PyTorch's default 0.01, applied to weight and bias alike).</summary>
    public double WeightDecay { get; init; } = 0.01;

    public double Beta1 { get; init; } = 0.9;
    public double Beta2 { get; init; } = 0.999;
    public double Epsilon { get; init; } = 1e-8;

    public void Validate()
    {
        if (BatchSize < 1) throw new ArgumentOutOfRangeException(nameof(BatchSize), BatchSize, "Must be ≥ 1.");
        if (Epochs < 1) throw new ArgumentOutOfRangeException(nameof(Epochs), Epochs, "Must be ≥ 1.");
        if (!(LearningRate > 0) || !double.IsFinite(LearningRate)) throw new ArgumentOutOfRangeException(nameof(LearningRate), LearningRate, "Must be > 0.");
        if (!(L1Penalty >= 0) || !double.IsFinite(L1Penalty)) throw new ArgumentOutOfRangeException(nameof(L1Penalty), L1Penalty, "Must be ≥ 0.");
        if (!(WeightDecay >= 0) || !double.IsFinite(WeightDecay)) throw new ArgumentOutOfRangeException(nameof(WeightDecay), WeightDecay, "Must be ≥ 0.");
    }
}

/// <summary>A trained linear probe: logit z = w·x + b, predicts true when z &gt; 0.</summary>
public sealed class LinearProbe(double[] weights, double bias)
{
    private readonly double[] _weights = weights;

    public ReadOnlySpan<double> Weights => _weights;
    public double Bias { get; } = bias;

    public double Logit(ReadOnlySpan<float> row) => MixedPrecision.Dot(row, _weights) + Bias;

    /// <summary>Fraction of rows whose prediction (z &gt; 0) equals the label.</summary>
    public double Accuracy(HostMatrix x, ReadOnlySpan<bool> y)
    {
        if (y.Length != x.Rows) throw new ArgumentException($"{y.Length} labels for {x.Rows} rows.", nameof(y));
        if (x.Rows == 0) return double.NaN;
        int correct = 0;
        for (int r = 0; r < x.Rows; r++) if (Logit(x.Row(r)) > 0 == y[r]) correct++;
        return (double)correct / x.Rows;
    }
}

/// <summary>
/// SAEBench's probe recipe, trained for a fixed number of epochs and returned as trained (SAEBench instead keeps the
/// epoch with the best <em>test</em> accuracy — model selection on the test set, which is not reproduced). Weights start
/// uniform in ±1/√d like <c>nn.Linear</c>; every epoch visits the rows in a fresh seeded order; parameters and Adam's
/// moments are kept in double. Deterministic for a given seed.
/// </summary>
public static class AdamProbe
{
    public static LinearProbe Train(HostMatrix x, ReadOnlySpan<bool> y, AdamProbeOptions options, int seed)
    {
        options.Validate();
        if (y.Length != x.Rows) throw new ArgumentException($"{y.Length} labels for {x.Rows} rows.", nameof(y));
        if (x.Rows == 0) throw new ArgumentException("A probe needs at least one training row.", nameof(x));
        int d = x.Cols;
        var rng = new Random(seed);
        double bound = 1 / Math.Sqrt(Math.Max(d, 1));
        var w = new double[d];
        for (int j = 0; j < d; j++) w[j] = (rng.NextDouble() * 2 - 1) * bound;
        double b = (rng.NextDouble() * 2 - 1) * bound;

        var mW = new double[d];
        var vW = new double[d];
        double mB = 0, vB = 0;
        var gW = new double[d];
        var order = new int[x.Rows];
        for (int i = 0; i < order.Length; i++) order[i] = i;
        long step = 0;
        for (int epoch = 0; epoch < options.Epochs; epoch++)
        {
            rng.Shuffle(order);
            for (int start = 0; start < order.Length; start += options.BatchSize)
            {
                int end = Math.Min(start + options.BatchSize, order.Length), n = end - start;
                Array.Clear(gW);
                double gB = 0;
                for (int i = start; i < end; i++)
                {
                    var row = x.Row(order[i]);
                    double z = MixedPrecision.Dot(row, w) + b;
                    // d/dz of BCE-with-logits = σ(z) − t, averaged over the batch.
                    double g = (Sigmoid(z) - (y[order[i]] ? 1 : 0)) / n;
                    MixedPrecision.Axpy(g, row, gW);
                    gB += g;
                }
                if (options.L1Penalty > 0)
                    for (int j = 0; j < d; j++) gW[j] += options.L1Penalty * Math.Sign(w[j]);

                step++;
                double lr = options.LearningRate;
                double c1 = 1 - Math.Pow(options.Beta1, step), c2 = 1 - Math.Pow(options.Beta2, step);
                double decay = 1 - lr * options.WeightDecay;
                for (int j = 0; j < d; j++)
                {
                    mW[j] = options.Beta1 * mW[j] + (1 - options.Beta1) * gW[j];
                    vW[j] = options.Beta2 * vW[j] + (1 - options.Beta2) * gW[j] * gW[j];
                    w[j] = w[j] * decay - lr * (mW[j] / c1) / (Math.Sqrt(vW[j] / c2) + options.Epsilon);
                }
                mB = options.Beta1 * mB + (1 - options.Beta1) * gB;
                vB = options.Beta2 * vB + (1 - options.Beta2) * gB * gB;
                b = b * decay - lr * (mB / c1) / (Math.Sqrt(vB / c2) + options.Epsilon);
            }
        }
        return new LinearProbe(w, b);
    }

    private static double Sigmoid(double z) => z >= 0 ? 1 / (1 + Math.Exp(-z)) : Math.Exp(z) / (1 + Math.Exp(z));
}
