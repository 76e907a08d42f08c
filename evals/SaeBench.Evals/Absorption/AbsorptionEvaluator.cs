using System.Text.Json.Nodes;
using SaeBench.Compute.Tensors;
using SaeBench.Core.Evaluation;
using SaeBench.Core.Models;
using SaeBench.Evals.Shared;

namespace SaeBench.Evals.Absorption;

/// <summary>Options of the <c>absorption_hierarchy</c> evaluator.</summary>
public sealed record AbsorptionOptions : EvaluatorOptions
{
    /// <summary>Train examples: one uniform (seeded) sample of the train split shared by every parent, so each parent's
    /// probes are trained at its natural prevalence, as SAEBench's are.</summary>
    public int TrainSize { get; init; } = 4000;

    /// <summary>Test examples: one uniform sample of the test split, shared likewise; F1 thresholds are measured on it at
    /// natural prevalence, and its examples with the parent are the ones scored.</summary>
    public int TestSize { get; init; } = 2000;

    /// <summary>A parent qualifies when its ground-truth probe's test F1 exceeds this.</summary>
    public double MinProbeF1 { get; init; } = 0.6;

    /// <summary>λ of the L1 probe whose weights rank the latents.</summary>
    public double L1Coefficient { get; init; } = 0.01;

    /// <summary>Largest k of the k-sparse probes.</summary>
    public int MaxK { get; init; } = 10;

    /// <summary>Grow the feature split while the k-sparse F1 improves by more than this.</summary>
    public double F1Jump { get; init; } = 0.03;

    /// <summary>Fewer qualifying parents than this → null metrics and a status.</summary>
    public int MinParents { get; init; } = 1;

    public override IEnumerable<string> Validate()
    {
        if (TrainSize < 2) yield return $"train_size: {TrainSize} must be at least 2.";
        if (TestSize < 2) yield return $"test_size: {TestSize} must be at least 2.";
        if (!(MinProbeF1 >= 0 && MinProbeF1 < 1)) yield return $"min_probe_f1: {MinProbeF1} must be in [0, 1).";
        if (!(L1Coefficient >= 0) || !double.IsFinite(L1Coefficient)) yield return $"l1_coefficient: {L1Coefficient} must be a finite number ≥ 0.";
        if (MaxK < 1) yield return $"max_k: {MaxK} must be at least 1.";
        if (!(F1Jump >= 0) || !double.IsFinite(F1Jump)) yield return $"f1_jump: {F1Jump} must be a finite number ≥ 0.";
        if (MinParents < 1) yield return $"min_parents: {MinParents} must be at least 1.";
    }
}

/// <summary>
/// Feature absorption on the model's parent/child concepts (SAEBench's first-letter procedure generalised to a concept
/// hierarchy; METRICS.md <c>absorption</c>): ground-truth probes per parent, k-sparse probes and feature splits,
/// per-example absorption fraction and full absorption, per-parent details and the overall means. For language models
/// the first-letter task itself is <see cref="FirstLetterAbsorptionEvaluator"/>.
/// </summary>
public sealed class AbsorptionEvaluator : Evaluator<AbsorptionOptions>
{
    private const string Salt = "absorption_first_letter"; // kept from its first name: the samples stay the same

    public override EvaluatorInfo Info { get; } = new("absorption_hierarchy", "Feature absorption (concept hierarchy)",
        "How often a parent concept's latents stay silent because child-specific latents absorbed its direction (SAEBench's procedure on the model's concept hierarchy).", Version: "2");

    protected override IEvaluationJob Start(EvaluationContext context, AbsorptionOptions options)
    {
        if (!context.Model.TryGet<ILabelledTasks>(out var tasks, out var why)) throw new NotApplicableException(why);
        var parents = tasks.Tasks.Hierarchy.Parents();
        if (parents.Count == 0)
            throw new NotApplicableException($"model '{context.Model.Info.Id}' has no concept hierarchy (no concept with children)");
        return new Job(context, options, tasks, parents);
    }

    private sealed class Job : IEvaluationJob
    {
        private readonly EvaluationContext _context;
        private readonly AbsorptionOptions _options;
        private readonly ConceptHierarchy _hierarchy;
        private readonly IReadOnlyList<int> _parents;
        private readonly ExampleLabels _trainLabels, _testLabels;
        private readonly int[] _train, _test;
        private readonly PoolingCollector _testPool;

        public Job(EvaluationContext context, AbsorptionOptions options, ILabelledTasks tasks, IReadOnlyList<int> parents)
        {
            _context = context;
            _options = options;
            _hierarchy = tasks.Tasks.Hierarchy;
            _parents = parents;
            _trainLabels = tasks.Labels(Split.Train);
            _testLabels = tasks.Labels(Split.Test);
            // One uniform sample per split, shared by every parent: each parent's probes see it at its natural prevalence
            // (SAEBench: every word of the split, one-vs-rest per letter).
            var rng = new Random(Sampling.Derive(context.Seed, Salt));
            _train = Sampling.Choose(Enumerable.Range(0, _trainLabels.Count).ToArray(), options.TrainSize, rng);
            _test = Sampling.Choose(Enumerable.Range(0, _testLabels.Count).ToArray(), options.TestSize, rng);
            _testPool = new PoolingCollector(_test, context.Sae.DSae, context.Model.Info.DModel);
        }

        public void Observe(SaeBatch batch) => _testPool.Observe(batch);

        public EvalResult Complete(CancellationToken cancellation)
        {
            var test = _testPool.Finish();
            cancellation.ThrowIfCancellationRequested();
            var train = ExampleEncoding.EncodePooled(_context, Split.Train, _train, latents: true, activations: true, cancellation);

            // Unit decoder directions: the codes of the decoder-norm-folded SAE.
            AbsorptionProcedure.ScaleToUnitDecoder(_context.Sae, train.Latents!, test.Latents!);
            // Rows are in example order, and the samples are ascending: row i is example _train[i] (_test[i]).
            if (!train.Examples.SequenceEqual(_train) || !test.Examples.SequenceEqual(_test))
                throw new InvalidOperationException("pooled examples are not the sampled ones");
            HostMatrix aTrain = train.Activations!, aTest = test.Activations!, lTrain = train.Latents!, lTest = test.Latents!;

            var details = new List<JsonObject>();
            var qualifying = new List<ParentAbsorption>();
            foreach (int parent in _parents)
            {
                cancellation.ThrowIfCancellationRequested();
                var (row, result) = EvaluateParent(parent, new ProbeData(aTrain, lTrain, Labels(_trainLabels, _train, parent),
                    aTest, lTest, Labels(_testLabels, _test, parent)));
                details.Add(row);
                if (result is not null) qualifying.Add(result);
            }

            var summary = AbsorptionMath.Summarise(qualifying, _options.MinParents);
            var metrics = AbsorptionMetrics.Of(summary);
            var unstructured = new JsonObject
            {
                ["parents_considered"] = _parents.Count,
                ["train_examples"] = _train.Length,
                ["test_examples"] = _test.Length,
                ["prevalence"] = "natural: one uniform sample per split shared by every parent",
                ["parents_qualifying"] = summary.Parents,
                ["decoder_directions"] = "unit-norm: codes multiplied by their decoder norms (the folded SAE's codes)",
            };
            if (summary.Status is not null) unstructured["status"] = summary.Status;
            return new EvalResult(metrics, details, unstructured);
        }

        /// <summary>Whether each sampled example has <paramref name="concept"/>.</summary>
        private static bool[] Labels(ExampleLabels labels, int[] examples, int concept) =>
            examples.Select(e => labels.Has(e, concept)).ToArray();

        private (JsonObject Row, ParentAbsorption? Result) EvaluateParent(int parent, ProbeData data)
        {
            string name = _hierarchy.Concepts[parent].Name;
            var children = _hierarchy.ChildrenOf(parent);
            var row = new JsonObject
            {
                ["parent"] = name,
                ["parent_id"] = parent,
                ["children"] = new JsonArray(children.Select(c => (JsonNode)_hierarchy.Concepts[c].Name).ToArray()),
                ["train_positives"] = data.YTrain.Count(y => y),
                ["train_negatives"] = data.YTrain.Count(y => !y),
                ["test_positives"] = data.YTest.Count(y => y),
                ["test_negatives"] = data.YTest.Count(y => !y),
            };
            ParentAbsorption? NotQualifying(string reason)
            {
                row["qualifies"] = false;
                row["reason"] = reason;
                return null;
            }
            if (!data.YTrain.Contains(true) || !data.YTrain.Contains(false)) return (row, NotQualifying("no train examples with or without the parent"));
            if (!data.YTest.Contains(true) || !data.YTest.Contains(false)) return (row, NotQualifying("no test examples with or without the parent"));

            var outcome = AbsorptionProcedure.Evaluate(data, _context.Sae,
                new ProcedureSettings(_options.MinProbeF1, _options.L1Coefficient, _options.MaxK, _options.F1Jump, BalancedGroundTruthProbe: true), row);
            if (outcome.NotQualifying is { } reason) return (row, NotQualifying(reason));

            var examples = new List<ExampleAbsorption>();
            var childFraction = new double[children.Count];
            var childCount = new int[children.Count];
            double withChild = 0, withoutChild = 0;
            int nWithChild = 0, nWithoutChild = 0;
            int splitSize = outcome.Split.Length;
            foreach (var (i, e) in outcome.Examples)
            {
                examples.Add(e);
                bool any = false;
                for (int c = 0; c < children.Count; c++)
                {
                    if (!_testLabels.Has(_test[i], children[c])) continue;
                    any = true;
                    childFraction[c] += e.Fraction;
                    childCount[c]++;
                }
                if (any) { withChild += e.Fraction; nWithChild++; }
                else { withoutChild += e.Fraction; nWithoutChild++; }
            }
            var result = AbsorptionMath.Aggregate(name, examples, splitSize);
            row["qualifies"] = true;
            row["examples"] = result.Examples;
            row["mean_absorption_fraction"] = Finite(result.MeanAbsorptionFraction);
            row["full_absorption_rate"] = Finite(result.FullAbsorptionRate);
            row["num_split_features"] = splitSize;
            row["examples_with_a_child"] = nWithChild;
            row["mean_absorption_fraction_with_a_child"] = nWithChild > 0 ? withChild / nWithChild : null;
            row["mean_absorption_fraction_without_a_child"] = nWithoutChild > 0 ? withoutChild / nWithoutChild : null;
            row["per_child"] = new JsonArray(children.Select((c, i) => (JsonNode)new JsonObject
            {
                ["child"] = _hierarchy.Concepts[c].Name,
                ["examples"] = childCount[i],
                ["mean_absorption_fraction"] = childCount[i] > 0 ? childFraction[i] / childCount[i] : null,
            }).ToArray());
            return (row, result);
        }

        private static double? Finite(double v) => double.IsFinite(v) ? v : null;
    }
}

/// <summary>Descriptors of the absorption metrics (SAEBench's <c>mean</c> category and names).</summary>
public static class AbsorptionMetrics
{
    private static MetricDescriptor D(string n, string display, string unit, bool? higher) => new("mean", n, display, unit, higher);

    public static readonly MetricDescriptor MeanAbsorptionFractionScore = D("mean_absorption_fraction_score", "Mean absorption fraction", "fraction", false);
    public static readonly MetricDescriptor MeanFullAbsorptionScore = D("mean_full_absorption_score", "Mean full-absorption rate", "fraction", false);
    public static readonly MetricDescriptor MeanNumSplitFeatures = D("mean_num_split_features", "Mean feature-split size", "latents", null);
    public static readonly MetricDescriptor StdDevAbsorptionFractionScore = D("std_dev_absorption_fraction_score", "Std. dev. of absorption fraction", "fraction", null);
    public static readonly MetricDescriptor StdDevFullAbsorptionScore = D("std_dev_full_absorption_score", "Std. dev. of full-absorption rate", "fraction", null);
    public static readonly MetricDescriptor StdDevNumSplitFeatures = D("std_dev_num_split_features", "Std. dev. of feature-split size", "latents", null);
    public static readonly MetricDescriptor AbsorptionScore = D("absorption_score", "Absorption score (1 − mean fraction)", "fraction", true);

    /// <summary>The metrics of a summary over parents (or letters), in SAEBench's order.</summary>
    public static List<MetricValue> Of(AbsorptionSummary summary) =>
    [
        MetricValue.Of(MeanAbsorptionFractionScore, summary.MeanAbsorptionFractionScore),
        MetricValue.Of(MeanFullAbsorptionScore, summary.MeanFullAbsorptionScore),
        MetricValue.Of(MeanNumSplitFeatures, summary.MeanNumSplitFeatures),
        MetricValue.Of(StdDevAbsorptionFractionScore, summary.StdDevAbsorptionFractionScore),
        MetricValue.Of(StdDevFullAbsorptionScore, summary.StdDevFullAbsorptionScore),
        MetricValue.Of(StdDevNumSplitFeatures, summary.StdDevNumSplitFeatures),
        MetricValue.Of(AbsorptionScore, summary.AbsorptionScore),
    ];
}
