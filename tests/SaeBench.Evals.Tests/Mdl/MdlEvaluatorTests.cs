using SaeBench.Core.Models;
using SaeBench.TestKit;
using System.Text.Json.Nodes;
using SaeBench.Compute.Backends;
using SaeBench.Compute.Tensors;
using SaeBench.Core.Configuration;
using SaeBench.Core.Evaluation;
using SaeBench.Core.Running;
using SaeBench.Core.Autoencoders;
using SaeBench.Evals.Mdl;

namespace SaeBench.Evals.Tests.Mdl;

public class MdlEvaluatorTests
{
    private static double Hb(double p) => -(p * Math.Log2(p) + (1 - p) * Math.Log2(1 - p));

    /// <summary>A ReLU SAE with W_enc = W_dec = I: the code is the (non-negative) input itself and decodes exactly.</summary>
    private static Sae IdentityRelu(int d)
    {
        var eye = new HostMatrix(d, d);
        for (int i = 0; i < d; i++) eye[i, i] = 1f;
        return new Sae("relu", new SaeParameters { WEnc = eye, BEnc = new float[d], WDec = eye.Clone(), BDec = new float[d] });
    }

    private static EvalResult Run(float[,] test, int batchRows, JsonObject options)
    {
        int n = test.GetLength(0);
        var model = FakeModelBuilder.Create(test.GetLength(1)).WithSplit(Split.Train, test, new int[n]).WithSplit(Split.Test, test, new int[n]).Build();
        var sae = IdentityRelu(test.GetLength(1));
        var context = new EvaluationContext(sae, "id", new Dictionary<string, string>(), model, CpuBackend.Create(), 1, batchRows, TimeProvider.System);
        var evaluator = new MdlEvaluator();
        return SingleJob.Run(evaluator, evaluator.ParseOptions(options), context);
    }

    /// <summary>
    /// 64 tokens, 2 latents. Latent 0 fires on 32 tokens with values 0.1, 0.3, 0.6, 1.0 (8 each: one per bin of B = 4 on
    /// [0, 1]); latent 1 fires on 16 tokens with value 2.0 (one bin). DL = H_b(½) + ½·2 + H_b(¼) + ¼·0 bits.
    /// </summary>
    private static float[,] KnownCodes()
    {
        var x = new float[64, 2];
        float[] values = [0.1f, 0.3f, 0.6f, 1.0f];
        for (int t = 0; t < 32; t++) x[t, 0] = values[t % 4];
        for (int t = 0; t < 16; t++) x[2 * t + 1, 1] = 2.0f;
        return x;
    }

    [Theory]
    [InlineData(7)]    // several batches, uneven
    [InlineData(1024)] // one batch
    public void Description_length_of_constructed_codes_matches_the_closed_form(int batchRows)
    {
        var r = Run(KnownCodes(), batchRows, new JsonObject { ["bins"] = new JsonArray(4), ["fvu_target"] = 0.5 });

        double expected = Hb(0.5) + 0.5 * 2 + Hb(0.25) + 0.25 * 0;
        Assert.Equal(expected, r.Get("mdl.description_length_bits")!.Value, 9);
        Assert.Equal(0.75 * (Math.Log2(2) + Math.Log2(4)), r.Get("mdl.naive_description_length_bits")!.Value, 9);
        Assert.Equal(4.0, r.Get("mdl.bins"));
        Assert.Equal(0, r.Get("mdl.fvu")!.Value, 12);
        // Quantised to midpoints: 0.1→0.125, 0.3→0.375, 0.6→0.625, 1.0→0.875 (8 each); 2.0→1.75 (16).
        // SSE = 8·(0.025² + 0.075² + 0.025² + 0.125²) + 16·0.25² = 1.18; total SS = 7.68 + 48 = 55.68.
        Assert.Equal(1.18 / 55.68, r.Get("mdl.fvu_quantised")!.Value, 6);
        var ratio = r.Get("mdl.compression_ratio");
        var raw = r.Get("mdl.raw_description_length_bits");
        Assert.NotNull(raw);
        Assert.Equal(raw!.Value / expected, ratio!.Value, 9);
        Assert.Single(r.Details);
        Assert.Equal(4, (int)r.Details[0]["bins"]!);
    }

    [Fact]
    public void Every_sae_is_measured_at_the_common_target_and_one_that_cannot_reach_it_is_excluded()
    {
        // Latent 0 takes 8 equally spaced values up to 1; with B bins the error shrinks as B grows.
        var x = new float[80, 1];
        for (int t = 0; t < 80; t++) x[t, 0] = t % 10 < 8 ? (t % 10 + 1) / 8f : 0f;
        var loose = Run(x, 16, new JsonObject { ["fvu_target"] = 0.5 });
        Assert.Equal(2.0, loose.Get("mdl.bins"));
        Assert.True((bool)loose.Unstructured!["met_at_coarsest_precision"]!);
        // Values k/8 sit on bin edges of B = 8 (each in its own bin) but never on midpoints: FVU_q never reaches 1e-9.
        var tight = Run(x, 16, new JsonObject { ["fvu_target"] = 1e-9 });
        Assert.False((bool)tight.Unstructured!["meets_target"]!);
        Assert.Null(tight.Get("mdl.description_length_bits"));
        Assert.Null(tight.Get("mdl.bins"));
        Assert.Contains("excluded", (string)tight.Unstructured!["status"]!);
        // Between the two: interpolated, so the precision is not a grid value.
        var middle = Run(x, 16, new JsonObject { ["fvu_target"] = 0.003 });
        Assert.True((bool)middle.Unstructured!["meets_target"]!);
        Assert.Equal(0.003, middle.Get("mdl.fvu_quantised")!.Value, 9);
        Assert.True(loose.Get("mdl.description_length_bits") < middle.Get("mdl.description_length_bits"));
        Assert.DoesNotContain(middle.Get("mdl.bins")!.Value, new double[] { 2, 4, 8, 16, 32, 64, 128 });
    }

    [Fact]
    public void More_active_latents_at_the_same_error_cost_more_bits()
    {
        var a = KnownCodes();
        var b = new float[64, 3];
        for (int t = 0; t < 64; t++)
        {
            b[t, 0] = a[t, 0];
            b[t, 1] = a[t, 1];
            b[t, 2] = t % 2 == 0 ? 1f : 0f;
        }
        var options = new JsonObject { ["bins"] = new JsonArray(4), ["fvu_target"] = 0.5 };
        var ra = Run(a, 64, options.DeepClone().AsObject());
        var rb = Run(b, 64, options);
        Assert.Equal(0, rb.Get("mdl.fvu")!.Value, 12);
        Assert.Equal(ra.Get("mdl.description_length_bits")!.Value + Hb(0.5), rb.Get("mdl.description_length_bits")!.Value, 9);
    }

    [Fact]
    public void Invalid_options_name_the_field()
    {
        var e = Assert.Throws<ConfigException>(() => new MdlEvaluator().ParseOptions(new JsonObject { ["bins"] = new JsonArray(4, 2) }));
        Assert.Contains("bins", e.Message);
        e = Assert.Throws<ConfigException>(() => new MdlEvaluator().ParseOptions(new JsonObject { ["fvu_target"] = -1 }));
        Assert.Contains("fvu_target", e.Message);
    }
}
