using System.Text.Json.Nodes;
using SaeBench.Compute.Tensors;
using SaeBench.Core.Evaluation;
using SaeBench.Core.Models;
using SaeBench.Evals.Shared;

namespace SaeBench.Evals.Absorption;

/// <summary>Options of the <c>absorption_hierarchy</c> evaluator.</summary>
public sealed record AbsorptionOptions : EvaluatorOptions
{
    /// <summary>Train examples per parent: up to half with the parent concept, as many without.</summary>
    public int TrainSize { get; init; } = 4000;

    /// <summary>Test examples per parent, split the same way; the parent's test positives are the examples scored.</summary>
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
        "How often a parent concept's latents stay silent because child-specific latents absorbed its direction (SAEBench's procedure on the model's concept hierarchy).", Version: "1");

    protected override IEvaluationJob Start(EvaluationContext context, AbsorptionOptions options)
    {
        if (!context.Model.TryGet<ILabelledTasks>(out var tasks, out var why)) throw new NotApplicableException(why);
        var parents = tasks.Tasks.Hierarchy.Parents();
        if (parents.Count == 0)
            throw new NotApplicableException($"model '{context.Model.Info.Id}' has no concept hierarchy (no concept with children)");
        return new Job(context, options, tasks, parents);
    }

    /// <summary>The sampled examples of one parent.</summary>
    private sealed record ParentSample(int Parent, int[] TrainPositives, int[] TrainNegatives, int[] TestPositives, int[] TestNegatives);

    private sealed class Job : IEvaluationJob
    {
        private readonly EvaluationContext _context;
        private readonly AbsorptionOptions _options;
        private readonly ConceptHierarchy _hierarchy;
        private readonly ExampleLabels _testLabels;
        private readonly ParentSample[] _samples;
        private readonly PoolingCollector _test;

        public Job(EvaluationContext context, AbsorptionOptions options, ILabelledTasks tasks, IReadOnlyList<int> parents)
        {
            _context = context;
            _options = options;
            _hierarchy = tasks.Tasks.Hierarchy;
            var train = tasks.Labels(Split.Train);
            _testLabels = tasks.Labels(Split.Test);
            var rng = new Random(Sampling.Derive(context.Seed, Salt));
            _samples = parents.Select(p =>
            {
                var (trPos, trNeg) = Sample(train, p, options.TrainSize / 2, rng);
                var (tePos, teNeg) = Sample(_testLabels, p, options.TestSize / 2, rng);
                return new ParentSample(p, trPos, trNeg, tePos, teNeg);
            }).ToArray();
            _test = new PoolingCollector(_samples.SelectMany(s => s.TestPositives.Concat(s.TestNegatives)), context.Sae.DSae, context.Model.Info.DModel);
        }

        /// <summary>Up to <paramref name="half"/> examples with the concept and as many without, uniformly.</summary>
        private static (int[] Positives, int[] Negatives) Sample(ExampleLabels labels, int concept, int half, Random rng)
        {
            var has = labels.ExamplesWith(concept);
            var pos = Sampling.Choose(Sampling.Where(has.Length, e => has[e]), half, rng);
            var neg = Sampling.Choose(Sampling.Where(has.Length, e => !has[e]), pos.Length, rng);
            return (pos, neg);
        }

        public void Observe(SaeBatch batch) => _test.Observe(batch);

        public EvalResult Complete(CancellationToken cancellation)
        {
            var test = _test.Finish();
            cancellation.ThrowIfCancellationRequested();
            var train = ExampleEncoding.EncodePooled(_context, Split.Train,
                _samples.SelectMany(s => s.TrainPositives.Concat(s.TrainNegatives)), latents: true, activations: true, cancellation);

            // Unit decoder directions: the codes of the decoder-norm-folded SAE.
            AbsorptionProcedure.ScaleToUnitDecoder(_context.Sae, train.Latents!, test.Latents!);

            var details = new List<JsonObject>();
            var qualifying = new List<ParentAbsorption>();
            foreach (var s in _samples)
            {
                cancellation.ThrowIfCancellationRequested();
                var (row, result) = EvaluateParent(s, train, test);
                details.Add(row);
                if (result is not null) qualifying.Add(result);
            }

            var summary = AbsorptionMath.Summarise(qualifying, _options.MinParents);
            var metrics = new List<MetricValue>
            {
                MetricValue.Of(AbsorptionMetrics.MeanAbsorptionFractionScore, summary.MeanAbsorptionFractionScore),
                MetricValue.Of(AbsorptionMetrics.MeanFullAbsorptionScore, summary.MeanFullAbsorptionScore),
                MetricValue.Of(AbsorptionMetrics.MeanNumSplitFeatures, summary.MeanNumSplitFeatures),
                MetricValue.Of(AbsorptionMetrics.StdDevAbsorptionFractionScore, summary.StdDevAbsorptionFractionScore),
                MetricValue.Of(AbsorptionMetrics.StdDevFullAbsorptionScore, summary.StdDevFullAbsorptionScore),
                MetricValue.Of(AbsorptionMetrics.StdDevNumSplitFeatures, summary.StdDevNumSplitFeatures),
                MetricValue.Of(AbsorptionMetrics.AbsorptionScore, summary.AbsorptionScore),
            };
            var unstructured = new JsonObject
            {
                ["parents_considered"] = _samples.Length,
                ["parents_qualifying"] = summary.Parents,
                ["decoder_directions"] = "unit-norm: codes multiplied by their decoder norms (the folded SAE's codes)",
            };
            if (summary.Status is not null) unstructured["status"] = summary.Status;
            return new EvalResult(metrics, details, unstructured);
        }

        private (JsonObject Row, ParentAbsorption? Result) EvaluateParent(ParentSample s, PooledExamples train, PooledExamples test)
        {
            string name = _hierarchy.Concepts[s.Parent].Name;
            var children = _hierarchy.ChildrenOf(s.Parent);
            var row = new JsonObject
            {
                ["parent"] = name,
                ["parent_id"] = s.Parent,
                ["children"] = new JsonArray(children.Select(c => (JsonNode)_hierarchy.Concepts[c].Name).ToArray()),
                ["train_positives"] = s.TrainPositives.Length,
                ["train_negatives"] = s.TrainNegatives.Length,
                ["test_positives"] = s.TestPositives.Length,
                ["test_negatives"] = s.TestNegatives.Length,
            };
            ParentAbsorption? NotQualifying(string reason)
            {
                row["qualifies"] = false;
                row["reason"] = reason;
                return null;
            }
            if (s.TrainPositives.Length == 0 || s.TrainNegatives.Length == 0) return (row, NotQualifying("no train examples with or without the parent"));
            if (s.TestPositives.Length == 0 || s.TestNegatives.Length == 0) return (row, NotQualifying("no test examples with or without the parent"));

            int[] trainIdx = [.. s.TrainPositives, .. s.TrainNegatives];
            int[] testIdx = [.. s.TestPositives, .. s.TestNegatives];
            var yTrain = ProbeLabels.PositivesThenNegatives(s.TrainPositives.Length, s.TrainNegatives.Length);
            var yTest = ProbeLabels.PositivesThenNegatives(s.TestPositives.Length, s.TestNegatives.Length);
            using var aTrain = train.Gather(train.Activations!, trainIdx);
            using var aTest = test.Gather(test.Activations!, testIdx);
            using var lTrain = train.Gather(train.Latents!, trainIdx);
            using var lTest = test.Gather(test.Latents!, testIdx);
            var outcome = AbsorptionProcedure.Evaluate(new ProbeData(aTrain, lTrain, yTrain, aTest, lTest, yTest), _context.Sae,
                new ProcedureSettings(_options.MinProbeF1, _options.L1Coefficient, _options.MaxK, _options.F1Jump, BalancedGroundTruthProbe: false), row);
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
                    if (!_testLabels.Has(s.TestPositives[i], children[c])) continue;
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
}
