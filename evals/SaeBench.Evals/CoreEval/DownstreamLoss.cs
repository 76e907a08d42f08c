using SaeBench.Compute.Tensors;

namespace SaeBench.Evals.CoreEval;

/// <summary>
/// Cross-entropy and KL divergence of logits, computed from log-softmax (never log of softmax), accumulated in
/// double: CE against the example's label, KL(p_clean ‖ p_new) per token.
/// </summary>
public sealed class DownstreamLossAccumulator
{
    private double _ceClean, _ceSae, _ceAbl, _klSae, _klAbl;
    private long _ceTokens, _klTokens;

    /// <summary>log-softmax of one row, in double.</summary>
    public static void LogSoftmax(ReadOnlySpan<float> logits, Span<double> destination)
    {
        double max = double.NegativeInfinity;
        foreach (var v in logits) max = Math.Max(max, v);
        double sum = 0;
        for (int i = 0; i < logits.Length; i++) sum += Math.Exp(logits[i] - max);
        double lse = max + Math.Log(sum);
        for (int i = 0; i < logits.Length; i++) destination[i] = logits[i] - lse;
    }

    /// <summary>KL(p ‖ q) from log-probabilities: Σ p (log p − log q), with 0·log 0 = 0.</summary>
    public static double Kl(ReadOnlySpan<double> logP, ReadOnlySpan<double> logQ)
    {
        double kl = 0;
        for (int i = 0; i < logP.Length; i++)
        {
            double p = Math.Exp(logP[i]);
            if (p > 0) kl += p * (logP[i] - logQ[i]);
        }
        return Math.Max(kl, 0);
    }

    /// <summary>Rows: tokens; labels: class per token (−1 = no label: CE skipped, KL still counted).</summary>
    public void Observe(HostMatrix clean, HostMatrix withSae, HostMatrix ablated, ReadOnlySpan<int> labels, ReadOnlySpan<bool> valid)
    {
        int c = clean.Cols;
        var lc = new double[c];
        var ls = new double[c];
        var la = new double[c];
        for (int r = 0; r < clean.Rows; r++)
        {
            if (!valid[r]) continue;
            LogSoftmax(clean.Row(r), lc);
            LogSoftmax(withSae.Row(r), ls);
            LogSoftmax(ablated.Row(r), la);
            _klSae += Kl(lc, ls);
            _klAbl += Kl(lc, la);
            _klTokens++;
            int y = labels[r];
            if (y >= 0 && y < c)
            {
                _ceClean -= lc[y];
                _ceSae -= ls[y];
                _ceAbl -= la[y];
                _ceTokens++;
            }
        }
    }

    public DownstreamLoss Result()
    {
        double? Mean(double s, long n) => n == 0 ? null : s / n;
        var ceClean = Mean(_ceClean, _ceTokens);
        var ceSae = Mean(_ceSae, _ceTokens);
        var ceAbl = Mean(_ceAbl, _ceTokens);
        var klSae = Mean(_klSae, _klTokens);
        var klAbl = Mean(_klAbl, _klTokens);
        double? ceScore = ceClean is { } a && ceSae is { } s && ceAbl is { } b && b - a != 0 ? (b - s) / (b - a) : null;
        double? klScore = klSae is { } ks && klAbl is { } ka && ka != 0 ? (ka - ks) / ka : null;
        return new DownstreamLoss(ceClean, ceSae, ceAbl, ceScore, klSae, klAbl, klScore, _ceTokens, _klTokens);
    }
}

public sealed record DownstreamLoss(
    double? CeLossWithoutSae,
    double? CeLossWithSae,
    double? CeLossWithAblation,
    double? CeLossScore,
    double? KlDivWithSae,
    double? KlDivWithAblation,
    double? KlDivScore,
    long CeTokens,
    long KlTokens);
