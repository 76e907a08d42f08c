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

    public override IEnumerable<string> Validate()
    {
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
        "One-vs-rest logistic probes per class on the top-k latents (by mean difference), on all latents and on the model's activations.", Version: "1");

    protected override IEvaluationJob Start(EvaluationContext context, SparseProbingOptions options)
    {
        if (!context.Model.TryGet<ILabelledTasks>(out var tasks, out var why)) throw new NotApplicableException(why);
        if (tasks.Tasks.ClassNames.Count < 2)
            throw new NotApplicableException($"model '{context.Model.Info.Id}' has {tasks.Tasks.ClassNames.Count} class(es); one-vs-rest probing needs at least 2");
        return new Job(context, options, tasks);
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

            var ks = _options.KValues;
            var classRows = new JsonArray();
            var sae = new List<double>[ks.Length + 1];
            var llm = new List<double>[ks.Length + 1];
            for (int i = 0; i <= ks.Length; i++) { sae[i] = []; llm[i] = []; }
            foreach (var task in _tasks)
            {
                var row = new JsonObject
                {
                    ["class"] = _catalog.ClassNames[task.Class],
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
                cancellation.ThrowIfCancellationRequested();
                int[] trainIdx = [.. task.TrainPositives, .. task.TrainNegatives];
                int[] testIdx = [.. task.TestPositives, .. task.TestNegatives];
                var yTrain = ProbeLabels.PositivesThenNegatives(task.TrainPositives.Length, task.TrainNegatives.Length);
                var yTest = ProbeLabels.PositivesThenNegatives(task.TestPositives.Length, task.TestNegatives.Length);
                foreach (var (name, sink, trainSet, testSet) in new[]
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
                        row[$"{name}_top_{ks[i]}_test_accuracy"] = acc;
                    }
                    cancellation.ThrowIfCancellationRequested();
                    double full = ProbeAccuracy(xTrain, yTrain, xTest, yTest, null);
                    sink[ks.Length].Add(full);
                    row[$"{name}_test_accuracy"] = full;
                }
            }

            // One dataset (the model's classification task): mean over its classes, then over datasets (here: one).
            string dataset = $"{_context.Model.Info.Id}/classes";
            var metrics = new List<MetricValue>();
            var detail = new JsonObject { ["dataset"] = dataset, ["classes_probed"] = runnable.Length, ["classes_skipped"] = _tasks.Length - runnable.Length };
            double? Mean(List<double> v) => v.Count > 0 ? v.Average() : null;
            metrics.Add(new(SparseProbingMetrics.LlmTestAccuracy, Mean(llm[ks.Length])));
            detail["llm_test_accuracy"] = Mean(llm[ks.Length]);
            for (int i = 0; i < ks.Length; i++)
            {
                metrics.Add(new(SparseProbingMetrics.LlmTopK(ks[i]), Mean(llm[i])));
                detail[$"llm_top_{ks[i]}_test_accuracy"] = Mean(llm[i]);
            }
            metrics.Add(new(SparseProbingMetrics.SaeTestAccuracy, Mean(sae[ks.Length])));
            detail["sae_test_accuracy"] = Mean(sae[ks.Length]);
            for (int i = 0; i < ks.Length; i++)
            {
                metrics.Add(new(SparseProbingMetrics.SaeTopK(ks[i]), Mean(sae[i])));
                detail[$"sae_top_{ks[i]}_test_accuracy"] = Mean(sae[i]);
            }
            var unstructured = new JsonObject
            {
                ["datasets"] = new JsonArray(new JsonObject { ["dataset"] = dataset, ["classes"] = classRows }),
            };
            if (runnable.Length == 0) unstructured["status"] = "no class has both positive and negative examples in both splits";
            return new EvalResult(metrics, [detail], unstructured);
        }

        private static string? Skip(ClassTask t) =>
            t.TrainPositives.Length == 0 || t.TrainNegatives.Length == 0 ? "no train positives or negatives"
            : t.TestPositives.Length == 0 || t.TestNegatives.Length == 0 ? "no test positives or negatives"
            : null;
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
