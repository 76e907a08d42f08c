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
        Assert.Equal(2.0, r.Details[1]["encoder_norm"]!.GetValue<double>(), 6);
        Assert.Equal(1.0, r.Details[2]["encoder_decoder_cosine_sim"]!.GetValue<double>(), 6);
        Assert.Equal(0.5, r.Details[0]["encoder_bias"]!.GetValue<double>(), 6);
        Assert.Equal((1.0 + 1 + 0) / 3, r.Get("misc_metrics.average_max_decoder_cosine_sim")!.Value, 6);
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
