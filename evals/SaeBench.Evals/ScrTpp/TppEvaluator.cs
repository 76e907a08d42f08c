using System.Text.Json.Nodes;
using SaeBench.Core.Evaluation;
using SaeBench.Core.Models;
using SaeBench.Evals.Shared;
using SaeBench.Evals.SparseProbing;

namespace SaeBench.Evals.ScrTpp;

/// <summary>
/// Targeted probe perturbation (SAEBench's <c>tpp</c>): for each class, ablate the SAE latents attributed to its
/// one-vs-rest probe; a good SAE hurts that probe (intended) and leaves the other classes' probes alone (unintended).
/// See README.md.
/// </summary>
public sealed class TppEvaluator : Evaluator<TppOptions>
{
    private const string Salt = "tpp";

    public override EvaluatorInfo Info { get; } = new("tpp", "Targeted probe perturbation",
        "Ablates each class's attributed latents and measures the drop of that class's probe against the other classes' probes.", Version: "1");

    protected override IEvaluationJob Start(EvaluationContext context, TppOptions options)
    {
        if (options.DatasetNames.Count > 0 || options.Datasets.Count > 0) return new Job(context, options, TextDatasets(context, options));
        if (!context.Model.TryGet<ILabelledTasks>(out var tasks, out var why))
            throw new NotApplicableException(context.Model.Capability<ITextModel>() is not null
                ? $"model '{context.Model.Info.Id}' is a language model: give tpp dataset_names (with data_directory) or datasets"
                : why);
        var catalog = tasks.Tasks;
        foreach (var c in options.Classes.Where(c => !catalog.ClassNames.Contains(c)))
            throw new Core.Configuration.ConfigException($"tpp: classes: '{c}' is not a class of model '{context.Model.Info.Id}' ({string.Join(", ", catalog.ClassNames)})");
        var classes = options.Classes.Count > 0 ? options.Classes : catalog.ClassNames;
        if (classes.Count < 2) throw new NotApplicableException($"model '{context.Model.Info.Id}' has {classes.Count} class(es); TPP needs at least 2");
        string name = $"{context.Model.Info.Id}/{ScrEvaluator.ClassesKey}";
        ProbeDataset Load()
        {
            string?[] Classes(Split s) => tasks.Labels(s).Classes.ToArray().Select(c => c >= 0 && c < catalog.ClassNames.Count ? catalog.ClassNames[c] : null).ToArray();
            return new ProbeDataset(name, Classes(Split.Train), [], Classes(Split.Test), [],
                (split, ids, ct) => ExampleEncoding.EncodePooled(context, split, ids, latents: true, activations: true, ct));
        }
        return new Job(context, options, [new DatasetSpec(name, Load, classes.Select(c => (c, c)).ToList())]);
    }

    /// <summary>One dataset: how to load it and its classes (value as the file codes it, name to report).</summary>
    private sealed record DatasetSpec(string Name, Func<ProbeDataset> Load, IReadOnlyList<(string Code, string Label)> Classes);

    private static IReadOnlyList<DatasetSpec> TextDatasets(EvaluationContext context, TppOptions options)
    {
        if (!context.Model.TryGet<ITextModel>(out var text, out var why)) throw new NotApplicableException(why + "; text datasets need a language model");
        if (!context.Model.TryGet<ILabelledTextSource>(out var files, out why)) throw new NotApplicableException(why);
        int seed = Sampling.Derive(context.Seed, Salt);
        var specs = new List<DatasetSpec>();
        foreach (var name in options.DatasetNames)
        {
            var known = SaeBenchTextDatasets.Find(name)!;
            specs.Add(new DatasetSpec(name,
                () => ScrEvaluator.TextDataset(context, options, text, files, name, AttributeTextDatasets.PathOf(options.DataDirectory, name), null,
                    known.TextField, known.LabelField, null, "split", seed),
                known.Classes.Select(c => (c, c)).ToList()));
        }
        foreach (var d in options.Datasets)
        {
            ProbeDataset Load() => ScrEvaluator.TextDataset(context, options, text, files, d.Name, d.Path, d.TestPath, d.TextField, d.Column1Field, null, d.SplitField, seed);
            specs.Add(new DatasetSpec(d.Name, Load, d.Classes.Select(c => (c, c)).ToList()));
        }
        return specs;
    }

    /// <summary>Per class, per n: (total, intended, unintended).</summary>
    private sealed record ClassOutcome(string Class, double?[] Total, double?[] Intended, double?[] Unintended);

    private sealed class Job(EvaluationContext context, TppOptions options, IReadOnlyList<DatasetSpec> datasets) : IEvaluationJob
    {
        public void Observe(SaeBatch batch) { }

        public EvalResult Complete(CancellationToken cancellation)
        {
            int seed = Sampling.Derive(context.Seed, Salt);
            var n = options.NValues;
            var details = new List<JsonObject>();
            var unstructured = new JsonObject();
            var perDataset = new List<(double?[] Total, double?[] Intended, double?[] Unintended)>();
            foreach (var spec in datasets)
            {
                cancellation.ThrowIfCancellationRequested();
                var data = spec.Load();
                var classes = spec.Classes.Count > 0 ? spec.Classes
                    : data.TrainColumn1.Concat(data.TestColumn1).OfType<string>().Distinct().Order(StringComparer.Ordinal).Select(c => (c, c)).ToList();
                var outcomes = RunDataset(spec.Name, data, classes, seed, cancellation, out var classRows);
                var total = Enumerable.Range(0, n.Length).Select(i => ScrTppProcedure.Mean(outcomes.Select(o => o.Total[i]))).ToArray();
                var intended = Enumerable.Range(0, n.Length).Select(i => ScrTppProcedure.Mean(outcomes.Select(o => o.Intended[i]))).ToArray();
                var unintended = Enumerable.Range(0, n.Length).Select(i => ScrTppProcedure.Mean(outcomes.Select(o => o.Unintended[i]))).ToArray();
                if (outcomes.Count > 0) perDataset.Add((total, intended, unintended));
                var detail = new JsonObject { ["dataset_name"] = spec.Name + "_tpp_results" };
                for (int i = 0; i < n.Length; i++)
                {
                    detail[$"tpp_threshold_{n[i]}_total_metric"] = total[i];
                    detail[$"tpp_threshold_{n[i]}_intended_diff_only"] = intended[i];
                    detail[$"tpp_threshold_{n[i]}_unintended_diff_only"] = unintended[i];
                }
                details.Add(detail);
                unstructured[spec.Name] = classRows;
            }
            var metrics = new List<MetricValue>();
            for (int i = 0; i < n.Length; i++)
            {
                int k = i;
                metrics.Add(new(TppMetrics.Total(n[i]), ScrTppProcedure.Mean(perDataset.Select(d => d.Total[k]))));
                metrics.Add(new(TppMetrics.Intended(n[i]), ScrTppProcedure.Mean(perDataset.Select(d => d.Intended[k]))));
                metrics.Add(new(TppMetrics.Unintended(n[i]), ScrTppProcedure.Mean(perDataset.Select(d => d.Unintended[k]))));
            }
            return new EvalResult(metrics, details, unstructured);
        }

        private List<ClassOutcome> RunDataset(string name, ProbeDataset data, IReadOnlyList<(string Code, string Label)> classes, int seed,
            CancellationToken cancellation, out JsonObject classRows)
        {
            int[] Indices(string?[] column) => column.Select(v => v is null ? -1 : IndexOf(classes, v)).ToArray();
            var tasks = SparseProbingEvaluator.Plan(Indices(data.TrainColumn1), Indices(data.TestColumn1), classes.Count,
                options.TrainSetSize, options.TestSetSize, ScrTppProcedure.Seed(seed, name + "/sample"));
            classRows = new JsonObject();
            var usable = tasks.Where(t => t.TrainPositives.Length > 0 && t.TrainNegatives.Length > 0 && t.TestPositives.Length > 0 && t.TestNegatives.Length > 0).ToList();
            foreach (var t in tasks.Except(usable))
                classRows[classes[t.Class].Label] = new JsonObject { ["skipped"] = "no positives or no negatives in a split" };
            if (usable.Count < 2)
            {
                foreach (var t in usable) classRows[classes[t.Class].Label] = new JsonObject { ["skipped"] = "fewer than two classes can be probed" };
                return [];
            }
            var trainSets = usable.Select(t => new ProbeSet(t.TrainPositives, t.TrainNegatives)).ToArray();
            var testSets = usable.Select(t => new ProbeSet(t.TestPositives, t.TestNegatives)).ToArray();
            var train = data.Encode(Split.Train, trainSets.SelectMany(s => s.All).Distinct().Order().ToArray(), cancellation);
            var testIds = testSets.SelectMany(s => s.All).Distinct().Order().ToArray();
            var test = data.Encode(Split.Test, testIds, cancellation);

            var probes = new LinearProbe[usable.Count];
            var clean = new double[usable.Count];
            for (int c = 0; c < usable.Count; c++)
            {
                cancellation.ThrowIfCancellationRequested();
                probes[c] = ScrTppProcedure.TrainProbe(train, trainSets[c], options.Probe, ScrTppProcedure.Seed(seed, $"{name}/{classes[usable[c].Class].Label}/probe"));
                clean[c] = ScrTppProcedure.Accuracy(probes[c], test, testSets[c]);
            }
            var n = options.NValues;
            var outcomes = new List<ClassOutcome>();
            for (int c = 0; c < usable.Count; c++)
            {
                string label = classes[usable[c].Class].Label;
                var ranking = ScrTppProcedure.Ranking(ScrTppProcedure.Effects(context.Sae, train, trainSets[c], probes[c], tpp: true));
                // Every probe's accuracy on its own test set after the ablation (the sweep measures all at once).
                var patched = new double[n.Length][];
                ScrTppProcedure.AblationSweep(context.Sae, test, testIds, ranking, n, (i, x) =>
                {
                    var accuracies = new double[usable.Count];
                    for (int j = 0; j < usable.Count; j++)
                    {
                        using var rows = ScrTppProcedure.Rows(x, testIds, testSets[j].All);
                        accuracies[j] = probes[j].Accuracy(rows, testSets[j].Labels);
                    }
                    patched[i] = accuracies;
                    return 0;
                }, cancellation);
                var total = new double?[n.Length];
                var intended = new double?[n.Length];
                var unintended = new double?[n.Length];
                var row = new JsonObject { ["clean_accuracy"] = clean[c], ["nonzero_effect_latents"] = ranking.Length };
                for (int i = 0; i < n.Length; i++)
                {
                    if (patched[i] is not { } acc) continue;
                    intended[i] = clean[c] - acc[c];
                    unintended[i] = Enumerable.Range(0, usable.Count).Where(j => j != c).Average(j => clean[j] - acc[j]);
                    total[i] = intended[i] - unintended[i];
                    row[$"tpp_threshold_{n[i]}_total_metric"] = total[i];
                    row[$"tpp_threshold_{n[i]}_intended_diff_only"] = intended[i];
                    row[$"tpp_threshold_{n[i]}_unintended_diff_only"] = unintended[i];
                }
                classRows[label] = row;
                outcomes.Add(new ClassOutcome(label, total, intended, unintended));
            }
            return outcomes;
        }

        private static int IndexOf(IReadOnlyList<(string Code, string Label)> classes, string value)
        {
            for (int i = 0; i < classes.Count; i++) if (AttributeTextDatasets.Same(value, classes[i].Code)) return i;
            return -1;
        }
    }
}

/// <summary>Descriptors of the TPP metrics (SAEBench's category and names).</summary>
public static class TppMetrics
{
    public const string Category = "tpp_metrics";

    public static MetricDescriptor Total(int n) => new(Category, $"tpp_threshold_{n}_total_metric", $"TPP metric (top {n} latents)", "accuracy", true);
    public static MetricDescriptor Intended(int n) => new(Category, $"tpp_threshold_{n}_intended_diff_only", $"TPP intended class drop (top {n})", "accuracy", true);
    public static MetricDescriptor Unintended(int n) => new(Category, $"tpp_threshold_{n}_unintended_diff_only", $"TPP other classes' drop (top {n})", "accuracy", false);
}
