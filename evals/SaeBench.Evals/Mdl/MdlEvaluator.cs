using System.Text.Json.Nodes;
using SaeBench.Compute.Tensors;
using SaeBench.Core.Evaluation;
using SaeBench.Core.Models;

namespace SaeBench.Evals.Mdl;

/// <summary>Options of the <c>mdl</c> evaluator.</summary>
public sealed record MdlOptions : EvaluatorOptions
{
    /// <summary>The distortion target ε, one for every SAE (the MDL-SAE paper's selection): description lengths are compared
    /// where the quantised code's FVU reaches it; an SAE that cannot reach it is excluded (null description length).</summary>
    public double FvuTarget { get; init; } = 0.1;

    /// <summary>Bins per latent tried, strictly increasing.</summary>
    public IReadOnlyList<int> Bins { get; init; } = [.. MdlMath.DefaultBinGrid];

    /// <summary>Add the dictionary's cost (the decoder's F·d parameters at <see cref="DictionaryBitsPerParameter"/> bits,
    /// amortised over the evaluated tokens) to the description length.</summary>
    public bool IncludeDictionaryCost { get; init; }

    /// <summary>Bits per decoder parameter for the dictionary cost.</summary>
    public double DictionaryBitsPerParameter { get; init; } = 32;

    public override IEnumerable<string> Validate()
    {
        if (!(FvuTarget > 0 && FvuTarget < 1)) yield return $"fvu_target: {FvuTarget} must be in (0, 1).";
        if (Bins is null || Bins.Count == 0) yield return "bins: give at least one bin count.";
        else if (Bins.Any(b => b < 1) || Bins.Zip(Bins.Skip(1)).Any(p => p.Second <= p.First))
            yield return $"bins: [{string.Join(", ", Bins)}] must be ≥ 1 and strictly increasing.";
        if (!(DictionaryBitsPerParameter > 0) || !double.IsFinite(DictionaryBitsPerParameter))
            yield return $"dictionary_bits_per_parameter: {DictionaryBitsPerParameter} must be a finite number > 0.";
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
        "Bits per token to send the SAE's quantised code at the precision where its FVU reaches a target ε common to every SAE.", Version: "2");

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
            double dictionary = MdlMath.DictionaryBitsPerToken(context.Sae.DSae, context.Sae.DIn, options.DictionaryBitsPerParameter, scales.Tokens);
            var r = second.Result(options.FvuTarget, options.IncludeDictionaryCost ? dictionary : 0);
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
                ["fvu_target"] = options.FvuTarget,
                ["meets_target"] = r.MeetsTarget,
                ["met_at_coarsest_precision"] = r.AtCoarsest,
                ["selection"] = "description lengths at one FVU target for every SAE, interpolated between the grid precisions that straddle it",
                ["raw_bins"] = Finite(r.RawBins),
                ["raw_fvu_quantised"] = Finite(r.RawFvuQuantised),
                ["dictionary_bits_per_token"] = Finite(dictionary),
                ["dictionary_cost_included"] = options.IncludeDictionaryCost,
                ["signed_latents"] = r.SignedLatents,
                ["l0"] = Finite(r.L0),
                ["tokens"] = r.Tokens,
            };
            if (!r.MeetsTarget)
                unstructured["status"] = $"excluded: the quantised code cannot reach FVU {options.FvuTarget} " +
                    $"(FVU {Format(r.Precisions[^1].FvuQuantised)} at {r.Precisions[^1].Bins} bins; unquantised FVU {Format(r.Fvu)})";
            return new EvalResult(metrics, details, unstructured);
        }

        private static string Format(double v) => v.ToString("G4", System.Globalization.CultureInfo.InvariantCulture);

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
