using SaeBench.Compute.Backends;
using SaeBench.Compute.Tensors;
using SaeBench.Core.Autoencoders;

namespace SaeBench.Core.Tests.Autoencoders;

public class SaeFoldingTests
{
    private static readonly ComputeBackend Backend = CpuBackend.Create();

    [Theory]
    [InlineData("relu")]
    [InlineData("jumprelu")]
    [InlineData("gated")]
    [InlineData("batchtopk")]
    [InlineData("matryoshka_batchtopk")]
    [InlineData("mutual_choice")]
    [InlineData("feature_choice")]
    public void Folding_gives_unit_rows_scaled_codes_and_the_same_reconstruction(string architecture)
    {
        var sae = Some.Sae(architecture);
        var norms = sae.DecoderNorms();
        Assert.Contains(norms, n => Math.Abs(n - 1) > 0.1);
        var folded = sae.FoldDecoderNorms();
        Assert.All(folded.DecoderNorms(), n => Assert.Equal(1f, n, 1e-5f));

        var x = Some.Matrix(15, sae.DIn, seed: 21);
        var f = new HostMatrix(15, sae.DSae);
        var g = new HostMatrix(15, sae.DSae);
        sae.Encode(Backend, x, f);
        folded.Encode(Backend, x, g);
        var scaled = f.Clone();
        for (int t = 0; t < 15; t++) for (int j = 0; j < sae.DSae; j++) scaled[t, j] *= norms[j];
        Some.Close(scaled, g, 1e-4, "folded f");

        var r1 = new HostMatrix(15, sae.DIn);
        var r2 = new HostMatrix(15, sae.DIn);
        sae.Decode(Backend, f, r1);
        folded.Decode(Backend, g, r2);
        Some.Close(r1, r2, 1e-4, "folded x_hat");
        Assert.NotSame(sae.Parameters, folded.Parameters);
    }

    [Fact]
    public void Top_k_with_non_unit_rows_cannot_be_folded_but_unit_rows_can()
    {
        var sae = Some.Sae("topk");
        var e = Assert.Throws<InvalidOperationException>(() => sae.FoldDecoderNorms());
        Assert.Contains("topk", e.Message);
        var unit = sae.FoldDecoderNormsOf(Some.Sae("relu"));
        Assert.All(unit.FoldDecoderNorms().DecoderNorms(), n => Assert.Equal(1f, n, 1e-5f));
    }
}

internal static class FoldingTestExtensions
{
    /// <summary>A top-k SAE whose decoder has the unit rows of <paramref name="relu"/>'s folded decoder.</summary>
    public static Sae FoldDecoderNormsOf(this Sae topk, Sae relu)
    {
        var p = topk.Parameters.Clone();
        p.WDec = relu.FoldDecoderNorms().Parameters.WDec;
        return new Sae("topk", p);
    }
}
