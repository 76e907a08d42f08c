using System.Text.Json.Nodes;

namespace SaeBench.Core.Evaluation;

/// <summary>
/// What one evaluator produced for one checkpoint: metrics (flattened, self-describing), per-item details
/// (e.g. one row per latent) and optional unstructured extras. Immutable.
/// </summary>
public sealed record EvalResult(
    IReadOnlyList<MetricValue> Metrics,
    IReadOnlyList<JsonObject> Details,
    JsonNode? Unstructured = null)
{
    public static EvalResult Empty { get; } = new([], []);

    /// <summary>The value of <c>category.name</c>, or null when absent or undefined.</summary>
    public double? Get(string id) => Metrics.FirstOrDefault(m => m.Descriptor.Id == id)?.Value;
}
