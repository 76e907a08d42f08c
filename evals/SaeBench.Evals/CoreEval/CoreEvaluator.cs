using SaeBench.Core.Results;
using SaeBench.Core.Autoencoders;
using SaeBench.Evals.Shared;
using System.Text.Json.Nodes;
using SaeBench.Compute.Tensors;
using SaeBench.Core.Evaluation;
using SaeBench.Core.Models;

namespace SaeBench.Evals.CoreEval;

/// <summary>Options of the <c>core</c> evaluator (SAEBench's names where it has them).</summary>
public sealed record CoreOptions : EvaluatorOptions
{
    /// <summary>Tokens per batch of <c>explained_variance_legacy</c> (SAEBench's batch_size_prompts × context_size = 16 × 128).</summary>
    public int BatchTokens { get; init; } = 2048;

    /// <summary>Compute CE/KL through the model's forward pass from the hook, when it has one.</summary>
    public bool ComputeDownstreamLoss { get; init; } = true;

    /// <summary>Per-latent details and the max-cosine metrics (an F×F computation, done in blocks).</summary>
    public bool ComputeFeatureDetails { get; init; } = true;

    /// <summary>Examples (contexts) per batch in SAEBench's counting: the unit of the two limits below.</summary>
    public int BatchSizePrompts { get; init; } = 16;

    /// <summary>Batches of <see cref="BatchSizePrompts"/> examples of the test split over which CE/KL are measured; 0 = the whole split.</summary>
    public int NEvalReconstructionBatches { get; init; }

    /// <summary>Batches of <see cref="BatchSizePrompts"/> examples over which sparsity, variance and shrinkage are measured; 0 = the whole split.</summary>
    public int NEvalSparsityVarianceBatches { get; init; }

    /// <summary>Keep the original activation at special-token positions (BOS, EOS, padding) when the SAE is spliced in, as
    /// SAEBench's published runs do; they never count in any metric either way.</summary>
    public bool ExcludeSpecialTokensFromReconstruction { get; init; } = true;

    /// <summary>Measure the code of the decoder-norm-folded SAE, as SAEBench does before every evaluation
    /// (<see cref="DecoderNormFolding"/>): L1, encoder norms and encoder biases scale by the decoder-row norms; nothing
    /// else changes. Architectures whose selection folding would change (top-k with non-unit rows) stay unfolded.</summary>
    public bool FoldDecoderNorms { get; init; } = true;

    public override IEnumerable<string> Validate()
    {
        if (BatchTokens < 2) yield return $"batch_tokens: {BatchTokens} must be at least 2.";
        if (BatchSizePrompts < 1) yield return $"batch_size_prompts: {BatchSizePrompts} must be at least 1.";
        if (NEvalReconstructionBatches < 0) yield return $"n_eval_reconstruction_batches: {NEvalReconstructionBatches} must be ≥ 0 (0 = all).";
        if (NEvalSparsityVarianceBatches < 0) yield return $"n_eval_sparsity_variance_batches: {NEvalSparsityVarianceBatches} must be ≥ 0 (0 = all).";
    }
}

/// <summary>
/// Reconstruction, sparsity, shrinkage, downstream loss (CE/KL with the SAE spliced in and with zero ablation) and
/// per-latent geometry: every metric of SAEBench's <c>core</c> (see README.md). Special tokens (invalid rows) never count.
/// </summary>
public sealed class CoreEvaluator : Evaluator<CoreOptions>
{
    public override EvaluatorInfo Info { get; } = new("core", "Core", "Reconstruction, sparsity, shrinkage, downstream loss and per-latent statistics.", Version: "4");

    protected override IEvaluationJob Start(EvaluationContext context, CoreOptions options) => new Job(context, options);

    private sealed class Job(EvaluationContext context, CoreOptions options) : IEvaluationJob
    {
        private readonly DecoderNormFolding _folding = Folding(context, options);
        private readonly ReconstructionAccumulator _recon = new(context.Sae.DIn, context.Sae.DSae, options.BatchTokens,
            Folding(context, options) is { ChangesCodes: true } f ? f.Scales.ToArray() : null);
        private readonly ExampleFiring _examples = new(context.Sae.DSae);
        private readonly DownstreamLossAccumulator _loss = new();
        private readonly IDownstreamLoss? _forward = options.ComputeDownstreamLoss ? context.Model.Capability<IDownstreamLoss>() : null;
        private readonly long _reconExamples = (long)options.NEvalSparsityVarianceBatches * options.BatchSizePrompts;
        private readonly long _downstreamExamples = (long)options.NEvalReconstructionBatches * options.BatchSizePrompts;
        private long _seen;

        public void Observe(SaeBatch batch)
        {
            long first = _seen;
            _seen += batch.Source.ExampleCount;
            if (_reconExamples == 0 || first < _reconExamples)
            {
                var use = Within(batch, first, _reconExamples);
                _recon.Observe(batch.X, batch.XHat, batch.F, use, batch.Nonzeros);
                _examples.Observe(batch, use);
            }
            if (_forward is null || (_downstreamExamples > 0 && first >= _downstreamExamples)) return;
            var valid = Within(batch, first, _downstreamExamples);
            using var zeros = HostMatrix.Rent(batch.Rows, batch.X.Cols);
            using var spliced = Spliced(batch);
            var outcomes = _forward.Compare(batch.Source, [spliced.Value, zeros]);
            _loss.Observe(outcomes.Clean, outcomes.Replaced[0], outcomes.Replaced[1], valid);
        }

        /// <summary>The batch's validity mask, with examples past the limit (counted from the split's start) masked too.</summary>
        private static bool[] Within(SaeBatch batch, long first, long limit)
        {
            var valid = batch.Source.Valid.ToArray();
            if (limit == 0 || first + batch.Source.ExampleCount <= limit) return valid;
            int keepRows = (int)(limit - first) * batch.Source.Positions;
            Array.Fill(valid, false, keepRows, valid.Length - keepRows);
            return valid;
        }

        /// <summary>The SAE's output, or (in a copy: batch buffers are shared by every job) the original value at
        /// special-token rows when they are excluded.</summary>
        private Owned Spliced(SaeBatch batch)
        {
            var valid = batch.Source.Valid;
            if (!options.ExcludeSpecialTokensFromReconstruction || !valid.Contains(false)) return new Owned(batch.XHat, null);
            var copy = HostMatrix.Rent(batch.Rows, batch.XHat.Cols, clear: false);
            batch.XHat.Span.CopyTo(copy.Span);
            for (int r = 0; r < batch.Rows; r++)
                if (!valid[r]) batch.X.Row(r).CopyTo(copy.Row(r));
            return new Owned(copy, copy);
        }

        private readonly record struct Owned(HostMatrix Value, HostMatrix? Rented) : IDisposable
        {
            public void Dispose() => Rented?.Dispose();
        }

        public EvalResult Complete(CancellationToken cancellation)
        {
            var r = _recon.Result();
            var metrics = new List<MetricValue>
            {
                new(CoreMetrics.L0, r.L0),
                new(CoreMetrics.L1, r.L1),
                new(CoreMetrics.ExplainedVariance, r.ExplainedVariance),
                new(CoreMetrics.ExplainedVarianceLegacy, r.ExplainedVarianceLegacy),
                new(CoreMetrics.Mse, r.Mse),
                new(CoreMetrics.CosSim, r.CosSim),
                new(CoreMetrics.L2NormIn, r.L2NormIn),
                new(CoreMetrics.L2NormOut, r.L2NormOut),
                new(CoreMetrics.L2Ratio, r.L2Ratio),
                new(CoreMetrics.RelativeReconstructionBias, r.RelativeReconstructionBias),
            };
            var loss = _forward is null ? null : _loss.Result();
            if (loss is { } l)
            {
                metrics.AddRange([
                    new(CoreMetrics.CeLossWithoutSae, l.CeLossWithoutSae),
                    new(CoreMetrics.CeLossWithSae, l.CeLossWithSae),
                    new(CoreMetrics.CeLossWithAblation, l.CeLossWithAblation),
                    new(CoreMetrics.CeLossScore, l.CeLossScore),
                    new(CoreMetrics.KlDivWithSae, l.KlDivWithSae),
                    new(CoreMetrics.KlDivWithAblation, l.KlDivWithAblation),
                    new(CoreMetrics.KlDivScore, l.KlDivScore),
                ]);
            }
            metrics.AddRange([
                new(CoreMetrics.FracAlive, r.FracAlive),
                new(CoreMetrics.FracDead, r.FracDead),
                new(CoreMetrics.FreqOver1Percent, r.FreqOver1Percent),
                new(CoreMetrics.FreqOver10Percent, r.FreqOver10Percent),
                new(CoreMetrics.NormalizedFreqOver1Percent, r.NormalizedFreqOver1Percent),
                new(CoreMetrics.NormalizedFreqOver10Percent, r.NormalizedFreqOver10Percent),
            ]);

            var details = new List<JsonObject>();
            if (options.ComputeFeatureDetails)
            {
                cancellation.ThrowIfCancellationRequested();
                var p = context.Sae.Parameters;
                using var encT = p.WEnc.Transpose();          // [F, d_in]: row j = W_enc[:, j]
                // Folded: W_enc[:, j] and b_enc[j] (gated: b_mag[j]) scale by ‖W_dec[j]‖; cosines do not change.
                var encNorms = _folding.Apply(LatentGeometry.RowNorms(encT));
                var encDecCos = LatentGeometry.RowCosines(encT, p.WDec);
                var maxDec = LatentGeometry.MaxCosineToOthers(context.Backend, p.WDec);
                cancellation.ThrowIfCancellationRequested();
                var maxEnc = LatentGeometry.MaxCosineToOthers(context.Backend, encT);
                metrics.Add(new(CoreMetrics.AverageMaxEncoderCosineSim, maxEnc.Length > 1 ? maxEnc.Average() : null));
                metrics.Add(new(CoreMetrics.AverageMaxDecoderCosineSim, maxDec.Length > 1 ? maxDec.Average() : null));
                var bias = _folding.Apply(EncoderBias(context.Sae).Select(b => (double)b).ToArray());
                var consistency = _examples.ConsistentActivationHeuristic(_recon);
                for (int j = 0; j < context.Sae.DSae; j++)
                {
                    details.Add(new JsonObject
                    {
                        ["index"] = j,
                        ["feature_density"] = r.Densities[j],
                        ["consistent_activation_heuristic"] = JsonNumbers.Of(consistency[j]),
                        ["encoder_norm"] = encNorms[j],
                        ["encoder_bias"] = bias[j],
                        ["encoder_decoder_cosine_sim"] = encDecCos[j],
                        ["max_decoder_cosine_sim"] = context.Sae.DSae > 1 ? maxDec[j] : null,
                        ["max_encoder_cosine_sim"] = context.Sae.DSae > 1 ? maxEnc[j] : null,
                    });
                }
            }
            // SAEBench's meaning: "reconstruction" counts the tokens of the CE/KL (spliced-forward) pass, "sparsity_variance"
            // those of the sparsity/variance statistics.
            metrics.Add(MetricValue.Of(CoreMetrics.TotalTokensEvalReconstruction, loss?.KlTokens ?? 0));
            metrics.Add(MetricValue.Of(CoreMetrics.TotalTokensEvalSparsityVariance, r.Tokens));
            var unstructured = new JsonObject();
            _folding.WriteTo(unstructured);
            return new EvalResult(metrics, details, unstructured);
        }

        private static DecoderNormFolding Folding(EvaluationContext context, CoreOptions options) =>
            DecoderNormFolding.For(context.Sae, options.FoldDecoderNorms);

        /// <summary>The encoder bias SAEBench reports per latent: b_enc, or b_mag for gated SAEs (whose b_enc is unused).</summary>
        private static float[] EncoderBias(Sae sae)
        {
            var p = sae.Parameters;
            if (sae.Architecture == SaeArchitectures.Gated && p.BMag is { } bMag) return bMag;
            return p.BEnc.Length == sae.DSae ? p.BEnc : new float[sae.DSae];
        }
    }
}

/// <summary>
/// Per latent, the examples (contexts) in which it fires at least once on a counted row: the denominator of SAEBench's
/// <c>consistent_activation_heuristic</c> = firings / such examples (how many tokens of a context it fires on, on
/// average, when it fires in the context at all; 1 for one-position examples).
/// </summary>
internal sealed class ExampleFiring(int latents)
{
    private readonly long[] _examples = new long[latents];

    public void Observe(SaeBatch batch, ReadOnlySpan<bool> counted)
    {
        int p = batch.Source.Positions, f = _examples.Length;
        var fired = new bool[f];
        for (int e = 0; e < batch.Source.ExampleCount; e++)
        {
            Array.Clear(fired);
            for (int r = e * p; r < (e + 1) * p; r++)
            {
                if (!counted[r]) continue;
                if (batch.Nonzeros is { } sparse)
                {
                    var idx = sparse.RowIndices(r);
                    var val = sparse.RowValues(r);
                    for (int i = 0; i < idx.Length; i++) if (val[i] > 0) fired[idx[i]] = true;
                }
                else
                {
                    var row = batch.F.Row(r);
                    for (int j = 0; j < f; j++) if (row[j] > 0) fired[j] = true;
                }
            }
            for (int j = 0; j < f; j++) if (fired[j]) _examples[j]++;
        }
    }

    /// <summary>Firings per example-with-a-firing; 0 for a latent that never fires (SAEBench's 0/0 is NaN, which JSON cannot
    /// hold and its schema, a number, refuses; the latent's feature_density of 0 says it is dead).</summary>
    public double[] ConsistentActivationHeuristic(ReconstructionAccumulator recon)
    {
        var density = recon.Densities();
        return density.Select((d, j) => _examples[j] == 0 ? 0 : d * recon.Tokens / _examples[j]).ToArray();
    }
}

/// <summary>Descriptors of every core metric (SAEBench's categories and names).</summary>
public static class CoreMetrics
{
    private static MetricDescriptor D(string c, string n, string display, string unit, bool? higher) => new(c, n, display, unit, higher);

    public static readonly MetricDescriptor L0 = D("sparsity", "l0", "L0 (active latents per token)", "latents", null);
    public static readonly MetricDescriptor L1 = D("sparsity", "l1", "L1 of the code", "activation", null);
    public static readonly MetricDescriptor ExplainedVariance = D("reconstruction_quality", "explained_variance", "Explained variance", "fraction", true);
    public static readonly MetricDescriptor ExplainedVarianceLegacy = D("reconstruction_quality", "explained_variance_legacy", "Explained variance (SAEBench legacy)", "fraction", true);
    public static readonly MetricDescriptor Mse = D("reconstruction_quality", "mse", "MSE per element", "activation²", false);
    public static readonly MetricDescriptor CosSim = D("reconstruction_quality", "cossim", "Cosine similarity", "cosine", true);
    public static readonly MetricDescriptor L2NormIn = D("shrinkage", "l2_norm_in", "Mean ‖x‖", "activation", null);
    public static readonly MetricDescriptor L2NormOut = D("shrinkage", "l2_norm_out", "Mean ‖x̂‖", "activation", null);
    public static readonly MetricDescriptor L2Ratio = D("shrinkage", "l2_ratio", "Mean ‖x̂‖/‖x‖", "ratio", null);
    public static readonly MetricDescriptor RelativeReconstructionBias = D("shrinkage", "relative_reconstruction_bias", "Relative reconstruction bias", "ratio", null);
    public static readonly MetricDescriptor CeLossWithoutSae = D("model_performance_preservation", "ce_loss_without_sae", "CE loss (clean)", "nats", null);
    public static readonly MetricDescriptor CeLossWithSae = D("model_performance_preservation", "ce_loss_with_sae", "CE loss with SAE", "nats", false);
    public static readonly MetricDescriptor CeLossWithAblation = D("model_performance_preservation", "ce_loss_with_ablation", "CE loss with zero ablation", "nats", null);
    public static readonly MetricDescriptor CeLossScore = D("model_performance_preservation", "ce_loss_score", "Loss recovered (CE score)", "fraction", true);
    public static readonly MetricDescriptor KlDivWithSae = D("model_behavior_preservation", "kl_div_with_sae", "KL with SAE", "nats", false);
    public static readonly MetricDescriptor KlDivWithAblation = D("model_behavior_preservation", "kl_div_with_ablation", "KL with zero ablation", "nats", null);
    public static readonly MetricDescriptor KlDivScore = D("model_behavior_preservation", "kl_div_score", "KL score", "fraction", true);
    public static readonly MetricDescriptor FracAlive = D("misc_metrics", "frac_alive", "Fraction of latents alive", "fraction", true);
    public static readonly MetricDescriptor FracDead = D("misc_metrics", "frac_dead", "Fraction of latents dead", "fraction", false);
    public static readonly MetricDescriptor FreqOver1Percent = D("misc_metrics", "freq_over_1_percent", "Latents firing on >1% of tokens", "fraction", null);
    public static readonly MetricDescriptor FreqOver10Percent = D("misc_metrics", "freq_over_10_percent", "Latents firing on >10% of tokens", "fraction", false);
    public static readonly MetricDescriptor NormalizedFreqOver1Percent = D("misc_metrics", "normalized_freq_over_1_percent", "Firing mass of >1% latents", "fraction", null);
    public static readonly MetricDescriptor NormalizedFreqOver10Percent = D("misc_metrics", "normalized_freq_over_10_percent", "Firing mass of >10% latents", "fraction", null);
    public static readonly MetricDescriptor AverageMaxEncoderCosineSim = D("misc_metrics", "average_max_encoder_cosine_sim", "Mean max encoder cosine", "cosine", false);
    public static readonly MetricDescriptor AverageMaxDecoderCosineSim = D("misc_metrics", "average_max_decoder_cosine_sim", "Mean max decoder cosine", "cosine", false);
    public static readonly MetricDescriptor TotalTokensEvalReconstruction = D("token_stats", "total_tokens_eval_reconstruction", "Tokens (CE/KL with the SAE spliced in)", "tokens", null);
    public static readonly MetricDescriptor TotalTokensEvalSparsityVariance = D("token_stats", "total_tokens_eval_sparsity_variance", "Tokens (sparsity, variance)", "tokens", null);
}
