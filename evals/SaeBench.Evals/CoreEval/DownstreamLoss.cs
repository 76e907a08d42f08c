using SaeBench.Core.Models;

namespace SaeBench.Evals.CoreEval;

/// <summary>
/// Cross-entropy and KL divergence accumulated in double over the per-row outcomes a model's
/// <see cref="IDownstreamLoss"/> hands back: CE against the target where a row has one, KL(p_clean ‖ p_new) on every
/// valid row.
/// </summary>
public sealed class DownstreamLossAccumulator
{
    private double _ceClean, _ceSae, _ceAbl, _klSae, _klAbl;
    private long _ceTokens, _klTokens;

    /// <summary>The outcomes of one batch: clean, with the SAE spliced in, with zero ablation; padding rows skipped.</summary>
    public void Observe(RowOutcomes clean, RowOutcomes withSae, RowOutcomes ablated, ReadOnlySpan<bool> valid)
    {
        for (int r = 0; r < clean.Rows; r++)
        {
            if (!valid[r]) continue;
            _klSae += withSae.KlFromClean[r];
            _klAbl += ablated.KlFromClean[r];
            _klTokens++;
            if (!clean.HasTarget[r]) continue;
            _ceClean += clean.CrossEntropy[r];
            _ceSae += withSae.CrossEntropy[r];
            _ceAbl += ablated.CrossEntropy[r];
            _ceTokens++;
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
