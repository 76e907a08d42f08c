namespace SaeBench.Evals.Shared;

/// <summary>
/// Chan, Golub and LeVeque's parallel merge of running means and centred sums of squares (numerically stable: a batch's
/// own moments are merged into the running ones, never Σx² − n·μ²). Two forms: per column, and with the sum of squares
/// totalled over columns (what explained variance needs).
/// </summary>
public static class Moments
{
    /// <summary>
    /// Merges a batch of <paramref name="batchCount"/> rows (per-column means <paramref name="batchMean"/> and centred sums
    /// of squares <paramref name="batchM2"/>) into running per-column <paramref name="mean"/> and <paramref name="m2"/> over
    /// <paramref name="count"/> rows. The caller adds <paramref name="batchCount"/> to its count afterwards.
    /// </summary>
    public static void MergePerColumn(Span<double> mean, Span<double> m2, long count, ReadOnlySpan<double> batchMean, ReadOnlySpan<double> batchM2, long batchCount)
    {
        double total = count + batchCount;
        for (int i = 0; i < mean.Length; i++)
        {
            double delta = batchMean[i] - mean[i];
            mean[i] += delta * batchCount / total;
            m2[i] += batchM2[i] + delta * delta * count * batchCount / total;
        }
    }

    /// <summary>
    /// As <see cref="MergePerColumn"/>, with the centred sums of squares totalled over columns:
    /// M2 = M2_a + M2_b + Σ_j δ_j² · n_a n_b / (n_a + n_b). Returns the new count.
    /// </summary>
    public static long MergeTotal(Span<double> mean, ref double m2, long count, ReadOnlySpan<double> batchMean, double batchM2, long batchCount)
    {
        long n = count + batchCount;
        double cross = 0;
        for (int j = 0; j < mean.Length; j++)
        {
            double delta = batchMean[j] - mean[j];
            cross += delta * delta;
            mean[j] += delta * batchCount / n;
        }
        m2 += batchM2 + cross * ((double)count * batchCount / n);
        return n;
    }
}
