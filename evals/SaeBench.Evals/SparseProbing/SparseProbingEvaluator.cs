using System.Text.Json.Nodes;
using SaeBench.Compute.Tensors;
using SaeBench.Core.Evaluation;
using SaeBench.Core.Models;
using SaeBench.Evals.Shared;

namespace SaeBench.Evals.SparseProbing;

/// <summary>Options of the <c>sparse_probing</c> evaluator.</summary>
public sealed record SparseProbingOptions : EvaluatorOptions
{
    /// <summary>Train examples per one-vs-rest task: up to half positives (the class), as many negatives.</summary>
    public int TrainSize { get; init; } = 2000;

    /// <summary>Test examples per task, split the same way.</summary>
    public int TestSize { get; init; } = 1000;

    /// <summary>Sizes of the top-k latent (and model-dimension) probes.</summary>
    public int[] KValues { get; init; } = [1, 2, 5];

    /// <summary>Labelled text datasets to probe a language model on, each with its file(s) and fields (see README).
    /// Empty = the model's own classes (classifiers) — a language model then needs datasets.</summary>
    public IReadOnlyList<TextDatasetOptions> Datasets { get; init; } = [];

    /// <summary>SAEBench's dataset names to probe, their files looked up in <see cref="DataDirectory"/> as
    /// <c>NAME.{parquet,jsonl,csv}</c> with <c>/</c> → <c>__</c> (fields and classes from SAEBench's table).</summary>
    public IReadOnlyList<string> DatasetNames { get; init; } = [];

    /// <summary>Folder of the files of <see cref="DatasetNames"/> (relative to the run configuration).</summary>
    public string? DataDirectory { get; init; }

    /// <summary>Tokens kept of each text (SAEBench's context_length).</summary>
    public int ContextLength { get; init; } = 128;

    /// <summary>Probe the code of the decoder-norm-folded SAE, as SAEBench does (<see cref="DecoderNormFolding"/>): each
    /// pooled latent is multiplied by its decoder-row norm, which changes the top-k ranking by mean difference and the
    /// L2-regularised fits. Top-k SAEs with non-unit rows stay unfolded.</summary>
    public bool FoldDecoderNorms { get; init; } = true;

    public override IEnumerable<string> Validate()
    {
        if (ContextLength < 1) yield return $"context_length: {ContextLength} must be at least 1.";
        if (DatasetNames.Count > 0 && DataDirectory is null) yield return "data_directory: give the folder holding the files of dataset_names.";
        foreach (var name in DatasetNames.Where(n => SaeBenchTextDatasets.Find(n) is null))
            yield return $"dataset_names: '{name}' is not one of SAEBench's datasets ({string.Join(", ", SaeBenchTextDatasets.All.Select(d => d.Name))}); give it under datasets: with its fields.";
        foreach (var d in Datasets.Where(d => string.IsNullOrWhiteSpace(d.Path))) yield return $"datasets: '{d.Name}' needs a path.";
        if (TrainSize < 2) yield return $"train_size: {TrainSize} must be at least 2 (one positive, one negative).";
        if (TestSize < 2) yield return $"test_size: {TestSize} must be at least 2 (one positive, one negative).";
        if (KValues is null || KValues.Length == 0) yield return "k_values: give at least one k.";
        else
        {
            foreach (int k in KValues.Where(k => k < 1)) yield return $"k_values: {k} must be at least 1.";
            if (KValues.Distinct().Count() != KValues.Length) yield return $"k_values: [{string.Join(", ", KValues)}] has repeats.";
        }
    }
}

/// <summary>
/// One-vs-rest probes on mean-pooled SAE latents (top-k by mean difference and full width) and on the model's
/// activations (the "llm" baseline), for every class of the model's classification task (METRICS.md <c>sparse_probing</c>).
/// </summary>
public sealed class SparseProbingEvaluator : Evaluator<SparseProbingOptions>
{
    private const string Salt = "sparse_probing";

    public override EvaluatorInfo Info { get; } = new("sparse_probing", "Sparse probing",
        "One-vs-rest logistic probes per class on the top-k latents (by mean difference), on all latents and on the model's activations.", Version: "3");

    protected override IEvaluationJob Start(EvaluationContext context, SparseProbingOptions options)
    {
        var datasets = TextDatasets(options);
        if (datasets.Count > 0)
        {
            if (!context.Model.TryGet<ITextModel>(out var text, out var whyText)) throw new NotApplicableException(whyText + "; text datasets need a language model");
            if (!context.Model.TryGet<ILabelledTextSource>(out var files, out whyText)) throw new NotApplicableException(whyText);
            return new TextJob(context, options, text, files, datasets);
        }
        if (!context.Model.TryGet<ILabelledTasks>(out var tasks, out var why))
            throw new NotApplicableException(context.Model.Capability<ITextModel>() is not null
                ? $"model '{context.Model.Info.Id}' is a language model: give sparse_probing datasets (datasets: [{{name, path, text_field, label_field}}] or dataset_names with data_directory)"
                : why);
        if (tasks.Tasks.ClassNames.Count < 2)
            throw new NotApplicableException($"model '{context.Model.Info.Id}' has {tasks.Tasks.ClassNames.Count} class(es); one-vs-rest probing needs at least 2");
        return new Job(context, options, tasks);
    }

    /// <summary>The datasets the options name: explicit ones, then SAEBench's by name (fields and classes from its table).</summary>
    public static IReadOnlyList<TextDatasetOptions> TextDatasets(SparseProbingOptions options)
    {
        var list = new List<TextDatasetOptions>(options.Datasets);
        foreach (var name in options.DatasetNames)
        {
            var known = SaeBenchTextDatasets.Find(name)!;
            list.Add(new TextDatasetOptions
            {
                Name = name, Path = Path.Combine(options.DataDirectory ?? ".", name.Replace("/", "__")), TextField = known.TextField,
                LabelField = known.LabelField, SplitField = "split", Classes = known.Classes,
            });
        }
        return list;
    }

    /// <summary>The examples of one class's task.</summary>
    public sealed record ClassTask(int Class, int[] TrainPositives, int[] TrainNegatives, int[] TestPositives, int[] TestNegatives);

    /// <summary>
    /// Seeded samples of every class's task. Per class c: positives = a uniform sample of c's examples (at most
    /// size/2); negatives = as many drawn uniformly from the examples of the other classes. The draw is done in two
    /// stages that give exactly that distribution while keeping the union small: per-class counts of the negatives by
    /// a uniform draw over the other classes' examples, then that many from each class's own (uniform) positive sample.
    /// </summary>
    public static ClassTask[] Plan(ReadOnlySpan<int> trainClasses, ReadOnlySpan<int> testClasses, int classCount, int trainSize, int testSize, int seed)
    {
        var rng = new Random(seed);
        var train = Sample(trainClasses, classCount, trainSize / 2, rng);
        var test = Sample(testClasses, classCount, testSize / 2, rng);
        var result = new ClassTask[classCount];
        for (int c = 0; c < classCount; c++)
            result[c] = new ClassTask(c, train.Positives[c], train.Negatives[c], test.Positives[c], test.Negatives[c]);
        return result;
    }

    private static (int[][] Positives, int[][] Negatives) Sample(ReadOnlySpan<int> classes, int classCount, int cap, Random rng)
    {
        var members = new List<int>[classCount];
        for (int c = 0; c < classCount; c++) members[c] = [];
        for (int e = 0; e < classes.Length; e++)
            if (classes[e] >= 0 && classes[e] < classCount) members[classes[e]].Add(e);
        var positives = new int[classCount][];
        for (int c = 0; c < classCount; c++) positives[c] = Sampling.Choose(members[c].ToArray(), cap, rng);

        var negatives = new int[classCount][];
        for (int c = 0; c < classCount; c++)
        {
            // Uniform draw of positions in the concatenation of the other classes' examples → count per class.
            var others = Enumerable.Range(0, classCount).Where(o => o != c).ToArray();
            long total = others.Sum(o => (long)members[o].Count);
            int want = (int)Math.Min(positives[c].Length, total);
            var counts = new int[classCount];
            foreach (long position in ChooseLong(total, want, rng))
            {
                long p = position;
                foreach (int o in others)
                {
                    if (p < members[o].Count) { counts[o]++; break; }
                    p -= members[o].Count;
                }
            }
            var chosen = new List<int>(want);
            foreach (int o in others)
                if (counts[o] > 0) chosen.AddRange(Sampling.Choose(positives[o], counts[o], rng));
            chosen.Sort();
            negatives[c] = chosen.ToArray();
        }
        return (positives, negatives);
    }

    /// <summary><paramref name="count"/> distinct values of [0, n) uniformly (Floyd's algorithm), ascending.</summary>
    private static long[] ChooseLong(long n, int count, Random rng)
    {
        var set = new HashSet<long>();
        for (long j = n - count; j < n; j++)
        {
            long t = rng.NextInt64(j + 1);
            if (!set.Add(t)) set.Add(j);
        }
        var result = set.ToArray();
        Array.Sort(result);
        return result;
    }

    /// <summary>Test accuracy of an L2 logistic probe on <paramref name="columns"/> (all when null) of pooled features.</summary>
    private static double ProbeAccuracy(HostMatrix train, bool[] yTrain, HostMatrix test, bool[] yTest, int[]? columns)
    {
        if (columns is null)
        {
            var model = LogisticRegression.Fit(train, yTrain);
            return model.Accuracy(test, yTest);
        }
        using var tr = FeatureRanking.SelectColumns(train.Span, train.Rows, train.Cols, columns);
        using var te = FeatureRanking.SelectColumns(test.Span, test.Rows, test.Cols, columns);
        return LogisticRegression.Fit(tr, yTrain).Accuracy(te, yTest);
    }

    /// <summary>What probing one dataset gave: per-class rows and, per probe, the accuracy of each probed class.</summary>
    private sealed record DatasetOutcome(string Name, JsonArray Classes, List<double>[] Sae, List<double>[] Llm, int Probed, int Skipped);

    /// <summary>
    /// The one-vs-rest probes of every task of one dataset on its pooled features (SAE latents and model activations;
    /// train and test pooled separately, rows by example id). For each task: top-k by mean difference, then full width.
    /// </summary>
    private static DatasetOutcome ProbeDataset(string name, ClassTask[] tasks, IReadOnlyList<string> classNames, int[] ks,
        PooledExamples train, PooledExamples test, CancellationToken cancellation)
    {
        var classRows = new JsonArray();
        var sae = new List<double>[ks.Length + 1];
        var llm = new List<double>[ks.Length + 1];
        for (int i = 0; i <= ks.Length; i++) { sae[i] = []; llm[i] = []; }
        int probed = 0;
        foreach (var task in tasks)
        {
            var row = new JsonObject
            {
                ["class"] = classNames[task.Class],
                ["train_positives"] = task.TrainPositives.Length,
                ["train_negatives"] = task.TrainNegatives.Length,
                ["test_positives"] = task.TestPositives.Length,
                ["test_negatives"] = task.TestNegatives.Length,
            };
            classRows.Add(row);
            if (Skip(task) is { } reason)
            {
                row["skipped"] = reason;
                continue;
            }
            probed++;
            cancellation.ThrowIfCancellationRequested();
            int[] trainIdx = [.. task.TrainPositives, .. task.TrainNegatives];
            int[] testIdx = [.. task.TestPositives, .. task.TestNegatives];
            var yTrain = ProbeLabels.PositivesThenNegatives(task.TrainPositives.Length, task.TrainNegatives.Length);
            var yTest = ProbeLabels.PositivesThenNegatives(task.TestPositives.Length, task.TestNegatives.Length);
            foreach (var (probe, sink, trainSet, testSet) in new[]
                     {
                         ("sae", sae, train.Latents!, test.Latents!),
                         ("llm", llm, train.Activations!, test.Activations!),
                     })
            {
                using var xTrain = train.Gather(trainSet, trainIdx);
                using var xTest = test.Gather(testSet, testIdx);
                // One ranking (best first, a total order) serves every k: the top k is its first k entries.
                var ranked = FeatureRanking.TopKByMeanDifference(xTrain, yTrain, ks.Where(k => k <= xTrain.Cols).DefaultIfEmpty(0).Max());
                for (int i = 0; i < ks.Length; i++)
                {
                    double? acc = null;
                    if (ks[i] <= xTrain.Cols)
                    {
                        acc = ProbeAccuracy(xTrain, yTrain, xTest, yTest, ranked[..ks[i]]);
                        sink[i].Add(acc.Value);
                    }
                    row[$"{probe}_top_{ks[i]}_test_accuracy"] = acc;
                }
                cancellation.ThrowIfCancellationRequested();
                double full = ProbeAccuracy(xTrain, yTrain, xTest, yTest, null);
                sink[ks.Length].Add(full);
                row[$"{probe}_test_accuracy"] = full;
            }
        }
        return new DatasetOutcome(name, classRows, sae, llm, probed, tasks.Length - probed);
    }

    /// <summary>Per dataset: the mean over its probed classes; metrics: the mean over datasets (SAEBench's aggregation).</summary>
    private static EvalResult Aggregate(IReadOnlyList<DatasetOutcome> outcomes, int[] ks, DecoderNormFolding folding)
    {
        static double? Mean(IEnumerable<double> v) => v.Any() ? v.Average() : null;
        var details = new List<JsonObject>();
        var perDataset = new List<(double? Llm, double?[] LlmK, double? Sae, double?[] SaeK)>();
        foreach (var o in outcomes)
        {
            var llmK = ks.Select((_, i) => Mean(o.Llm[i])).ToArray();
            var saeK = ks.Select((_, i) => Mean(o.Sae[i])).ToArray();
            double? llm = Mean(o.Llm[ks.Length]), sae = Mean(o.Sae[ks.Length]);
            perDataset.Add((llm, llmK, sae, saeK));
            var detail = new JsonObject { ["dataset_name"] = o.Name, ["classes_probed"] = o.Probed, ["classes_skipped"] = o.Skipped };
            detail["llm_test_accuracy"] = llm;
            for (int i = 0; i < ks.Length; i++) detail[$"llm_top_{ks[i]}_test_accuracy"] = llmK[i];
            detail["sae_test_accuracy"] = sae;
            for (int i = 0; i < ks.Length; i++) detail[$"sae_top_{ks[i]}_test_accuracy"] = saeK[i];
            details.Add(detail);
        }
        double? Over(Func<(double? Llm, double?[] LlmK, double? Sae, double?[] SaeK), double?> pick) =>
            Mean(perDataset.Select(pick).OfType<double>());
        var metrics = new List<MetricValue> { new(SparseProbingMetrics.LlmTestAccuracy, Over(d => d.Llm)) };
        for (int i = 0; i < ks.Length; i++) { int k = i; metrics.Add(new(SparseProbingMetrics.LlmTopK(ks[i]), Over(d => d.LlmK[k]))); }
        metrics.Add(new(SparseProbingMetrics.SaeTestAccuracy, Over(d => d.Sae)));
        for (int i = 0; i < ks.Length; i++) { int k = i; metrics.Add(new(SparseProbingMetrics.SaeTopK(ks[i]), Over(d => d.SaeK[k]))); }
        var unstructured = new JsonObject
        {
            ["datasets"] = new JsonArray(outcomes.Select(o => (JsonNode)new JsonObject { ["dataset"] = o.Name, ["classes"] = o.Classes }).ToArray()),
        };
        if (outcomes.All(o => o.Probed == 0)) unstructured["status"] = "no class has both positive and negative examples in both splits";
        folding.WriteTo(unstructured);
        return new EvalResult(metrics, details, unstructured);
    }

    private static string? Skip(ClassTask t) =>
        t.TrainPositives.Length == 0 || t.TrainNegatives.Length == 0 ? "no train positives or negatives"
        : t.TestPositives.Length == 0 || t.TestNegatives.Length == 0 ? "no test positives or negatives"
        : null;

    /// <summary>The model's own classification task (classifiers, the synthetic world, labelled activation files).</summary>
    private sealed class Job : IEvaluationJob
    {
        private readonly EvaluationContext _context;
        private readonly SparseProbingOptions _options;
        private readonly TaskCatalog _catalog;
        private readonly ClassTask[] _tasks;
        private readonly PoolingCollector _test;

        public Job(EvaluationContext context, SparseProbingOptions options, ILabelledTasks tasks)
        {
            _context = context;
            _options = options;
            _catalog = tasks.Tasks;
            int seed = Sampling.Derive(context.Seed, Salt);
            _tasks = Plan(tasks.Labels(Split.Train).Classes, tasks.Labels(Split.Test).Classes, _catalog.ClassNames.Count,
                options.TrainSize, options.TestSize, seed);
            _test = new PoolingCollector(_tasks.SelectMany(t => t.TestPositives.Concat(t.TestNegatives)), context.Sae.DSae, context.Model.Info.DModel);
        }

        public void Observe(SaeBatch batch) => _test.Observe(batch);

        public EvalResult Complete(CancellationToken cancellation)
        {
            var test = _test.Finish();
            var runnable = _tasks.Where(t => Skip(t) is null).ToArray();
            cancellation.ThrowIfCancellationRequested();
            var train = ExampleEncoding.EncodePooled(_context, Split.Train,
                runnable.SelectMany(t => t.TrainPositives.Concat(t.TrainNegatives)), latents: true, activations: true, cancellation);
            var folding = DecoderNormFolding.For(_context.Sae, _options.FoldDecoderNorms);
            folding.Apply(train.Latents!);
            folding.Apply(test.Latents!);
            // One dataset: the model's classification task.
            var outcome = ProbeDataset($"{_context.Model.Info.Id}/classes", _tasks, _catalog.ClassNames, _options.KValues, train, test, cancellation);
            return Aggregate([outcome], _options.KValues, folding);
        }
    }

    /// <summary>Labelled text datasets on a language model (SAEBench's protocol; see README).</summary>
    private sealed class TextJob(EvaluationContext context, SparseProbingOptions options, ITextModel model, ILabelledTextSource files,
        IReadOnlyList<TextDatasetOptions> datasets) : IEvaluationJob
    {
        public void Observe(SaeBatch batch) { }

        public EvalResult Complete(CancellationToken cancellation)
        {
            var outcomes = new List<DatasetOutcome>();
            int seed = Sampling.Derive(context.Seed, Salt);
            var folding = DecoderNormFolding.For(context.Sae, options.FoldDecoderNorms);
            foreach (var dataset in datasets)
            {
                cancellation.ThrowIfCancellationRequested();
                var data = LabelledDataset.Load(files, dataset, seed);
                var tasks = Plan(data.TrainClasses, data.TestClasses, data.ClassNames.Count, options.TrainSize, options.TestSize, seed);
                var trainIds = tasks.Where(t => Skip(t) is null).SelectMany(t => t.TrainPositives.Concat(t.TrainNegatives)).Distinct().Order().ToArray();
                var testIds = tasks.Where(t => Skip(t) is null).SelectMany(t => t.TestPositives.Concat(t.TestNegatives)).Distinct().Order().ToArray();
                var train = Reindexed(TextExamples.EncodePooled(context, model, trainIds.Select(i => data.TrainTexts[i]).ToList(), options.ContextLength, cancellation), trainIds);
                var test = Reindexed(TextExamples.EncodePooled(context, model, testIds.Select(i => data.TestTexts[i]).ToList(), options.ContextLength, cancellation), testIds);
                folding.Apply(train.Latents!);
                folding.Apply(test.Latents!);
                outcomes.Add(ProbeDataset(dataset.Name + "_results", tasks, data.ClassNames, options.KValues, train, test, cancellation));
            }
            return Aggregate(outcomes, options.KValues, folding);
        }

        /// <summary>Pooled rows 0..n−1 renamed to the dataset's example ids.</summary>
        private static PooledExamples Reindexed(PooledExamples pooled, int[] ids) => new(ids, pooled.Latents, pooled.Activations);
    }
}

/// <summary>Descriptors of the sparse-probing metrics (SAEBench's categories and names; "llm" = the model under study).</summary>
public static class SparseProbingMetrics
{
    public static readonly MetricDescriptor LlmTestAccuracy = new("llm", "llm_test_accuracy", "Model probe accuracy (all dims)", "fraction", true);
    public static readonly MetricDescriptor SaeTestAccuracy = new("sae", "sae_test_accuracy", "SAE probe accuracy (all latents)", "fraction", true);

    public static MetricDescriptor LlmTopK(int k) => new("llm", $"llm_top_{k}_test_accuracy", $"Model probe accuracy (top {k} dims)", "fraction", true);

    public static MetricDescriptor SaeTopK(int k) => new("sae", $"sae_top_{k}_test_accuracy", $"SAE probe accuracy (top {k} latents)", "fraction", true);
}
