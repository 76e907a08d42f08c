namespace SaeBench.Core.Evaluation;

/// <summary>
/// What a metric is, independent of any value: tables, plots and comparisons are built from descriptors and
/// know nothing about individual evaluators. <see cref="HigherIsBetter"/> is null for metrics with no direction
/// (e.g. L0, token counts): they are informational and never regress.
/// </summary>
public sealed record MetricDescriptor(string Category, string Name, string DisplayName, string? Unit, bool? HigherIsBetter)
{
    /// <summary><c>category.name</c>, the id used in tables, e.g. <c>reconstruction_quality.explained_variance</c>.</summary>
    public string Id => Category + "." + Name;

    /// <summary>Axis/column title: display name with the unit in brackets when there is one.</summary>
    public string Title => string.IsNullOrWhiteSpace(Unit) ? DisplayName : $"{DisplayName} ({Unit})";
}

/// <summary>A metric's value; null when undefined (never NaN or -1).</summary>
public sealed record MetricValue(MetricDescriptor Descriptor, double? Value)
{
    public static MetricValue Of(MetricDescriptor d, double value) =>
        new(d, double.IsFinite(value) ? value : null);
}
