namespace SaeBench.Evals.Shared;

/// <summary>Binary probe targets for examples laid out positives first, then negatives (how the probing evaluators
/// assemble their train and test sets).</summary>
public static class ProbeLabels
{
    /// <summary><paramref name="positives"/> trues followed by <paramref name="negatives"/> falses.</summary>
    public static bool[] PositivesThenNegatives(int positives, int negatives)
    {
        if (positives < 0 || negatives < 0) throw new ArgumentOutOfRangeException(nameof(positives), "Counts must be ≥ 0.");
        var y = new bool[positives + negatives];
        Array.Fill(y, true, 0, positives);
        return y;
    }
}
