using SaeBench.Evals.Shared;
using System.Text.Json.Nodes;
using SaeBench.Compute.Tensors;
using SaeBench.Core.Evaluation;
using SaeBench.Core.Models;

namespace SaeBench.Evals.CoreEval;

/// <summary>Options of the <c>core</c> evaluator.</summary>
public sealed record CoreOptions : EvaluatorOptions
{
    /// <summary>Tokens per batch of <c>explained_variance_legacy</c> (SAEBench's batch size).</summary>
    public int BatchTokens { get; init; } = 2048;

    /// <summary>Compute CE/KL through the model's forward pass from the hook, when it has one.</summary>
    public bool ComputeDownstreamLoss { get; init; } = true;

    /// <summary>Per-latent details and the max-cosine metrics (an F×F computation, done in blocks).</summary>
    public bool ComputeFeatureDetails { get; init; } = true;

    public override IEnumerable<string> Validate()
    {
        if (BatchTokens < 2) yield return $"batch_tokens: {BatchTokens} must be at least 2.";
    }
}

/// <summary>
/// Reconstruction, sparsity, shrinkage, downstream loss (CE/KL with the SAE spliced in and with zero ablation) and
/// per-latent geometry: every metric of METRICS.md <c>core</c>.
/// </summary>
public sealed class CoreEvaluator : Evaluator<CoreOptions>
{
    public override EvaluatorInfo Info { get; } = new("core", "Core", "Reconstruction, sparsity, shrinkage, downstream loss and per-latent statistics.", Version: "1");

    protected override IEvaluationJob Start(EvaluationContext context, CoreOptions options) => new Job(context, options);

    private sealed class Job(EvaluationContext context, CoreOptions options) : IEvaluationJob
    {
        private readonly ReconstructionAccumulator _recon = new(context.Sae.DIn, context.Sae.DSae, options.BatchTokens);
        private readonly DownstreamLossAccumulator _loss = new();
        private readonly IDownstreamLoss? _forward = options.ComputeDownstreamLoss ? context.Model.Capability<IDownstreamLoss>() : null;

        public void Observe(SaeBatch batch)
        {
            _recon.Observe(batch.X, batch.XHat, batch.F, batch.Source.Valid, batch.Nonzeros);
            if (_forward is null) return;
            using var zeros = HostMatrix.Rent(batch.Rows, batch.X.Cols);
            var outcomes = _forward.Compare(batch.Source, [batch.XHat, zeros]);
            _loss.Observe(outcomes.Clean, outcomes.Replaced[0], outcomes.Replaced[1], batch.Source.Valid);
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
            if (_forward is not null)
            {
                var l = _loss.Result();
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
                var encNorms = LatentGeometry.RowNorms(encT);
                var encDecCos = LatentGeometry.RowCosines(encT, p.WDec);
                var maxDec = LatentGeometry.MaxCosineToOthers(context.Backend, p.WDec);
                cancellation.ThrowIfCancellationRequested();
                var maxEnc = LatentGeometry.MaxCosineToOthers(context.Backend, encT);
                metrics.Add(new(CoreMetrics.AverageMaxEncoderCosineSim, maxEnc.Length > 1 ? maxEnc.Average() : null));
                metrics.Add(new(CoreMetrics.AverageMaxDecoderCosineSim, maxDec.Length > 1 ? maxDec.Average() : null));
                var bias = p.BEnc.Length == context.Sae.DSae ? p.BEnc : new float[context.Sae.DSae];
                for (int j = 0; j < context.Sae.DSae; j++)
                {
                    details.Add(new JsonObject
                    {
                        ["index"] = j,
                        ["feature_density"] = r.Densities[j],
                        ["encoder_norm"] = encNorms[j],
                        ["encoder_bias"] = (double)bias[j],
                        ["encoder_decoder_cosine_sim"] = encDecCos[j],
                        ["max_decoder_cosine_sim"] = context.Sae.DSae > 1 ? maxDec[j] : null,
                        ["max_encoder_cosine_sim"] = context.Sae.DSae > 1 ? maxEnc[j] : null,
                    });
                }
            }
            metrics.Add(MetricValue.Of(CoreMetrics.TotalTokensEvalReconstruction, r.Tokens));
            if (_forward is not null) metrics.Add(MetricValue.Of(CoreMetrics.TotalTokensEvalSparsityVariance, _loss.Result().KlTokens));
            return new EvalResult(metrics, details);
        }
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
    public static readonly MetricDescriptor TotalTokensEvalReconstruction = D("token_stats", "total_tokens_eval_reconstruction", "Tokens (reconstruction)", "tokens", null);
    public static readonly MetricDescriptor TotalTokensEvalSparsityVariance = D("token_stats", "total_tokens_eval_downstream", "Tokens (downstream loss)", "tokens", null);
}
