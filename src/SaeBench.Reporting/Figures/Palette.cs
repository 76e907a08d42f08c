namespace SaeBench.Reporting.Figures;

/// <summary>
/// One colour and marker per SAE architecture, the same in every figure and in report.html. The known architectures
/// have fixed entries (the ten Tableau colours, which are distinct for the common forms of colour blindness when paired
/// with a marker shape, and each architecture also has its own shape among its neighbours); any other architecture takes
/// the next unused entry in name order. A known architecture's style never depends on which other architectures a run has.
/// </summary>
public static class Palette
{
    /// <summary>The architectures the harness trains, in the order they are assigned styles.</summary>
    public static readonly IReadOnlyList<(string Architecture, MarkStyle Style)> Known =
    [
        ("relu", new("#1f77b4", MarkerShape.Circle)),
        ("topk", new("#ff7f0e", MarkerShape.Square)),
        ("batchtopk", new("#2ca02c", MarkerShape.Diamond)),
        ("jumprelu", new("#d62728", MarkerShape.TriangleUp)),
        ("gated", new("#9467bd", MarkerShape.TriangleDown)),
        ("p_anneal", new("#8c564b", MarkerShape.Cross)),
        ("matryoshka_batchtopk", new("#e377c2", MarkerShape.Circle)),
        ("feature_choice", new("#17becf", MarkerShape.Square)),
        ("mutual_choice", new("#bcbd22", MarkerShape.Diamond)),
        ("standard", new("#393b79", MarkerShape.TriangleUp)),
        ("pca", new("#555555", MarkerShape.Cross)),
        ("identity", new("#000000", MarkerShape.Circle)),
    ];

    /// <summary>Styles for architectures the harness does not know, in order.</summary>
    public static readonly IReadOnlyList<MarkStyle> Extra =
    [
        new("#7f7f7f", MarkerShape.TriangleDown), new("#637939", MarkerShape.Cross), new("#8c6d31", MarkerShape.Circle),
        new("#843c39", MarkerShape.Square), new("#7b4173", MarkerShape.Diamond), new("#3182bd", MarkerShape.TriangleUp),
        new("#e6550d", MarkerShape.TriangleDown), new("#31a354", MarkerShape.Cross),
    ];

    /// <summary>Styles for every architecture in <paramref name="architectures"/> (in the order given): known ones from
    /// <see cref="Known"/>, others from <see cref="Extra"/> by name order (cycling marker shapes when those run out).</summary>
    public static IReadOnlyDictionary<string, MarkStyle> For(IEnumerable<string> architectures)
    {
        var list = architectures.Distinct(StringComparer.Ordinal).ToList();
        var map = new Dictionary<string, MarkStyle>(StringComparer.Ordinal);
        foreach (var a in list)
            if (Known.FirstOrDefault(k => k.Architecture.Equals(a, StringComparison.OrdinalIgnoreCase)) is { Style: { } s }) map[a] = s;
        int next = 0;
        foreach (var a in list.Where(a => !map.ContainsKey(a)).Order(StringComparer.Ordinal))
        {
            var s = Extra[next % Extra.Count];
            map[a] = next < Extra.Count ? s : s with { Marker = (MarkerShape)((next / Extra.Count + (int)s.Marker) % 6) };
            next++;
        }
        return map;
    }

    /// <summary>Sort order of architectures in legends: known ones in <see cref="Known"/> order, then others by name.</summary>
    public static IReadOnlyList<string> Order(IEnumerable<string> architectures)
    {
        int Rank(string a)
        {
            for (int i = 0; i < Known.Count; i++)
                if (Known[i].Architecture.Equals(a, StringComparison.OrdinalIgnoreCase)) return i;
            return int.MaxValue;
        }
        return architectures.Distinct(StringComparer.Ordinal).OrderBy(Rank).ThenBy(a => a, StringComparer.Ordinal).ToList();
    }
}
