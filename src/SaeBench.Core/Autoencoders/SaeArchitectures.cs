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

    /// <summary>Aliases that are only other spellings of a canonical id (same inference, same training): SAELens's
    /// <c>standard</c> is a ReLU SAE, <c>batch_topk</c>, <c>jump_relu</c> and <c>matryoshka</c> are spellings.
    /// <c>p_anneal</c> and <c>standard_april_update</c> name a training method of their own and are not among them.</summary>
    public static IReadOnlySet<string> Spellings { get; } = new HashSet<string>(StringComparer.Ordinal) { "standard", "batch_topk", "jump_relu", "matryoshka" };

    /// <summary>
    /// The name reports group checkpoints by: a canonical id or a mere spelling of one → the canonical id (so SAELens's
    /// <c>standard</c> joins <c>relu</c>); a name of a distinct training method (<c>p_anneal</c>, <c>standard_april_update</c>)
    /// or any other name (a user's tag) → itself, trimmed.
    /// </summary>
    public static string ReportName(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        var trimmed = name.Trim();
        var lower = trimmed.ToLowerInvariant();
        if (All.Contains(lower)) return lower;
        return Spellings.Contains(lower) ? Aliases[lower] : trimmed;
    }

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
