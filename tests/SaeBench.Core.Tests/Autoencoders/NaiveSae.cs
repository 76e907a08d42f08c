using SaeBench.Compute.Tensors;
using SaeBench.Core.Autoencoders;

namespace SaeBench.Core.Tests.Autoencoders;

/// <summary>
/// An independent, element-by-element reference of ARCHITECTURES.md's inference rules, in double precision.
/// Ties in any top selection go to the lower index (the project's documented rule).
/// </summary>
public static class NaiveSae
{
    public static double[,] Encode(Sae sae, HostMatrix x)
    {
        var p = sae.Parameters;
        int n = x.Rows, d = sae.DIn, F = sae.DSae;
        var xbar = new double[n, d];
        for (int t = 0; t < n; t++)
        for (int i = 0; i < d; i++)
            xbar[t, i] = x[t, i] * (double)p.InputScale - (p.ApplyBDecToInput ? p.BDec[i] : 0);
        var f = new double[n, F];
        if (sae.Architecture == SaeArchitectures.Identity)
        {
            for (int t = 0; t < n; t++) for (int i = 0; i < d; i++) f[t, i] = xbar[t, i];
            return f;
        }
        var pre = new double[n, F];
        for (int t = 0; t < n; t++)
        for (int j = 0; j < F; j++)
        {
            double s = sae.Architecture == SaeArchitectures.Gated ? 0 : p.BEnc[j];
            for (int i = 0; i < d; i++) s += xbar[t, i] * p.WEnc[i, j];
            pre[t, j] = s;
        }
        static double Relu(double v) => Math.Max(v, 0);
        switch (sae.Architecture)
        {
            case SaeArchitectures.Relu:
                Each(n, F, (t, j) => f[t, j] = Relu(pre[t, j]));
                break;
            case SaeArchitectures.Pca:
                Each(n, F, (t, j) => f[t, j] = pre[t, j]);
                break;
            case SaeArchitectures.TopK:
                for (int t = 0; t < n; t++)
                {
                    int row = t;
                    var keep = Enumerable.Range(0, F).OrderByDescending(j => pre[row, j]).ThenBy(j => j).Take(p.K!.Value);
                    foreach (var j in keep) f[t, j] = Relu(pre[t, j]);
                }
                break;
            case SaeArchitectures.BatchTopK or SaeArchitectures.MatryoshkaBatchTopK or SaeArchitectures.MutualChoice:
                if (p.Threshold is not null) Each(n, F, (t, j) => f[t, j] = Relu(pre[t, j]) > p.Threshold[j] ? Relu(pre[t, j]) : 0);
                else if (p.ScalarThreshold is { } theta) Each(n, F, (t, j) => f[t, j] = Relu(pre[t, j]) > theta ? Relu(pre[t, j]) : 0);
                else
                {
                    var keep = Enumerable.Range(0, n * F).OrderByDescending(i => Relu(pre[i / F, i % F])).ThenBy(i => i).Take(p.K!.Value * n);
                    foreach (var i in keep) f[i / F, i % F] = Relu(pre[i / F, i % F]);
                }
                break;
            case SaeArchitectures.JumpRelu:
                Each(n, F, (t, j) => f[t, j] = pre[t, j] > p.Threshold![j] ? Relu(pre[t, j]) : 0);
                break;
            case SaeArchitectures.FeatureChoice:
                if (p.Threshold is not null) Each(n, F, (t, j) => f[t, j] = Relu(pre[t, j]) > p.Threshold[j] ? Relu(pre[t, j]) : 0);
                else
                {
                    int m = (int)Math.Ceiling((double)p.K!.Value * n / F);
                    for (int j = 0; j < F; j++)
                    {
                        int col = j;
                        foreach (var t in Enumerable.Range(0, n).OrderByDescending(t => Relu(pre[t, col])).ThenBy(t => t).Take(m))
                            f[t, j] = Relu(pre[t, j]);
                    }
                }
                break;
            case SaeArchitectures.Gated:
                Each(n, F, (t, j) => f[t, j] = pre[t, j] + p.BGate![j] > 0 ? Relu(Math.Exp(p.RMag![j]) * pre[t, j] + p.BMag![j]) : 0);
                break;
            default:
                throw new InvalidOperationException(sae.Architecture);
        }
        return f;
    }

    public static double[,] Decode(Sae sae, HostMatrix f)
    {
        var p = sae.Parameters;
        int n = f.Rows, d = sae.DIn;
        var x = new double[n, d];
        for (int t = 0; t < n; t++)
        for (int i = 0; i < d; i++)
        {
            double s = p.BDec[i];
            for (int j = 0; j < sae.DSae; j++) s += f[t, j] * (double)p.WDec[j, i];
            x[t, i] = s / p.InputScale;
        }
        return x;
    }

    private static void Each(int n, int F, Action<int, int> body)
    {
        for (int t = 0; t < n; t++) for (int j = 0; j < F; j++) body(t, j);
    }

    public static void Close(double[,] expected, HostMatrix actual, double tolerance, string what)
    {
        for (int r = 0; r < actual.Rows; r++)
        for (int c = 0; c < actual.Cols; c++)
            if (Math.Abs(expected[r, c] - actual[r, c]) > tolerance * (1 + Math.Abs(expected[r, c])))
                Assert.Fail($"{what}[{r}, {c}]: expected {expected[r, c]:G9}, got {actual[r, c]:G9}");
    }
}
