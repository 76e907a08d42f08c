namespace SaeBench.Core.Autoencoders;

/// <summary>The architecture ids of ARCHITECTURES.md and the aliases other tools use for them.</summary>
public static class SaeArchitectures
{
    public const string Relu = "relu";
    public const string TopK = "topk";
    public const string BatchTopK = "batchtopk";
    public const string MatryoshkaBatchTopK = "matryoshka_batchtopk";
    public const string JumpRelu = "jumprelu";
    public const string Gated = "gated";
    public const string MutualChoice = "mutual_choice";
    public const string FeatureChoice = "feature_choice";
    public const string Pca = "pca";
    public const string Identity = "identity";

    /// <summary>Canonical ids, in the order of the spec's table.</summary>
    public static IReadOnlyList<string> All { get; } =
        [Relu, TopK, BatchTopK, MatryoshkaBatchTopK, JumpRelu, Gated, MutualChoice, FeatureChoice, Pca, Identity];

    /// <summary>Names that encode exactly like a canonical id (training differs, inference does not).</summary>
    public static IReadOnlyDictionary<string, string> Aliases { get; } = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["standard"] = Relu,
        ["standard_april_update"] = Relu,
        ["p_anneal"] = Relu,
        ["matryoshka"] = MatryoshkaBatchTopK,
        ["batch_topk"] = BatchTopK,
        ["jump_relu"] = JumpRelu,
    };

    /// <summary>The canonical id for a name or alias (case-insensitive), or null.</summary>
    public static string? TryCanonical(string? name)
    {
        if (string.IsNullOrWhiteSpace(name)) return null;
        var n = name.Trim().ToLowerInvariant();
        if (All.Contains(n)) return n;
        return Aliases.TryGetValue(n, out var c) ? c : null;
    }

    /// <summary>The canonical id; an unknown name throws, listing the valid ones and the closest match.</summary>
    public static string Canonical(string name) =>
        TryCanonical(name) ?? throw new ArgumentException(
            $"Unknown SAE architecture '{name}'{Suggest(name)}. Valid: {string.Join(", ", All.Concat(Aliases.Keys))}.");

    /// <summary>Architectures whose inference keeps a fixed number of latents per token or per batch (no threshold).</summary>
    public static bool UsesBatchThreshold(string canonical) =>
        canonical is BatchTopK or MatryoshkaBatchTopK or MutualChoice;

    private static string Suggest(string name)
    {
        var best = All.Concat(Aliases.Keys).MinBy(c => Configuration.Suggest.Distance(c, name.ToLowerInvariant()));
        return best is not null && Configuration.Suggest.Distance(best, name.ToLowerInvariant()) <= 3 ? $" (did you mean '{best}'?)" : "";
    }
}
