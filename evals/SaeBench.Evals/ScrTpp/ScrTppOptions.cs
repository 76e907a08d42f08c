using SaeBench.Core.Evaluation;
using SaeBench.Evals.Shared;
using SaeBench.Evals.SparseProbing;

namespace SaeBench.Evals.ScrTpp;

/// <summary>Options shared by <c>scr</c> and <c>tpp</c> (SAEBench's <c>ScrAndTppEvalConfig</c> names where it has one).</summary>
public abstract record ScrTppOptions : EvaluatorOptions
{
    /// <summary>Train examples per probe (SAEBench: 4000; SCR's quadrants get a quarter each, TPP's classes half positives).</summary>
    public int TrainSetSize { get; init; } = 4000;

    /// <summary>Test examples per probe, split the same way.</summary>
    public int TestSetSize { get; init; } = 1000;

    /// <summary>Numbers of top latents ablated (SAEBench's thresholds). A value above the SAE's width gives null.</summary>
    public int[] NValues { get; init; } = [2, 5, 10, 20, 50, 100, 500];

    public int ProbeTrainBatchSize { get; init; } = 16;
    public int ProbeEpochs { get; init; } = 20;
    public double ProbeLr { get; init; } = 1e-3;
    public double ProbeL1Penalty { get; init; } = 1e-3;

    /// <summary>Tokens kept of each text (language models).</summary>
    public int ContextLength { get; init; } = 128;

    /// <summary>SAEBench's dataset names (language models), their files looked up in <see cref="DataDirectory"/> as
    /// <c>NAME.{parquet,jsonl,csv}</c> with <c>/</c> → <c>__</c>. Empty (with no <see cref="Datasets"/>) = the model's own
    /// labels (classifiers, the synthetic world).</summary>
    public IReadOnlyList<string> DatasetNames { get; init; } = [];

    /// <summary>Folder of the files of <see cref="DatasetNames"/> (relative to the run configuration).</summary>
    public string? DataDirectory { get; init; }

    /// <summary>Labelled text datasets given by path, with their two fields.</summary>
    public IReadOnlyList<AttributeDatasetOptions> Datasets { get; init; } = [];

    internal AdamProbeOptions Probe => new()
    {
        BatchSize = ProbeTrainBatchSize, Epochs = ProbeEpochs, LearningRate = ProbeLr, L1Penalty = ProbeL1Penalty,
    };

    /// <summary>The dataset names this evaluator knows (SCR needs a second column; TPP only the class column).</summary>
    protected abstract IReadOnlyCollection<string> KnownNames { get; }

    public override IEnumerable<string> Validate()
    {
        if (TrainSetSize < 4) yield return $"train_set_size: {TrainSetSize} must be at least 4.";
        if (TestSetSize < 4) yield return $"test_set_size: {TestSetSize} must be at least 4.";
        if (NValues is null || NValues.Length == 0) yield return "n_values: give at least one n.";
        else
        {
            foreach (int n in NValues.Where(n => n < 1)) yield return $"n_values: {n} must be at least 1.";
            if (NValues.Distinct().Count() != NValues.Length) yield return $"n_values: [{string.Join(", ", NValues)}] has repeats.";
        }
        if (ProbeTrainBatchSize < 1) yield return $"probe_train_batch_size: {ProbeTrainBatchSize} must be at least 1.";
        if (ProbeEpochs < 1) yield return $"probe_epochs: {ProbeEpochs} must be at least 1.";
        if (!(ProbeLr > 0) || !double.IsFinite(ProbeLr)) yield return $"probe_lr: {ProbeLr} must be a positive number.";
        if (!(ProbeL1Penalty >= 0) || !double.IsFinite(ProbeL1Penalty)) yield return $"probe_l1_penalty: {ProbeL1Penalty} must be ≥ 0.";
        if (ContextLength < 1) yield return $"context_length: {ContextLength} must be at least 1.";
        if (DatasetNames.Count > 0 && DataDirectory is null) yield return "data_directory: give the folder holding the files of dataset_names.";
        foreach (var name in DatasetNames.Where(n => !KnownNames.Contains(n)))
            yield return $"dataset_names: '{name}' is not one of SAEBench's datasets for this evaluator ({string.Join(", ", KnownNames)}); give it under datasets: with its fields.";
        foreach (var d in Datasets)
        {
            if (string.IsNullOrWhiteSpace(d.Path)) yield return $"datasets: '{d.Name}' needs a path.";
            if (d.Column2Values.Count is not (0 or 2)) yield return $"datasets: '{d.Name}': column2_values needs two values [positive, negative], got {d.Column2Values.Count}.";
        }
        var names = DatasetNames.Concat(Datasets.Select(d => d.Name)).ToList();
        foreach (var dup in names.GroupBy(n => n).Where(g => g.Count() > 1)) yield return $"datasets: '{dup.Key}' is given twice.";
    }
}

/// <summary>A labelled text dataset whose examples carry two attributes (SAEBench's column 1, e.g. profession, and
/// column 2, e.g. gender).</summary>
public sealed record AttributeDatasetOptions
{
    public string Name { get; init; } = "dataset";

    /// <summary>The file (<c>.jsonl</c>, <c>.csv</c> or <c>.parquet</c>).</summary>
    public string Path { get; init; } = "";

    /// <summary>A separate test file; else the split field, else a seeded 20 % of the rows.</summary>
    public string? TestPath { get; init; }

    public string TextField { get; init; } = "text";

    /// <summary>The class column (SAEBench's column 1: profession, product category).</summary>
    public string Column1Field { get; init; } = "label";

    /// <summary>The second attribute (SAEBench's column 2: gender, rating); SCR only.</summary>
    public string? Column2Field { get; init; }

    /// <summary>SCR: column 2's [positive, negative] values as the file spells them.</summary>
    public IReadOnlyList<string> Column2Values { get; init; } = [];

    /// <summary>TPP: the classes of column 1 to probe; empty = every value.</summary>
    public IReadOnlyList<string> Classes { get; init; } = [];

    /// <summary>Field holding <c>train</c>/<c>test</c>, when the file has one.</summary>
    public string? SplitField { get; init; } = "split";
}

/// <summary>Options of the <c>scr</c> evaluator.</summary>
public sealed record ScrOptions : ScrTppOptions
{
    /// <summary>Per dataset name, the column-1 pairs [positive, negative] to run (SAEBench's names or the file's values).
    /// The model's own labels go under the key <c>classes</c>. A dataset not listed gets its default pairs (SAEBench's for
    /// its datasets; for a model's classes, siblings under one parent concept first, then the remaining classes in order;
    /// at most four pairs).</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<IReadOnlyList<string>>> Column1ValsLookup { get; init; } =
        new Dictionary<string, IReadOnlyList<IReadOnlyList<string>>>();

    /// <summary>Models with labels: the attribute that plays column 2 (the spurious one); null = the model's first.</summary>
    public string? SpuriousAttribute { get; init; }

    /// <summary>Models with labels: that attribute's [positive, negative] values; empty = its first two values.</summary>
    public IReadOnlyList<string> SpuriousValues { get; init; } = [];

    protected override IReadOnlyCollection<string> KnownNames => AttributeTextDatasets.ScrNames;

    public override IEnumerable<string> Validate()
    {
        foreach (var p in base.Validate()) yield return p;
        foreach (var (name, pairs) in Column1ValsLookup)
        {
            if (pairs is null || pairs.Count == 0) yield return $"column1_vals_lookup: '{name}' lists no pairs.";
            else
                foreach (var pair in pairs.Where(p => p is null || p.Count != 2 || p[0] == p[1]))
                    yield return $"column1_vals_lookup: '{name}': [{string.Join(", ", pair ?? [])}] must be two different values [positive, negative].";
        }
        if (SpuriousValues.Count is not (0 or 2) || (SpuriousValues.Count == 2 && SpuriousValues[0] == SpuriousValues[1]))
            yield return $"spurious_values: [{string.Join(", ", SpuriousValues)}] must be two different values [positive, negative] (or empty).";
        foreach (var d in Datasets.Where(d => d.Column2Field is null))
            yield return $"datasets: '{d.Name}' needs column2_field (the spurious attribute) for scr.";
        foreach (var d in Datasets.Where(d => d.Column2Values.Count == 0))
            yield return $"datasets: '{d.Name}' needs column2_values [positive, negative] for scr.";
    }
}

/// <summary>Options of the <c>tpp</c> evaluator.</summary>
public sealed record TppOptions : ScrTppOptions
{
    /// <summary>Models with labels: the classes to probe (names); empty = every class.</summary>
    public IReadOnlyList<string> Classes { get; init; } = [];

    protected override IReadOnlyCollection<string> KnownNames => SaeBenchTextDatasets.All.Select(d => d.Name).ToList();
}
