using SaeBench.Evals.Shared;
using System.Text.Json.Nodes;
using SaeBench.Compute.Backends;
using SaeBench.Compute.Tensors;
using SaeBench.Core.Evaluation;
using SaeBench.Core.Models;
using SaeBench.Evals.CoreEval;

namespace SaeBench.Evals.GroundTruth;

/// <summary>Options of the <c>ground_truth</c> evaluator.</summary>
public sealed record GroundTruthOptions : EvaluatorOptions
{
    /// <summary>A true feature is recovered, and a latent precise, at a cosine of at least this.</summary>
    public double CosineThreshold { get; init; } = 0.9;

    public override IEnumerable<string> Validate()
    {
        if (!(CosineThreshold > -1 && CosineThreshold <= 1)) yield return $"cosine_threshold: {CosineThreshold} must be in (−1, 1].";
    }
}

/// <summary>
/// Recovery of the known true features of a synthetic model (METRICS.md <c>ground_truth</c>): mean max cosine
/// similarity, recovered fraction, latent precision and the true absorption rate.
/// </summary>
public sealed class GroundTruthEvaluator : Evaluator<GroundTruthOptions>
{
    public override EvaluatorInfo Info { get; } = new("ground_truth", "Ground-truth recovery",
        "How well the decoder directions recover the synthetic model's true features, and how often parents are absorbed.", Version: "1");

    protected override IEvaluationJob Start(EvaluationContext context, GroundTruthOptions options)
    {
        if (!context.Model.TryGet<IGroundTruthFeatures>(out var truth, out var why)) throw new NotApplicableException(why);
        if (truth.Directions.Cols != context.Sae.DIn)
            throw new NotApplicableException($"the true features have {truth.Directions.Cols} dimensions but the SAE reads d_in = {context.Sae.DIn}");
        return new Job(context, options, truth);
    }

    /// <summary>For each true feature the best latent and its cosine; for each latent the best true feature's cosine.</summary>
    public sealed record Matching(int[] BestLatent, double[] FeatureMaxCosine, double[] LatentMaxCosine);

    /// <summary>
    /// cos(true_i, d_j) for every pair, in blocks of <paramref name="blockRows"/> true features (never the whole
    /// n_features × F matrix): per true feature the best latent (ties → lower index) and its cosine, per latent the
    /// best cosine over true features. Zero rows have cosine 0 with everything.
    /// </summary>
    public static Matching Match(ComputeBackend backend, HostMatrix trueDirections, HostMatrix decoder, int blockRows = 256)
    {
        if (trueDirections.Cols != decoder.Cols)
            throw new ArgumentException($"True directions have {trueDirections.Cols} dims; decoder rows have {decoder.Cols}.");
        using var t = LatentGeometry.UnitRows(trueDirections);
        using var d = LatentGeometry.UnitRows(decoder);
        int n = t.Rows, f = d.Rows;
        var best = new int[n];
        var featureMax = new double[n];
        var latentMax = new double[f];
        Array.Fill(latentMax, double.NegativeInfinity);
        int b = Math.Max(1, Math.Min(blockRows, n));
        using var sims = HostMatrix.Rent(b, f, clear: false);
        for (int start = 0; start < n; start += b)
        {
            int rows = Math.Min(b, n - start);
            var s = sims.SliceRows(0, rows);
            backend.Gemm.Gemm(t.SliceRows(start, rows), false, d, true, s);
            for (int r = 0; r < rows; r++)
            {
                var row = s.Row(r);
                int arg = 0;
                for (int j = 0; j < f; j++)
                {
                    if (row[j] > row[arg]) arg = j;
                    if (row[j] > latentMax[j]) latentMax[j] = row[j];
                }
                best[start + r] = arg;
                featureMax[start + r] = Math.Clamp(row[arg], -1f, 1f);
            }
        }
        for (int j = 0; j < f; j++) latentMax[j] = n == 0 ? 0 : Math.Clamp(latentMax[j], -1, 1);
        return new Matching(best, featureMax, latentMax);
    }

    private sealed class Job : IEvaluationJob
    {
        private readonly EvaluationContext _context;
        private readonly GroundTruthOptions _options;
        private readonly IGroundTruthFeatures _truth;
        private readonly Matching _match;
        private readonly bool[] _alive;
        private readonly (int Child, int Parent)[] _children;
        private readonly int[] _parents;
        private readonly long[] _childActive, _absorbed;   // per parent feature (indexed by position in _parents)
        private HostMatrix? _codes;

        public Job(EvaluationContext context, GroundTruthOptions options, IGroundTruthFeatures truth)
        {
            _context = context;
            _options = options;
            _truth = truth;
            _match = Match(context.Backend, truth.Directions, context.Sae.Parameters.WDec);
            _alive = new bool[context.Sae.DSae];
            var parentOf = truth.ParentOf;
            _children = Enumerable.Range(0, parentOf.Count).Where(i => parentOf[i] >= 0).Select(i => (i, parentOf[i])).ToArray();
            _parents = _children.Select(c => c.Parent).Distinct().Order().ToArray();
            _childActive = new long[_parents.Length];
            _absorbed = new long[_parents.Length];
        }

        public void Observe(SaeBatch batch)
        {
            var src = batch.Source;
            var valid = src.Valid;
            for (int r = 0; r < batch.Rows; r++)
            {
                if (!valid[r]) continue;
                var f = batch.F.Row(r);
                for (int j = 0; j < f.Length; j++) if (f[j] > 0) _alive[j] = true;
            }
            if (_children.Length == 0) return;

            // True codes are per example; every valid position of an example shares its example's code.
            int examples = src.ExampleCount, features = _truth.Directions.Rows;
            if (_codes is null || _codes.Rows < examples)
            {
                _codes?.Dispose();
                _codes = new HostMatrix(examples, features);
            }
            var codes = _codes.SliceRows(0, examples);
            _truth.TrueCodes(Split.Test, src.FirstExample, codes);
            var activeParents = new bool[_parents.Length];
            for (int r = 0; r < batch.Rows; r++)
            {
                if (!valid[r]) continue;
                var code = codes.Row(src.ExampleIndex[r] - src.FirstExample);
                Array.Clear(activeParents);
                foreach (var (child, parent) in _children)
                    if (code[child] != 0f) activeParents[Array.BinarySearch(_parents, parent)] = true;
                var f = batch.F.Row(r);
                for (int q = 0; q < _parents.Length; q++)
                {
                    if (!activeParents[q]) continue;
                    _childActive[q]++;
                    if (!(f[_match.BestLatent[_parents[q]]] > 0)) _absorbed[q]++;
                }
            }
        }

        public EvalResult Complete(CancellationToken cancellation)
        {
            _codes?.Dispose();
            double threshold = _options.CosineThreshold;
            int n = _match.BestLatent.Length;
            double mmcs = n > 0 ? _match.FeatureMaxCosine.Average() : double.NaN;
            double recovered = n > 0 ? _match.FeatureMaxCosine.Count(c => c >= threshold) / (double)n : double.NaN;
            int alive = _alive.Count(a => a);
            int precise = Enumerable.Range(0, _alive.Length).Count(j => _alive[j] && _match.LatentMaxCosine[j] >= threshold);
            double precision = alive > 0 ? (double)precise / alive : double.NaN;
            long pairs = _childActive.Sum(), absorbed = _absorbed.Sum();
            double absorption = pairs > 0 ? (double)absorbed / pairs : double.NaN;

            var metrics = new List<MetricValue>
            {
                MetricValue.Of(GroundTruthMetrics.Mmcs, mmcs),
                MetricValue.Of(GroundTruthMetrics.RecoveredFraction, recovered),
                MetricValue.Of(GroundTruthMetrics.LatentPrecision, precision),
                MetricValue.Of(GroundTruthMetrics.TrueAbsorptionRate, absorption),
            };
            var parentOf = _truth.ParentOf;
            var details = new List<JsonObject>(n);
            for (int i = 0; i < n; i++)
            {
                int q = Array.BinarySearch(_parents, i);
                var row = new JsonObject
                {
                    ["feature"] = i,
                    ["parent"] = parentOf[i],
                    ["best_latent"] = _match.BestLatent[i],
                    ["max_cosine_sim"] = _match.FeatureMaxCosine[i],
                    ["recovered"] = _match.FeatureMaxCosine[i] >= threshold,
                };
                if (q >= 0)
                {
                    row["child_active_tokens"] = _childActive[q];
                    row["true_absorption_rate"] = _childActive[q] > 0 ? (double)_absorbed[q] / _childActive[q] : null;
                }
                details.Add(row);
            }
            var unstructured = new JsonObject
            {
                ["true_features"] = n,
                ["alive_latents"] = alive,
                ["precise_alive_latents"] = precise,
                ["child_active_pairs"] = pairs,
                ["absorbed_pairs"] = absorbed,
                ["cosine_threshold"] = threshold,
            };
            return new EvalResult(metrics, details, unstructured);
        }
    }
}

/// <summary>Descriptors of the ground-truth metrics.</summary>
public static class GroundTruthMetrics
{
    private static MetricDescriptor D(string n, string display, string unit, bool? higher) => new("ground_truth", n, display, unit, higher);

    public static readonly MetricDescriptor Mmcs = D("mmcs", "Mean max cosine to true features", "cosine", true);
    public static readonly MetricDescriptor RecoveredFraction = D("recovered_fraction", "True features recovered", "fraction", true);
    public static readonly MetricDescriptor LatentPrecision = D("latent_precision", "Alive latents matching a true feature", "fraction", true);
    public static readonly MetricDescriptor TrueAbsorptionRate = D("true_absorption_rate", "Child-active tokens with the parent's latent silent", "fraction", false);
}
