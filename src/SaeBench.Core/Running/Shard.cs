namespace SaeBench.Core.Running;

/// <summary>
/// A deterministic slice of the plan: <c>--shard i/n</c> (1-based i). Shards split by checkpoint, so each
/// checkpoint is loaded by exactly one shard and all of its jobs land there.
/// </summary>
public sealed record Shard(int Index, int Count)
{
    public static Shard All { get; } = new(1, 1);

    public static Shard Parse(string text)
    {
        var parts = text.Split('/');
        if (parts.Length != 2 || !int.TryParse(parts[0], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int i)
            || !int.TryParse(parts[1], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int n)
            || n < 1 || i < 1 || i > n)
            throw new FormatException($"--shard must look like i/n with 1 ≤ i ≤ n (got '{text}').");
        return new Shard(i, n);
    }

    /// <summary>Whether the checkpoint at position <paramref name="checkpointIndex"/> (in sorted order) belongs to this shard.</summary>
    public bool Contains(int checkpointIndex) => checkpointIndex % Count == Index - 1;

    public override string ToString() => $"{Index}/{Count}";
}
