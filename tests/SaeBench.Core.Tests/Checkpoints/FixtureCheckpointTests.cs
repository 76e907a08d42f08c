using SaeBench.Compute.Backends;
using SaeBench.Compute.Tensors;
using SaeBench.Core.Checkpoints;

namespace SaeBench.Core.Tests.Checkpoints;

/// <summary>Every checkpoint the real tools wrote loads, and encodes the fixture inputs as the reference implementation did.</summary>
public class FixtureCheckpointTests
{
    private static readonly ComputeBackend Backend = CpuBackend.Create();

    public static TheoryData<string> Manifest() => new(Fixtures.Checkpoints().Select(c => c.Path));

    [Theory]
    [MemberData(nameof(Manifest))]
    public void Loads_with_the_manifest_format_and_architecture(string path)
    {
        var entry = Fixtures.Checkpoints().Single(c => c.Path == path);
        var loaded = CheckpointLoader.Load(Fixtures.PathOf(path));
        Assert.Equal(entry.Format, loaded.Info.Format);
        Assert.Equal(entry.Architecture, loaded.Info.Architecture);
        Assert.Equal(entry.Architecture, loaded.Sae.Architecture);
        Assert.Equal(16, loaded.Info.DIn);
        Assert.Equal(64, loaded.Info.DSae);
        Assert.Matches("^[0-9a-f]{64}$", loaded.Info.Sha256);
    }

    [Theory]
    [MemberData(nameof(Manifest))]
    public void Encode_and_decode_reproduce_the_expected_outputs(string path)
    {
        var entry = Fixtures.Checkpoints().Single(c => c.Path == path);
        var sae = CheckpointLoader.Load(Fixtures.PathOf(path)).Sae;
        var x = Fixtures.Inputs();
        var (expectedF, expectedXHat) = Fixtures.Expected(entry.Expected);
        var f = new HostMatrix(x.Rows, sae.DSae);
        var xHat = new HostMatrix(x.Rows, sae.DIn);
        sae.Encode(Backend, x, f);
        sae.Decode(Backend, f, xHat);
        Some.Close(expectedF, f, 1e-4, $"{path} f");
        Some.Close(expectedXHat, xHat, 1e-4, $"{path} x_hat");
    }

    [Theory]
    [MemberData(nameof(Manifest))]
    public void Inspect_streams_the_same_facts_that_loading_reports(string path)
    {
        var loaded = CheckpointLoader.Load(Fixtures.PathOf(path)).Info;
        var inspected = CheckpointLoader.Inspect(Fixtures.PathOf(path));
        Assert.Equal(loaded.Sha256, inspected.Sha256);
        Assert.Equal(loaded.Architecture, inspected.Architecture);
        Assert.Equal(loaded.K, inspected.K);
        Assert.Equal(loaded.DecoderNorms!.Min, inspected.DecoderNorms!.Min, 5);
        Assert.Equal(loaded.DecoderNorms!.Max, inspected.DecoderNorms!.Max, 5);
        Assert.Equal(loaded.DecoderNorms!.Mean, inspected.DecoderNorms!.Mean, 5);
    }

    [Fact]
    public void Sha256_is_the_hash_of_config_then_weights()
    {
        var dir = Fixtures.PathOf("saelens_v6/topk");
        var bytes = File.ReadAllBytes(Path.Combine(dir, "cfg.json")).Concat(File.ReadAllBytes(Path.Combine(dir, "sae_weights.safetensors"))).ToArray();
        string expected = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(bytes));
        Assert.Equal(expected, CheckpointLoader.Load(dir).Info.Sha256);
    }

    [Fact]
    public void Details_of_each_format_are_read()
    {
        var dl = CheckpointLoader.Load(Fixtures.PathOf("dictionary_learning/matryoshka")).Info;
        Assert.Equal([8, 8, 16, 32], dl.GroupSizes!);
        Assert.Equal(8, dl.K);
        Assert.NotNull(dl.ScalarThreshold);
        Assert.Equal("EleutherAI/pythia-70m-deduped", dl.ModelName);

        var topk = CheckpointLoader.Load(Fixtures.PathOf("dictionary_learning/topk/ae.pt")).Info;
        Assert.Equal(8, topk.K);

        var sl5 = CheckpointLoader.Load(Fixtures.PathOf("saelens_v5/topk")).Info;
        Assert.Equal("v5", sl5.FormatVersion);
        Assert.Equal(8, sl5.K);
        Assert.Equal("blocks.4.hook_resid_pre", sl5.HookName);
        Assert.Contains(sl5.Files, f => f.EndsWith("sparsity.safetensors"));

        var sparsify = CheckpointLoader.Load(Fixtures.PathOf("sparsify/layers.4")).Info;
        Assert.Equal("bfloat16", sparsify.Dtype);

        var jump = CheckpointLoader.Load(Fixtures.PathOf("saelens_v6/jumprelu")).Info;
        Assert.NotNull(jump.Threshold);
        Assert.False(jump.ApplyBDecToInput);
        // SAELens's "standard" is a ReLU SAE under another spelling: no name of its own, so reports do not split the relu series.
        var standard = CheckpointLoader.Load(Fixtures.PathOf("saelens_v6/standard")).Info;
        Assert.Equal("relu", standard.Architecture);
        Assert.Null(standard.ArchitectureName);
        // A v5 TopK checkpoint declares "architecture": "standard" and "activation_fn_str": "topk": it is topk, not standard.
        Assert.Equal("topk", sl5.Architecture);
        Assert.Null(sl5.ArchitectureName);
    }
}
