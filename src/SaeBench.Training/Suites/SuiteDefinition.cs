using System.Globalization;
using SaeBench.Training.Baselines;
using SaeBench.Training.Objectives;
using YamlDotNet.RepresentationModel;

namespace SaeBench.Training.Suites;

/// <summary>
/// One member of a suite: an id, its training options and the tags written to the registry. A baseline member
/// (<see cref="Baseline"/> = <c>pca</c> or <c>identity</c>) is not trained: it is built in closed form from the train
/// split; its <see cref="TrainingOptions.Architecture"/> is the baseline kind, its width is
/// <see cref="TrainingOptions.Width"/> (0 = d_model) and it has no target L0 tag.
/// </summary>
public sealed record SuiteMember(string Id, TrainingOptions Options)
{
    /// <summary>The variant of its architecture this member trains (e.g. <c>no_aux_zipf</c>), tagged <c>variant</c>; null for the plain one.</summary>
    public string? Variant { get; init; }

    /// <summary>The baseline kind (<see cref="BaselineSaes.Kinds"/>), or null for a trained SAE.</summary>
    public string? Baseline { get; init; }

    /// <summary>Registry tags; <paramref name="dModel"/> fills in the width of baselines sized by the model.</summary>
    public IReadOnlyDictionary<string, string> TagsFor(int dModel)
    {
        var tags = new SortedDictionary<string, string>(StringComparer.Ordinal)
        {
            ["architecture"] = Options.Architecture,
            ["width"] = (Baseline is not null && Options.Width == 0 ? dModel : Options.Width).ToString(CultureInfo.InvariantCulture),
            ["seed"] = Options.Seed.ToString(CultureInfo.InvariantCulture),
        };
        if (Baseline is null) tags["target_l0"] = Options.TargetL0.ToString(CultureInfo.InvariantCulture);
        if (Variant is not null) tags["variant"] = Variant;
        return tags;
    }

    /// <summary>Tags of a trained member (baselines: see <see cref="TagsFor"/>, which knows d_model).</summary>
    public IReadOnlyDictionary<string, string> Tags => TagsFor(Options.Width);
}

/// <summary>
/// A suite: the model it is trained on and the grid architectures × widths × target L0s × seeds, with shared
/// training settings and optional per-architecture overrides. YAML:
/// <code>
/// name: my-suite
/// model: fashion-mnist-mlp          # optional; --model overrides
/// architectures: [topk, relu]       # optional; default every trainer
/// widths: [256, 512]
/// target_l0: [8, 16, 32]
/// seeds: [0]                        # optional
/// steps: 2000                       # optional
/// batch_size: 256                   # optional
/// lr: 0.001                         # optional
/// overrides:                        # optional, per architecture (or "all")
///   feature_choice: {capacity: zipf}
///   relu: {lr: 0.0005}
/// baselines: [pca, identity]        # optional (default none in files; the built-in suites have both)
/// pca_components: 64                # optional; default d_model
/// </code>
/// Baselines are added once per suite (not per width or target), ids <c>pca</c> / <c>identity</c>.
/// </summary>
public sealed record SuiteDefinition
{
    public required string Name { get; init; }
    public string? Model { get; init; }
    public IReadOnlyList<string> Architectures { get; init; } = ObjectiveFactory.Architectures;
    public required IReadOnlyList<int> Widths { get; init; }
    public required IReadOnlyList<double> TargetL0s { get; init; }
    public IReadOnlyList<int> Seeds { get; init; } = [0];
    public int Steps { get; init; } = 2000;
    public int BatchSize { get; init; } = 256;
    public double LearningRate { get; init; } = 1e-3;

    /// <summary>Closed-form reference members added once per suite: <c>pca</c>, <c>identity</c> (see <see cref="BaselineSaes"/>).</summary>
    public IReadOnlyList<string> Baselines { get; init; } = [];

    /// <summary>Number of PCA components (null = d_model).</summary>
    public int? PcaComponents { get; init; }

    /// <summary>Per-architecture changes to the options (key "all" applies to every architecture first).</summary>
    public IReadOnlyDictionary<string, Func<TrainingOptions, TrainingOptions>> Overrides { get; init; } =
        new Dictionary<string, Func<TrainingOptions, TrainingOptions>>();

    /// <summary>
    /// Grids trained instead of this suite's own grid (its <see cref="Architectures"/> × <see cref="Widths"/> × … are then
    /// only a summary): each part brings its own architectures, widths, targets, seeds, steps and overrides, and may be a
    /// <see cref="Variant"/>. A member that two parts both list (same id and options) is trained once. The <c>paper</c>
    /// suite is built this way: a full grid of every architecture × width × seed would be several times the work.
    /// </summary>
    public IReadOnlyList<SuiteDefinition> Parts { get; init; } = [];

    /// <summary>For a part: the variant its members train (ids get <c>-NAME</c> appended, tag <c>variant: NAME</c>).</summary>
    public string? Variant { get; init; }

    /// <summary>The members, in a stable order (architecture, width, target, seed; parts in order).</summary>
    public IReadOnlyList<SuiteMember> Members()
    {
        var members = new List<SuiteMember>();
        if (Parts.Count > 0)
        {
            var byId = new Dictionary<string, SuiteMember>(StringComparer.Ordinal);
            foreach (var part in Parts)
                foreach (var m in part.Members())
                {
                    if (m.Baseline is not null) continue;
                    if (byId.TryGetValue(m.Id, out var seen))
                    {
                        if (seen.Options != m.Options) throw new ArgumentException($"suite {Name}: member {m.Id} appears in two parts with different options.");
                        continue;
                    }
                    byId[m.Id] = m;
                    members.Add(m);
                }
            AddBaselines(members);
            return members;
        }
        foreach (var arch in Architectures)
        foreach (var width in Widths)
        foreach (var target in TargetL0s)
        foreach (var seed in Seeds)
        {
            var o = new TrainingOptions
            {
                Architecture = arch,
                Width = width,
                TargetL0 = target,
                Seed = seed,
                Steps = Steps,
                BatchSize = BatchSize,
                LearningRate = LearningRate,
            };
            if (Overrides.TryGetValue("all", out var all)) o = all(o);
            if (Overrides.TryGetValue(arch, out var own)) o = own(o);
            string id = string.Create(CultureInfo.InvariantCulture, $"{arch}-w{width}-l0_{target}-s{seed}") + (Variant is null ? "" : "-" + Variant);
            members.Add(new SuiteMember(id, o) { Variant = Variant });
        }
        AddBaselines(members);
        return members;
    }

    private void AddBaselines(List<SuiteMember> members)
    {
        foreach (var kind in Baselines)
        {
            int width = kind == BaselineSaes.Pca ? PcaComponents ?? 0 : 0;
            string id = kind == BaselineSaes.Pca && PcaComponents is { } k ? string.Create(CultureInfo.InvariantCulture, $"pca-k{k}") : kind;
            var o = new TrainingOptions { Architecture = kind, Width = width, TargetL0 = 0, Steps = 0 };
            members.Add(new SuiteMember(id, o) { Baseline = kind });
        }
    }

    /// <summary>Reads a suite file; errors name the file and the field.</summary>
    public static SuiteDefinition FromFile(string path)
    {
        if (!File.Exists(path)) throw new SuiteFormatException(path, "file", "does not exist");
        var text = Core.Configuration.YamlJson.ReadFile(path, problem => new SuiteFormatException(path, "file", problem));
        return FromYaml(text, path, Path.GetFileNameWithoutExtension(path));
    }

    private static readonly string[] Keys = ["name", "model", "architectures", "widths", "target_l0", "seeds", "steps", "batch_size", "lr", "overrides", "baselines", "pca_components"];

    public static SuiteDefinition FromYaml(string yaml, string source, string defaultName)
    {
        var document = Core.Configuration.YamlJson.LoadRoot(yaml, p => new SuiteFormatException(source, $"line {p.Line}", $"not valid YAML ({p.Message})"));
        if (document is not YamlMappingNode root)
            throw new SuiteFormatException(source, "suite", "must be a mapping with widths: and target_l0:");
        string name = defaultName;
        string? model = null;
        IReadOnlyList<string> archs = ObjectiveFactory.Architectures;
        IReadOnlyList<int>? widths = null;
        IReadOnlyList<double>? targets = null;
        IReadOnlyList<int> seeds = [0];
        int steps = 2000, batch = 256;
        double lr = 1e-3;
        IReadOnlyList<string> baselines = [];
        int? pcaComponents = null;
        var overrides = new Dictionary<string, Func<TrainingOptions, TrainingOptions>>(StringComparer.Ordinal);
        foreach (var (k, v) in root.Children)
        {
            string key = (k as YamlScalarNode)?.Value ?? "";
            switch (key)
            {
                case "name": name = Scalar(v, key, source); break;
                case "model": model = Scalar(v, key, source); break;
                case "architectures":
                    archs = List(v, key, source, s => s);
                    foreach (var a in archs)
                        if (!ObjectiveFactory.Architectures.Contains(a))
                            throw new SuiteFormatException(source, key, $"unknown architecture '{a}' (valid: {string.Join(", ", ObjectiveFactory.Architectures)})");
                    break;
                case "widths": widths = List(v, key, source, s => ParseInt(s, key, source, min: 1)); break;
                case "target_l0": targets = List(v, key, source, s => ParseDouble(s, key, source)); break;
                case "seeds": seeds = List(v, key, source, s => ParseInt(s, key, source, min: 0)); break;
                case "steps": steps = ParseInt(Scalar(v, key, source), key, source, min: 1); break;
                case "batch_size": batch = ParseInt(Scalar(v, key, source), key, source, min: 1); break;
                case "lr": lr = ParseDouble(Scalar(v, key, source), key, source); break;
                case "baselines":
                    baselines = v is YamlSequenceNode { Children.Count: 0 } ? [] : List(v, key, source, s => s);
                    foreach (var b in baselines)
                        if (!BaselineSaes.Kinds.Contains(b))
                            throw new SuiteFormatException(source, key, $"unknown baseline '{b}' (valid: {string.Join(", ", BaselineSaes.Kinds)})");
                    if (baselines.Distinct().Count() != baselines.Count) throw new SuiteFormatException(source, key, "lists a baseline twice");
                    break;
                case "pca_components": pcaComponents = ParseInt(Scalar(v, key, source), key, source, min: 1); break;
                case "overrides":
                    if (v is not YamlMappingNode om) throw new SuiteFormatException(source, key, "must map architecture names (or 'all') to option mappings");
                    foreach (var (ak, av) in om.Children)
                    {
                        string arch = (ak as YamlScalarNode)?.Value ?? "";
                        if (arch != "all" && !ObjectiveFactory.Architectures.Contains(arch))
                            throw new SuiteFormatException(source, $"overrides.{arch}", $"unknown architecture (valid: all, {string.Join(", ", ObjectiveFactory.Architectures)})");
                        overrides[arch] = ParseOverride(av, $"overrides.{arch}", source);
                    }
                    break;
                default:
                    throw new SuiteFormatException(source, key, $"unknown key (valid: {string.Join(", ", Keys)})");
            }
        }
        if (widths is null || widths.Count == 0) throw new SuiteFormatException(source, "widths", "is required (a list of latent counts)");
        if (targets is null || targets.Count == 0) throw new SuiteFormatException(source, "target_l0", "is required (a list of target L0s)");
        var suite = new SuiteDefinition
        {
            Name = name, Model = model, Architectures = archs, Widths = widths, TargetL0s = targets, Seeds = seeds,
            Steps = steps, BatchSize = batch, LearningRate = lr, Overrides = overrides,
            Baselines = baselines, PcaComponents = pcaComponents,
        };
        foreach (var m in suite.Members())
        {
            if (m.Baseline is not null) continue;
            try
            {
                ObjectiveFactory.Validate(m.Options, dIn: 1);
            }
            catch (ArgumentException e)
            {
                throw new SuiteFormatException(source, m.Id, e.Message);
            }
        }
        return suite;
    }

    private static readonly string[] OverrideKeys =
    [
        "lr", "steps", "batch_size", "capacity", "aux_k", "aux_k_coefficient", "dead_window_tokens", "initial_penalty",
        "adapt_penalty", "penalty_adapt_rate", "jumprelu_bandwidth", "jumprelu_initial_threshold", "jumprelu_calibrate", "jumprelu_calibration_factor", "jumprelu_negative_penalty_floor", "jumprelu_calibration_min_density", "penalty_warmup_fraction", "p_anneal_floor",
        "threshold_rate", "aux_zipf_gamma", "aux_zipf_coefficient", "capacity_zipf_alpha", "warmup_fraction",
    ];

    private static Func<TrainingOptions, TrainingOptions> ParseOverride(YamlNode node, string field, string source)
    {
        if (node is not YamlMappingNode map) throw new SuiteFormatException(source, field, "must be a mapping of option names to values");
        Func<TrainingOptions, TrainingOptions> f = o => o;
        foreach (var (k, v) in map.Children)
        {
            string key = (k as YamlScalarNode)?.Value ?? "";
            string at = field + "." + key;
            string s = Scalar(v, at, source);
            Func<TrainingOptions, TrainingOptions> g = key switch
            {
                "lr" => o => o with { LearningRate = ParseDouble(s, at, source) },
                "steps" => o => o with { Steps = ParseInt(s, at, source, 1) },
                "batch_size" => o => o with { BatchSize = ParseInt(s, at, source, 1) },
                "capacity" => o => o with { Capacity = s },
                "aux_k" => o => o with { AuxK = ParseInt(s, at, source, 0) },
                "aux_k_coefficient" => o => o with { AuxKCoefficient = ParseDouble(s, at, source) },
                "dead_window_tokens" => o => o with { DeadWindowTokens = ParseInt(s, at, source, 1) },
                "initial_penalty" => o => o with { InitialPenalty = ParseDouble(s, at, source) },
                "adapt_penalty" => o => o with { AdaptPenalty = s is "true" or "True" or "yes" },
                "penalty_adapt_rate" => o => o with { PenaltyAdaptRate = ParseDouble(s, at, source) },
                "jumprelu_bandwidth" => o => o with { JumpReluBandwidth = ParseDouble(s, at, source) },
                "jumprelu_initial_threshold" => o => o with { JumpReluInitialThreshold = ParseDouble(s, at, source) },
                "jumprelu_calibrate" => o => o with { JumpReluCalibrate = s is "true" or "True" or "yes" },
                "jumprelu_calibration_factor" => o => o with { JumpReluCalibrationFactor = ParseDouble(s, at, source) },
                "jumprelu_negative_penalty_floor" => o => o with { JumpReluNegativePenaltyFloor = ParseNonNegative(s, at, source) },
                "jumprelu_calibration_min_density" => o => o with { JumpReluCalibrationMinDensity = ParseNonNegative(s, at, source) },
                "penalty_warmup_fraction" => o => o with { PenaltyWarmupFraction = ParseDouble(s, at, source) },
                "p_anneal_floor" => o => o with { PAnnealFloor = ParseDouble(s, at, source) },
                "threshold_rate" => o => o with { ThresholdRate = ParseDouble(s, at, source) },
                "aux_zipf_gamma" => o => o with { AuxZipf = o.AuxZipf with { Gamma = ParseDouble(s, at, source) } },
                "aux_zipf_coefficient" => o => o with { AuxZipf = o.AuxZipf with { Coefficient = ParseDouble(s, at, source) } },
                "capacity_zipf_alpha" => o => o with { CapacityZipfAlpha = ParseDouble(s, at, source) },
                "warmup_fraction" => o => o with { WarmupFraction = ParseDouble(s, at, source) },
                _ => throw new SuiteFormatException(source, at, $"unknown option (valid: {string.Join(", ", OverrideKeys)})"),
            };
            var prev = f;
            f = o => g(prev(o));
        }
        return f;
    }

    private static string Scalar(YamlNode node, string field, string source) =>
        node is YamlScalarNode { Value: { Length: > 0 } v } ? v : throw new SuiteFormatException(source, field, "must be a non-empty value");

    private static IReadOnlyList<T> List<T>(YamlNode node, string field, string source, Func<string, T> parse) => node switch
    {
        YamlSequenceNode seq => seq.Children.Select((c, i) => parse(Scalar(c, $"{field}[{i}]", source))).ToArray(),
        YamlScalarNode => [parse(Scalar(node, field, source))],
        _ => throw new SuiteFormatException(source, field, "must be a list"),
    };

    private static int ParseInt(string s, string field, string source, int min) =>
        int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) && v >= min
            ? v : throw new SuiteFormatException(source, field, $"'{s}' is not an integer ≥ {min}");

    private static double ParseNonNegative(string s, string field, string source) =>
        double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && v >= 0 && double.IsFinite(v)
            ? v : throw new SuiteFormatException(source, field, $"'{s}' is not a non-negative number");

    private static double ParseDouble(string s, string field, string source) =>
        double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && v > 0 && double.IsFinite(v)
            ? v : throw new SuiteFormatException(source, field, $"'{s}' is not a positive number");
}

/// <summary>A suite file problem: the file, the field and what is wrong.</summary>
public sealed class SuiteFormatException(string file, string field, string problem)
    : Core.BadInputException($"{file}: {field}: {problem}.")
{
    public string File { get; } = file;
    public string Field { get; } = field;
}
