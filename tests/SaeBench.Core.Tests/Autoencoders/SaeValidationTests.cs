using SaeBench.Compute.Tensors;
using SaeBench.Core.Autoencoders;

namespace SaeBench.Core.Tests.Autoencoders;

public class SaeValidationTests
{
    [Fact]
    public void Aliases_map_to_canonical_ids()
    {
        Assert.Equal("relu", SaeArchitectures.Canonical("standard"));
        Assert.Equal("relu", SaeArchitectures.Canonical("p_anneal"));
        Assert.Equal("relu", SaeArchitectures.Canonical("standard_april_update"));
        var e = Assert.Throws<ArgumentException>(() => SaeArchitectures.Canonical("topkk"));
        Assert.Contains("did you mean 'topk'", e.Message);
    }

    [Fact]
    public void The_given_alias_is_kept_in_the_config()
    {
        var sae = new Sae("p_anneal", Some.Sae("relu").Parameters);
        Assert.Equal("relu", sae.Architecture);
        Assert.Equal("p_anneal", sae.Config.ArchitectureName);
    }

    [Fact]
    public void Weights_that_disagree_are_refused_naming_the_field()
    {
        var p = Some.Sae("relu").Parameters.Clone();
        p.WDec = new HostMatrix(p.DSae + 1, p.DIn);
        Assert.Contains("W_dec", Assert.Throws<ArgumentException>(() => new Sae("relu", p)).Message);
        p = Some.Sae("relu").Parameters.Clone();
        p.BDec = new float[3];
        Assert.Contains("b_dec", Assert.Throws<ArgumentException>(() => new Sae("relu", p)).Message);
        p = Some.Sae("relu").Parameters.Clone();
        Assert.Contains("threshold", Assert.Throws<ArgumentException>(() => new Sae("jumprelu", p)).Message);
        Assert.Contains("k", Assert.Throws<ArgumentException>(() => new Sae("topk", p)).Message);
        Assert.Contains("b_gate", Assert.Throws<ArgumentException>(() => new Sae("gated", p)).Message);
        p.K = 5;
        p.GroupSizes = [1, 2];
        Assert.Contains("group_sizes", Assert.Throws<ArgumentException>(() => new Sae("matryoshka_batchtopk", p)).Message);
        // Sizes from a file whose sum overflows an int once threw OverflowException (found by the fuzz tests).
        p.GroupSizes = [int.MaxValue, int.MaxValue, 2];
        Assert.Contains("group_sizes", Assert.Throws<ArgumentException>(() => new Sae("matryoshka_batchtopk", p)).Message);
    }
}
