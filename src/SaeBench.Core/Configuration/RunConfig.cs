using System.Text.Json.Nodes;
using YamlDotNet.RepresentationModel;

namespace SaeBench.Core.Configuration;

/// <summary>One evaluator requested by a run, with its raw options (validated by the evaluator before any compute).</summary>
public sealed record EvaluatorRequest(string Id, JsonObject Options);

/// <summary>
/// A run's configuration (YAML). Top-level keys: <c>model</c>, <c>model_options</c>, <c>activations</c>,
/// <c>labels</c>, <c>checkpoints</c>, <c>suite</c>, <c>evaluators</c>, <c>backend</c>, <c>output</c>, <c>seed</c>.
/// Relative paths are resolved against <see cref="BaseDirectory"/> (the config file's folder).
/// </summary>
public sealed record RunConfig
{
    public static readonly IReadOnlyList<string> Keys =
        ["model", "model_options", "activations", "labels", "checkpoints", "suite", "evaluators", "backend", "output", "seed", "allow_model_mismatch"];

    /// <summary><c>fashion-mnist-mlp</c>, <c>synthetic</c> or <c>file</c> (then <see cref="Activations"/> is required).</summary>
    public string Model { get; init; } = "fashion-mnist-mlp";
    public JsonObject ModelOptions { get; init; } = [];
    public string? Activations { get; init; }
    public string? Labels { get; init; }
    /// <summary>The <c>checkpoints:</c> registry section as YAML (null = train and use <see cref="Suite"/>).</summary>
    public YamlNode? Checkpoints { get; init; }
    /// <summary>The training suite to use when no checkpoints are given (default <c>quick</c>).</summary>
    public string Suite { get; init; } = "quick";
    /// <summary>Null = every registered evaluator with default options.</summary>
    public IReadOnlyList<EvaluatorRequest>? Evaluators { get; init; }
    public string Backend { get; init; } = "cpu";
    public string Output { get; init; } = "results";
    public int Seed { get; init; }
    /// <summary>Run checkpoints whose recorded model, hook or processing differ from the model under study.</summary>
    public bool AllowModelMismatch { get; init; }
    public string Source { get; init; } = "(embedded default)";
    public string BaseDirectory { get; init; } = Directory.GetCurrentDirectory();

    /// <summary>The embedded default: Fashion-MNIST MLP, the quick suite, every evaluator, results under results/.</summary>
    public static RunConfig Default(string baseDirectory) => new() { BaseDirectory = baseDirectory };

    public string Resolve(string path) => Path.GetFullPath(Path.Combine(BaseDirectory, path));

    public static RunConfig Load(string path)
    {
        if (!File.Exists(path)) throw new ConfigException($"{path}: config file not found.");
        return Parse(YamlJson.ReadFile(path, problem => new ConfigException($"{path}: {problem}.")), path, Path.GetDirectoryName(Path.GetFullPath(path))!);
    }

    public static RunConfig Parse(string yaml, string source, string baseDirectory)
    {
        var config = new RunConfig { Source = source, BaseDirectory = baseDirectory };
        var document = YamlJson.LoadRoot(yaml, source);
        if (document is null) return config;
        if (document is not YamlMappingNode root)
            throw new ConfigException($"{source}: the top level must be a mapping of keys ({string.Join(", ", Keys)}).");

        foreach (var (keyNode, value) in root.Children)
        {
            var key = (keyNode as YamlScalarNode)?.Value ?? "";
            var at = $"{source}: '{key}' (line {keyNode.Start.Line})";
            config = key switch
            {
                "model" => config with { Model = Scalar(value, at) },
                "model_options" => config with { ModelOptions = YamlJson.ToJson(value) as JsonObject ?? throw new ConfigException($"{at} must be a mapping.") },
                "activations" => config with { Activations = Scalar(value, at) },
                "labels" => config with { Labels = Scalar(value, at) },
                "checkpoints" => config with { Checkpoints = value },
                "suite" => config with { Suite = Scalar(value, at) },
                "evaluators" => config with { Evaluators = ParseEvaluators(value, at) },
                "backend" => config with { Backend = Scalar(value, at) },
                "output" => config with { Output = Scalar(value, at) },
                "allow_model_mismatch" => config with
                {
                    AllowModelMismatch = bool.TryParse(Scalar(value, at), out var allow) ? allow : throw new ConfigException($"{at} must be true or false."),
                },
                "seed" => config with { Seed = int.TryParse(Scalar(value, at), System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out var s) ? s : throw new ConfigException($"{at} must be an integer.") },
                _ => throw new ConfigException($"{source}: line {keyNode.Start.Line}: " + Suggest.UnknownName("top-level key", key, Keys)),
            };
        }
        if (config.Model == "file" && config.Activations is null)
            throw new ConfigException($"{source}: 'model: file' needs 'activations: PATH' (safetensors or .npy).");
        return config;
    }

    private static string Scalar(YamlNode node, string at) =>
        node is YamlScalarNode s && s.Value is { } v ? v : throw new ConfigException($"{at} must be a single value.");

    private static List<EvaluatorRequest> ParseEvaluators(YamlNode node, string at)
    {
        if (node is not YamlSequenceNode seq)
            throw new ConfigException($"{at} must be a list of evaluator ids, or of {{id: ..., options: {{...}}}} entries.");
        var list = new List<EvaluatorRequest>();
        foreach (var item in seq.Children)
        {
            switch (item)
            {
                case YamlScalarNode s when !string.IsNullOrWhiteSpace(s.Value):
                    list.Add(new EvaluatorRequest(s.Value!, []));
                    break;
                case YamlMappingNode m:
                    var json = (JsonObject)YamlJson.ToJson(m)!;
                    foreach (var k in json.Select(kv => kv.Key))
                        if (k is not ("id" or "options"))
                            throw new ConfigException($"{at}, line {m.Start.Line}: " + Suggest.UnknownName("evaluator entry key", k, ["id", "options"]));
                    var id = json["id"] switch
                    {
                        null => throw new ConfigException($"{at}, line {m.Start.Line}: evaluator entry needs 'id'."),
                        JsonValue v when v.TryGetValue<string>(out var text) && !string.IsNullOrWhiteSpace(text) => text,
                        var other => throw new ConfigException($"{at}, line {m.Start.Line}: 'id' must be an evaluator id (text), found {YamlJson.Describe(other)}."),
                    };
                    var options = json["options"] switch
                    {
                        null => [],
                        JsonObject o => (JsonObject)o.DeepClone(),
                        _ => throw new ConfigException($"{at}, line {m.Start.Line}: 'options' of '{id}' must be a mapping."),
                    };
                    list.Add(new EvaluatorRequest(id, options));
                    break;
                default:
                    throw new ConfigException($"{at}, line {item.Start.Line}: each evaluator is an id or an {{id, options}} mapping.");
            }
        }
        if (list.Select(e => e.Id).Distinct().Count() != list.Count)
            throw new ConfigException($"{at}: an evaluator is listed twice.");
        return list;
    }
}
