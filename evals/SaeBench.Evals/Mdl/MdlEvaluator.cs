using System.Text.Json.Nodes;
using SaeBench.Compute.Tensors;
using SaeBench.Core.Evaluation;
using SaeBench.Core.Models;

namespace SaeBench.Evals.Mdl;

/// <summary>Options of the <c>mdl</c> evaluator.</summary>
public sealed record MdlOptions : EvaluatorOptions
{
    /// <summary>FVU tolerance ε: the precision is the smallest B with FVU_quantised ≤ FVU + ε.</summary>
    public double Epsilon { get; init; } = 0.01;

    /// <summary>Bins per latent tried, strictly increasing.</summary>
    public IReadOnlyList<int> Bins { get; init; } = [.. MdlMath.DefaultBinGrid];

    public override IEnumerable<string> Validate()
    {
        if (!(Epsilon >= 0) || !double.IsFinite(Epsilon)) yield return $"epsilon: {Epsilon} must be a finite number ≥ 0.";
        if (Bins is null || Bins.Count == 0) yield return "bins: give at least one bin count.";
        else if (Bins.Any(b => b < 1) || Bins.Zip(Bins.Skip(1)).Any(p => p.Second <= p.First))
            yield return $"bins: [{string.Join(", ", Bins)}] must be ≥ 1 and strictly increasing.";
    }
}

/// <summary>
/// Description length of the SAE's code (METRICS.md <c>mdl</c>): a first pass over the test split (the shared batches)
/// finds quantisation ranges and the FVU; a second pass quantises the code at every precision of the grid and
/// entropy-codes it.
/// </summary>
public sealed class MdlEvaluator : Evaluator<MdlOptions>
{
    public override EvaluatorInfo Info { get; } = new("mdl", "MDL",
        "Bits per token to send the SAE's quantised code at a precision that keeps FVU within ε of the unquantised code.", Version: "1");

    protected override IEvaluationJob Start(EvaluationContext context, MdlOptions options) => new Job(context, options);

    private sealed class Job(EvaluationContext context, MdlOptions options) : IEvaluationJob
    {
        private readonly MdlFirstPass _first = new(context.Sae.DIn, context.Sae.DSae);

        public void Observe(SaeBatch batch)
        {
            using var valid = ValidRows.Of(batch, includeReconstruction: true);
            _first.Add(valid.X, valid.F, valid.XHat!);
        }

        public EvalResult Complete(CancellationToken cancellation)
        {
            var scales = _first.Result();
            var second = new MdlSecondPass(scales, options.Bins);
            CodeDecoder decode = (codes, destination) => context.Sae.Decode(context.Backend, codes, destination);
            foreach (var batch in context.Encode(Split.Test, decode: false))
            {
                cancellation.ThrowIfCancellationRequested();
                using var valid = ValidRows.Of(batch, includeReconstruction: false);
                second.Add(valid.X, valid.F, decode);
            }
            var r = second.Result(options.Epsilon);
            var metrics = new List<MetricValue>
            {
                MetricValue.Of(MdlMetrics.DescriptionLengthBits, r.DescriptionLengthBits),
                MetricValue.Of(MdlMetrics.NaiveDescriptionLengthBits, r.NaiveDescriptionLengthBits),
                MetricValue.Of(MdlMetrics.RawDescriptionLengthBits, r.RawDescriptionLengthBits),
                MetricValue.Of(MdlMetrics.CompressionRatio, r.CompressionRatio),
                MetricValue.Of(MdlMetrics.Bins, r.Bins),
                MetricValue.Of(MdlMetrics.Fvu, r.Fvu),
                MetricValue.Of(MdlMetrics.FvuQuantised, r.FvuQuantised),
            };
            var details = r.Precisions.Select(p => new JsonObject
            {
                ["bins"] = p.Bins,
                ["fvu_quantised"] = Finite(p.FvuQuantised),
                ["description_length_bits"] = Finite(p.DescriptionLengthBits),
                ["naive_description_length_bits"] = Finite(p.NaiveDescriptionLengthBits),
            }).ToList();
            var unstructured = new JsonObject
            {
                ["meets_tolerance"] = r.MeetsTolerance,
                ["epsilon"] = options.Epsilon,
                ["raw_bins"] = r.RawBins,
                ["raw_fvu_quantised"] = Finite(r.RawFvuQuantised),
                ["l0"] = Finite(r.L0),
                ["tokens"] = r.Tokens,
            };
            return new EvalResult(metrics, details, unstructured);
        }

        private static double? Finite(double v) => double.IsFinite(v) ? v : null;
    }

    /// <summary>The valid rows of a batch: the batch's own buffers when every row is valid, a compact copy otherwise.</summary>
    private sealed class ValidRows : IDisposable
    {
        private readonly bool _owned;

        private ValidRows(HostMatrix x, HostMatrix f, HostMatrix? xHat, bool owned)
        {
            X = x;
            F = f;
            XHat = xHat;
            _owned = owned;
        }

        public HostMatrix X { get; }
        public HostMatrix F { get; }
        public HostMatrix? XHat { get; }

        public static ValidRows Of(SaeBatch batch, bool includeReconstruction)
        {
            var valid = batch.Source.Valid;
            int count = 0;
            foreach (bool v in valid) if (v) count++;
            if (count == batch.Rows) return new ValidRows(batch.X, batch.F, includeReconstruction ? batch.XHat : null, owned: false);
            var x = HostMatrix.Rent(count, batch.X.Cols, clear: false);
            var f = HostMatrix.Rent(count, batch.F.Cols, clear: false);
            var h = includeReconstruction ? HostMatrix.Rent(count, batch.XHat.Cols, clear: false) : null;
            int k = 0;
            for (int r = 0; r < batch.Rows; r++)
            {
                if (!valid[r]) continue;
                batch.X.Row(r).CopyTo(x.Row(k));
                batch.F.Row(r).CopyTo(f.Row(k));
                if (h is not null) batch.XHat.Row(r).CopyTo(h.Row(k));
                k++;
            }
            return new ValidRows(x, f, h, owned: true);
        }

        public void Dispose()
        {
            if (!_owned) return;
            X.Dispose();
            F.Dispose();
            XHat?.Dispose();
        }
    }
}

/// <summary>Descriptors of the MDL metrics.</summary>
public static class MdlMetrics
{
    private static MetricDescriptor D(string n, string display, string unit, bool? higher) => new("mdl", n, display, unit, higher);

    public static readonly MetricDescriptor DescriptionLengthBits = D("description_length_bits", "Description length", "bits/token", false);
    public static readonly MetricDescriptor NaiveDescriptionLengthBits = D("naive_description_length_bits", "Naive description length bound", "bits/token", null);
    public static readonly MetricDescriptor RawDescriptionLengthBits = D("raw_description_length_bits", "Raw-activation description length", "bits/token", null);
    public static readonly MetricDescriptor CompressionRatio = D("compression_ratio", "Compression ratio (raw / SAE)", "ratio", true);
    public static readonly MetricDescriptor Bins = D("bins", "Bins per latent", "bins", null);
    public static readonly MetricDescriptor Fvu = D("fvu", "FVU (unquantised)", "fraction", false);
    public static readonly MetricDescriptor FvuQuantised = D("fvu_quantised", "FVU (quantised code)", "fraction", false);
}
