using SaeBench.TestKit;
using System.Text.Json.Nodes;
using SaeBench.Compute.Backends;
using SaeBench.Compute.Tensors;
using SaeBench.Core.Evaluation;
using SaeBench.Core.Running;
using SaeBench.Core.Autoencoders;
using SaeBench.Evals.CoreEval;

namespace SaeBench.Evals.Tests.CoreEval;

public class CoreEvaluatorTests
{
    private const int D = 6;
    private readonly FakeModel _model = FakeModelBuilder.Random(D, examples: 300, seed: 9, classes: 4, centred: true).Build();

    private EvalResult Run(SaeBench.Core.Autoencoders.Sae sae, JsonObject? options = null)
    {
        var ev = new CoreEvaluator();
        var context = new EvaluationContext(sae, "t", new Dictionary<string, string>(), _model, CpuBackend.Create(), 0, 64, TimeProvider.System);
        return SingleJob.Run(ev, ev.ParseOptions(options ?? []), context);
    }

    [Fact]
    public void Oracle_sae_explains_all_variance_and_recovers_all_loss()
    {
        var r = Run(SaeBench.Core.Autoencoders.Sae.Identity(D));
        Assert.Equal(1.0, r.Get("reconstruction_quality.explained_variance")!.Value, 9);
        Assert.Equal(1.0, r.Get("model_performance_preservation.ce_loss_score")!.Value, 9);
        Assert.Equal(1.0, r.Get("model_behavior_preservation.kl_div_score")!.Value, 9);
        Assert.Equal(0.0, r.Get("model_behavior_preservation.kl_div_with_sae")!.Value, 9);
        Assert.Equal(300, r.Get("token_stats.total_tokens_eval_reconstruction"));
    }

    [Fact]
    public void All_zero_sae_on_centred_data_explains_nothing_and_recovers_no_loss()
    {
        var sae = new SaeBench.Core.Autoencoders.Sae("relu", new SaeParameters
        {
            WEnc = new HostMatrix(D, 10), BEnc = new float[10], WDec = new HostMatrix(10, D), BDec = new float[D],
        });
        var r = Run(sae);
        Assert.Equal(0.0, r.Get("reconstruction_quality.explained_variance")!.Value, 6);
        Assert.Equal(0.0, r.Get("model_performance_preservation.ce_loss_score")!.Value, 9);
        Assert.Equal(0.0, r.Get("model_behavior_preservation.kl_div_score")!.Value, 9);
        Assert.Equal(0.0, r.Get("sparsity.l0")!.Value);
        Assert.Equal(1.0, r.Get("misc_metrics.frac_dead")!.Value);
    }

    /// <summary>A latent that never fires has no examples to average over: SAEBench's 0/0 would be NaN, which its schema
    /// (a number) refuses, so it is 0 — and its density of 0 says it is dead. A latent firing on every one-position example
    /// fires once per example with a firing: 1.</summary>
    [Fact]
    public void A_dead_latent_has_a_consistent_activation_heuristic_of_zero_and_the_file_validates()
    {
        var wEnc = new HostMatrix(D, 2);
        wEnc[0, 1] = 1;
        var sae = new SaeBench.Core.Autoencoders.Sae("relu", new SaeParameters { WEnc = wEnc, BEnc = [-1e6f, 1e6f], WDec = wEnc.Transpose(), BDec = new float[D] });
        var ev = new CoreEvaluator();
        var options = ev.ParseOptions([]);
        var context = new EvaluationContext(sae, "t", new Dictionary<string, string>(), _model, CpuBackend.Create(), 0, 64, TimeProvider.System);
        var r = SingleJob.Run(ev, options, context);
        Assert.Equal(0.0, r.Details[0]["feature_density"]!.GetValue<double>());
        Assert.Equal(0.0, r.Details[0]["consistent_activation_heuristic"]!.GetValue<double>());
        Assert.Equal(1.0, r.Details[1]["consistent_activation_heuristic"]!.GetValue<double>(), 9);
        SaeBenchSchemas.AssertValid("core", SaeBench.Evals.Tests.Schemas.ResultFiles.Of(ev, options, r, context));
    }

    [Fact]
    public void Details_have_one_row_per_latent_with_hand_checkable_geometry()
    {
        // latents 0 and 1 share a decoder direction (max decoder cosine 1); encoder = decoder transposed (enc/dec cosine 1)
        var dec = new HostMatrix(3, D);
        dec[0, 0] = 1; dec[1, 0] = 2; dec[2, 1] = 1;
        var sae = new SaeBench.Core.Autoencoders.Sae("relu", new SaeParameters { WEnc = dec.Transpose(), BEnc = [0.5f, 0, -1], WDec = dec, BDec = new float[D] });
        var r = Run(sae);
        Assert.Equal(3, r.Details.Count);
        Assert.Equal(1.0, r.Details[0]["max_decoder_cosine_sim"]!.GetValue<double>(), 6);
        Assert.Equal(0.0, r.Details[2]["max_decoder_cosine_sim"]!.GetValue<double>(), 6);
        // Folded (SAEBench's fold_W_dec_norm): ‖W_enc[:, 1]‖ = 2 times ‖W_dec[1]‖ = 2; unfolded, 2.
        Assert.Equal(4.0, r.Details[1]["encoder_norm"]!.GetValue<double>(), 6);
        Assert.Equal(2.0, Run(sae, new JsonObject { ["fold_decoder_norms"] = false }).Details[1]["encoder_norm"]!.GetValue<double>(), 6);
        Assert.Equal(1.0, r.Details[2]["encoder_decoder_cosine_sim"]!.GetValue<double>(), 6);
        Assert.Equal(0.5, r.Details[0]["encoder_bias"]!.GetValue<double>(), 6);
        Assert.Equal((1.0 + 1 + 0) / 3, r.Get("misc_metrics.average_max_decoder_cosine_sim")!.Value, 6);
    }

    [Fact]
    public void L1_is_that_of_the_decoder_norm_folded_code_computed_by_hand()
    {
        // f = ReLU(x) (W_enc = I), x̂ = Σ_j f_j·n_j·e_j: the folded code is f_j·n_j, so l1 = mean_t Σ_j n_j·ReLU(x_tj).
        float[] norms = [2f, 0.5f, 1f, 3f, 0.25f, 1.5f];
        var enc = new HostMatrix(D, D);
        var dec = new HostMatrix(D, D);
        for (int j = 0; j < D; j++) { enc[j, j] = 1; dec[j, j] = norms[j]; }
        var sae = new SaeBench.Core.Autoencoders.Sae("relu", new SaeParameters { WEnc = enc, BEnc = new float[D], WDec = dec, BDec = new float[D] });
        double folded = 0, raw = 0;
        long tokens = 0;
        foreach (var batch in _model.Activations(SaeBench.Core.Models.Split.Test).Batches(1000))
            using (batch)
                for (int r = 0; r < batch.Rows; r++)
                {
                    if (!batch.Valid[r]) continue;
                    tokens++;
                    for (int j = 0; j < D; j++) { double v = Math.Max(0, batch.Activations[r, j]); folded += norms[j] * v; raw += v; }
                }
        var result = Run(sae);
        Assert.Equal(folded / tokens, result.Get("sparsity.l1")!.Value, 9);
        Assert.True(result.Unstructured!["decoder_norms_folded"]!.GetValue<bool>());
        Assert.Equal(raw / tokens, Run(sae, new JsonObject { ["fold_decoder_norms"] = false }).Get("sparsity.l1")!.Value, 9);
    }

    [Fact]
    public void Folding_in_the_evaluator_equals_evaluating_the_folded_sae()
    {
        // Invariant: the codes of the folded SAE are what the evaluator measures; the folded SAE is built independently
        // (Sae.FoldDecoderNorms scales W_enc, b_enc and divides W_dec) and evaluated without folding.
        var rng = new Random(4);
        var enc = new HostMatrix(D, 9);
        var dec = new HostMatrix(9, D);
        var bias = new float[9];
        for (int j = 0; j < 9; j++)
        {
            bias[j] = (float)(rng.NextDouble() - 0.7);
            for (int i = 0; i < D; i++) { enc[i, j] = (float)(rng.NextDouble() - 0.5); dec[j, i] = (float)(2 * rng.NextDouble() - 1) * (j + 1) / 3f; }
        }
        var sae = new SaeBench.Core.Autoencoders.Sae("relu", new SaeParameters { WEnc = enc, BEnc = bias, WDec = dec, BDec = new float[D] });
        var inEvaluator = Run(sae);
        var beforehand = Run(sae.FoldDecoderNorms(), new JsonObject { ["fold_decoder_norms"] = false });
        Assert.Equal(beforehand.Get("sparsity.l1")!.Value, inEvaluator.Get("sparsity.l1")!.Value, 5);
        Assert.Equal(beforehand.Get("sparsity.l0")!.Value, inEvaluator.Get("sparsity.l0")!.Value, 12);
        for (int j = 0; j < 9; j++)
        {
            Assert.Equal(beforehand.Details[j]["encoder_norm"]!.GetValue<double>(), inEvaluator.Details[j]["encoder_norm"]!.GetValue<double>(), 5);
            Assert.Equal(beforehand.Details[j]["encoder_bias"]!.GetValue<double>(), inEvaluator.Details[j]["encoder_bias"]!.GetValue<double>(), 5);
        }
        Assert.NotEqual(Run(sae, new JsonObject { ["fold_decoder_norms"] = false }).Get("sparsity.l1")!.Value, inEvaluator.Get("sparsity.l1")!.Value, 3);
    }

    [Fact]
    public void A_gated_sae_reports_b_mag_as_its_encoder_bias_scaled_by_folding()
    {
        // SAEBench reports b_mag for gated SAEs (their b_enc is unused); folded, times ‖W_dec[j]‖ (here 1 and 2).
        var enc = new HostMatrix(D, D);
        var dec = new HostMatrix(D, D);
        for (int j = 0; j < D; j++) { enc[j, j] = 1; dec[j, j] = j % 2 == 0 ? 1 : 2; }
        float[] bMag = [0.5f, -0.25f, 0.125f, 1f, -1f, 0f];
        var sae = new SaeBench.Core.Autoencoders.Sae("gated", new SaeParameters
        {
            WEnc = enc, BEnc = new float[D], WDec = dec, BDec = new float[D],
            BGate = new float[D], RMag = new float[D], BMag = bMag,
        });
        var folded = Run(sae);
        var unfolded = Run(sae, new JsonObject { ["fold_decoder_norms"] = false });
        for (int j = 0; j < D; j++)
        {
            Assert.Equal(bMag[j], unfolded.Details[j]["encoder_bias"]!.GetValue<double>(), 9);
            Assert.Equal(bMag[j] * (j % 2 == 0 ? 1 : 2), folded.Details[j]["encoder_bias"]!.GetValue<double>(), 9);
        }
    }

    [Fact]
    public void A_top_k_sae_with_non_unit_rows_is_not_folded_and_says_so()
    {
        var dec = new HostMatrix(D, D);
        var enc = new HostMatrix(D, D);
        for (int j = 0; j < D; j++) { enc[j, j] = 1; dec[j, j] = j + 1; }
        var sae = new SaeBench.Core.Autoencoders.Sae("topk", new SaeParameters { WEnc = enc, BEnc = new float[D], WDec = dec, BDec = new float[D], K = 2 });
        var r = Run(sae);
        Assert.False(r.Unstructured!["decoder_norms_folded"]!.GetValue<bool>());
        Assert.Contains("topk", r.Unstructured!["decoder_norm_folding"]!.GetValue<string>());
        Assert.Equal(Run(sae, new JsonObject { ["fold_decoder_norms"] = false }).Get("sparsity.l1")!.Value, r.Get("sparsity.l1")!.Value, 12);
    }

    [Fact]
    public void Options_can_turn_off_details_and_downstream_loss()
    {
        var r = Run(SaeBench.Core.Autoencoders.Sae.Identity(D), new JsonObject { ["compute_feature_details"] = false, ["compute_downstream_loss"] = false });
        Assert.Empty(r.Details);
        Assert.Null(r.Get("model_performance_preservation.ce_loss_score"));
        Assert.NotNull(r.Get("reconstruction_quality.explained_variance"));
    }
}
