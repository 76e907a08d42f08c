using System.Text.Json.Nodes;
using SaeBench.Compute.Tensors;
using SaeBench.Core.Evaluation;
using SaeBench.Core.Models;
using SaeBench.Evals.Shared;

namespace SaeBench.Evals.Absorption;

/// <summary>Options of the <c>absorption_first_letter</c> evaluator.</summary>
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
/// Feature absorption (SAEBench's first-letter task generalised to the model's parent/child concepts; METRICS.md
/// <c>absorption</c>): ground-truth probes per parent, k-sparse probes and feature splits, per-example absorption
/// fraction and full absorption, per-parent details and the overall means.
/// </summary>
public sealed class AbsorptionEvaluator : Evaluator<AbsorptionOptions>
{
    private const string Salt = "absorption_first_letter";

    public override EvaluatorInfo Info { get; } = new("absorption_first_letter", "Feature absorption",
        "How often a parent concept's latents stay silent because child-specific latents absorbed its direction.", Version: "1");

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

            // Unit decoder directions: scale each code by its decoder norm (and undo the input scale), which is exactly
            // the code of the decoder-norm-folded SAE; works for every architecture, including top-k.
            var scale = _context.Sae.DecoderNorms();
            float inputScale = _context.Sae.Parameters.InputScale;
            for (int j = 0; j < scale.Length; j++) scale[j] = (scale[j] > 0 && float.IsFinite(scale[j]) ? scale[j] : 1f) / inputScale;
            ScaleColumns(train.Latents!, scale);
            ScaleColumns(test.Latents!, scale);

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

            // 1. Ground-truth probe on the model's activations.
            using var aTrain = train.Gather(train.Activations!, trainIdx);
            using var aTest = test.Gather(test.Activations!, testIdx);
            var probe = LogisticRegression.Fit(aTrain, yTrain);
            double probeF1 = probe.F1(aTest, yTest);
            row["probe_f1"] = probeF1;
            if (!(probeF1 > _options.MinProbeF1)) return (row, NotQualifying($"probe test F1 {probeF1:F3} ≤ min_probe_f1 {_options.MinProbeF1}"));
            var direction = new float[probe.Features];
            for (int i = 0; i < direction.Length; i++) direction[i] = (float)probe.Weights[i];
            if (direction.All(v => v == 0)) return (row, NotQualifying("the probe's weights are all zero"));

            // 2. k-sparse probes on latents ranked by an L1 probe's weights.
            using var lTrain = train.Gather(train.Latents!, trainIdx);
            using var lTest = test.Gather(test.Latents!, testIdx);
            var l1 = LogisticRegression.FitL1(lTrain, yTrain, new L1LogisticOptions { Lambda = _options.L1Coefficient });
            int maxK = Math.Min(_options.MaxK, lTrain.Cols);
            var ranked = FeatureRanking.TopK(l1.Weights, maxK);
            var f1ByK = new double[maxK];
            var balanced = new LogisticOptions { ClassBalanced = true };
            for (int k = 1; k <= maxK; k++)
            {
                var cols = ranked[..k];
                using var tr = FeatureRanking.SelectColumns(lTrain.Span, lTrain.Rows, lTrain.Cols, cols);
                using var te = FeatureRanking.SelectColumns(lTest.Span, lTest.Rows, lTest.Cols, cols);
                f1ByK[k - 1] = LogisticRegression.Fit(tr, yTrain, balanced).F1(te, yTest);
            }
            int splitSize = AbsorptionMath.SelectFeatureSplit(f1ByK, _options.F1Jump);
            var split = ranked[..splitSize];
            row["k_sparse_f1"] = new JsonArray(f1ByK.Select(v => (JsonNode)v).ToArray());
            row["split_latents"] = new JsonArray(split.Select(v => (JsonNode)v).ToArray());

            // 3. Every test example of the parent that the probe calls positive.
            var cosines = AbsorptionMath.ProbeCosines(direction, _context.Sae.Parameters.WDec);
            var examples = new List<ExampleAbsorption>();
            var childFraction = new double[children.Count];
            var childCount = new int[children.Count];
            double withChild = 0, withoutChild = 0;
            int nWithChild = 0, nWithoutChild = 0;
            for (int i = 0; i < s.TestPositives.Length; i++)
            {
                var x = aTest.Row(i);
                if (!probe.Predict(x)) continue;
                double p = AbsorptionMath.ProbeProjection(x, direction);
                var e = AbsorptionMath.Example(lTest.Row(i), cosines, p, split);
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

        private static void ScaleColumns(HostMatrix m, float[] scale)
        {
            for (int r = 0; r < m.Rows; r++) System.Numerics.Tensors.TensorPrimitives.Multiply(m.Row(r), scale, m.Row(r));
        }
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
