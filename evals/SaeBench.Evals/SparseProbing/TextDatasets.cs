using SaeBench.Core;
using SaeBench.Core.Models;

namespace SaeBench.Evals.SparseProbing;

/// <summary>One labelled text dataset of a probing evaluator's options.</summary>
public sealed record TextDatasetOptions
{
    /// <summary>The name results are reported under (SAEBench's, e.g. <c>LabHC/bias_in_bios_class_set1</c>).</summary>
    public string Name { get; init; } = "dataset";

    /// <summary>The file (<c>.jsonl</c>, <c>.csv</c> or <c>.parquet</c>; with no extension, the first of those that exists).</summary>
    public string Path { get; init; } = "";

    /// <summary>A separate test file; else the split field, else a seeded 20 % of the file.</summary>
    public string? TestPath { get; init; }

    public string TextField { get; init; } = "text";
    public string LabelField { get; init; } = "label";

    /// <summary>Field holding <c>train</c>/<c>test</c> (used when present in the file).</summary>
    public string? SplitField { get; init; }

    /// <summary>The classes to probe (label values as the file spells them); empty = every label.</summary>
    public IReadOnlyList<string> Classes { get; init; } = [];
}

/// <summary>SAEBench's probing datasets with the fields and chosen classes of its <c>dataset_info.py</c> (files are the user's).</summary>
public sealed record SaeBenchTextDataset(string Name, string TextField, string LabelField, IReadOnlyList<string> Classes);

/// <summary>The table of SAEBench's sparse-probing datasets (<c>sae_bench/sae_bench_utils/dataset_info.py</c>).</summary>
public static class SaeBenchTextDatasets
{
    public static IReadOnlyList<SaeBenchTextDataset> All { get; } =
    [
        new("LabHC/bias_in_bios_class_set1", "hard_text", "profession", ["0", "1", "2", "6", "9"]),
        new("LabHC/bias_in_bios_class_set2", "hard_text", "profession", ["11", "13", "14", "18", "19"]),
        new("LabHC/bias_in_bios_class_set3", "hard_text", "profession", ["20", "21", "22", "25", "26"]),
        new("canrager/amazon_reviews_mcauley_1and5", "text", "category", ["1", "2", "3", "5", "6"]),
        new("canrager/amazon_reviews_mcauley_1and5_sentiment", "text", "rating", ["1.0", "5.0"]),
        new("codeparrot/github-code", "code", "language", ["C", "Python", "HTML", "Java", "PHP"]),
        new("fancyzhx/ag_news", "text", "label", ["0", "1", "2", "3"]),
        new("Helsinki-NLP/europarl", "text", "language", ["en", "fr", "de", "es", "nl"]),
    ];

    /// <summary>SAEBench's default <c>dataset_names</c> (all of the above).</summary>
    public static IReadOnlyList<string> DefaultNames => All.Select(d => d.Name).ToList();

    public static SaeBenchTextDataset? Find(string name) => All.FirstOrDefault(d => d.Name == name);
}

/// <summary>A labelled text dataset split into train and test, its labels mapped to class indices (−1 = not probed).</summary>
public sealed record LabelledDataset(IReadOnlyList<string> ClassNames, string[] TrainTexts, int[] TrainClasses, string[] TestTexts, int[] TestClasses)
{
    /// <summary>Reads a dataset through the model's <see cref="ILabelledTextSource"/>; the test split is the test file, else
    /// the split field's <c>test</c> rows, else a seeded 20 % of the rows.</summary>
    public static LabelledDataset Load(ILabelledTextSource files, TextDatasetOptions options, int seed)
    {
        var train = files.Read(new LabelledTextRequest(options.Path, options.TextField, options.LabelField, options.SplitField));
        List<(string Text, string Label)> trainRows, testRows;
        if (options.TestPath is not null)
        {
            var test = files.Read(new LabelledTextRequest(options.TestPath, options.TextField, options.LabelField));
            trainRows = Rows(train, _ => true);
            testRows = Rows(test, _ => true);
        }
        else if (train.Splits.Any(s => s is not null))
        {
            trainRows = Rows(train, i => !IsTest(train.Splits[i]));
            testRows = Rows(train, i => IsTest(train.Splits[i]));
        }
        else
        {
            var rng = new Random(seed);
            var isTest = Enumerable.Range(0, train.Texts.Count).Select(_ => rng.NextDouble() < 0.2).ToArray();
            trainRows = Rows(train, i => !isTest[i]);
            testRows = Rows(train, i => isTest[i]);
        }
        var classes = options.Classes.Count > 0
            ? options.Classes
            : trainRows.Select(r => r.Label).Concat(testRows.Select(r => r.Label)).Distinct().Order(StringComparer.Ordinal).ToList();
        var index = classes.Select((c, i) => (c, i)).ToDictionary(t => t.c, t => t.i, StringComparer.Ordinal);
        int ClassOf(string label) => index.TryGetValue(label, out var i) ? i : -1;
        if (!trainRows.Any(r => index.ContainsKey(r.Label)))
            throw new BadInputException($"{options.Path}: no row has one of the classes [{string.Join(", ", classes)}] in field '{options.LabelField}'.");
        return new LabelledDataset(classes,
            trainRows.Select(r => r.Text).ToArray(), trainRows.Select(r => ClassOf(r.Label)).ToArray(),
            testRows.Select(r => r.Text).ToArray(), testRows.Select(r => ClassOf(r.Label)).ToArray());
    }

    private static bool IsTest(string? split) => split is not null && (split.Equals("test", StringComparison.OrdinalIgnoreCase) || split.Equals("validation", StringComparison.OrdinalIgnoreCase));

    private static List<(string Text, string Label)> Rows(LabelledTexts data, Func<int, bool> keep) =>
        Enumerable.Range(0, data.Texts.Count).Where(keep).Select(i => (data.Texts[i], data.Labels[i])).ToList();
}
