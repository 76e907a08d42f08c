using SaeBench.Core.Evaluation;
using SaeBench.Core.Results;
namespace SaeBench.Reporting.Results;

/// <summary>Every usable result found under a results directory (shards merged), the files that were
/// skipped and why, and the merged manifest when there was one.</summary>
public sealed class ResultSet
{
    private readonly Dictionary<(string Checkpoint, MetricKey Key), double?> _values = new();
    private readonly Dictionary<MetricKey, MetricDescriptor> _descriptors = new();

    public ResultSet(string root, IReadOnlyList<ResultRecord> results, IReadOnlyList<ResultProblem> problems, RunManifest? manifest)
    {
        Root = root;
        Results = results;
        Problems = problems;
        Manifest = manifest;
        var checkpoints = new Dictionary<string, ResultCheckpoint>(StringComparer.Ordinal);
        var metricKeys = new List<MetricKey>();
        foreach (var r in results)
        {
            if (!checkpoints.ContainsKey(r.Checkpoint.Id)) checkpoints[r.Checkpoint.Id] = r.Checkpoint;
            foreach (var m in r.Metrics)
            {
                var key = new MetricKey(r.EvalTypeId, m.Descriptor.Id);
                if (!_descriptors.ContainsKey(key)) { _descriptors[key] = m.Descriptor; metricKeys.Add(key); }
                _values[(r.Checkpoint.Id, key)] = m.Value;
            }
        }
        Checkpoints = checkpoints.Values
            .OrderBy(c => c.Architecture ?? "", StringComparer.Ordinal)
            .ThenBy(c => c.WidthValue ?? double.MaxValue)
            .ThenBy(c => c.Id, StringComparer.Ordinal)
            .ToList();
        // Evaluators in name order, metrics in the order the result files list them.
        var evalOrder = metricKeys.Select(k => k.EvalTypeId).Distinct().Order(StringComparer.Ordinal).ToList();
        MetricKeys = metricKeys.OrderBy(k => evalOrder.IndexOf(k.EvalTypeId)).ToList();
    }

    /// <summary>The directory the results were read from.</summary>
    public string Root { get; }
    public IReadOnlyList<ResultRecord> Results { get; }
    public IReadOnlyList<ResultProblem> Problems { get; }
    public RunManifest? Manifest { get; }

    /// <summary>Distinct checkpoints, ordered by architecture, width, id.</summary>
    public IReadOnlyList<ResultCheckpoint> Checkpoints { get; }

    /// <summary>Every (evaluator, metric) seen, evaluators by name, metrics in file order.</summary>
    public IReadOnlyList<MetricKey> MetricKeys { get; }

    public IEnumerable<string> EvalTypeIds => MetricKeys.Select(k => k.EvalTypeId).Distinct();

    /// <summary>The descriptor of a metric, or null when no result has it.</summary>
    public MetricDescriptor? Descriptor(MetricKey key) => _descriptors.GetValueOrDefault(key);

    /// <summary>The value of a metric for a checkpoint; null when undefined or absent.</summary>
    public double? Value(string checkpointId, MetricKey key) => _values.GetValueOrDefault((checkpointId, key));

    /// <summary>True when at least one checkpoint has a defined value of the metric.</summary>
    public bool HasValues(MetricKey key) => Checkpoints.Any(c => Value(c.Id, key) is not null);
}
