using SaeBench.TestKit;
using System.Text.Json.Nodes;
using SaeBench.Core.Checkpoints;
using SaeBench.Core.Autoencoders;

namespace SaeBench.Core.Tests.Checkpoints;

public class NativeRoundTripTests
{
    public static TheoryData<string> Architectures() => new(SaeArchitectures.All.Where(a => a != SaeArchitectures.Pca));

    [Theory]
    [MemberData(nameof(Architectures))]
    public void Write_then_read_gives_identical_tensors(string architecture)
    {
        using var dir = new TempDirectory();
        var sae = Some.Sae(architecture);
        sae.Config.ModelName = "fmnist-mlp";
        sae.Config.HookName = "hidden.1";
        sae.Config.ContextSize = 1;
        sae.Config.Metadata["target_l0"] = 32;
        sae.Config.Metadata["trainer"] = new JsonObject { ["lr"] = 0.001, ["seed"] = 7 };
        NativeCheckpointWriter.Write(dir.Path, sae);

        var loaded = CheckpointLoader.Load(dir.Path);
        Assert.Equal("saelens", loaded.Info.Format);
        Assert.Equal("v6", loaded.Info.FormatVersion);
        var a = sae.Parameters;
        var b = loaded.Sae.Parameters;
        Assert.Equal(sae.Architecture, loaded.Sae.Architecture);
        Assert.Equal(a.WEnc.ToArray(), b.WEnc.ToArray());
        Assert.Equal(a.WDec.ToArray(), b.WDec.ToArray());
        Assert.Equal(a.BEnc, b.BEnc);
        Assert.Equal(a.BDec, b.BDec);
        Assert.Equal(a.Threshold, b.Threshold);
        Assert.Equal(a.ScalarThreshold, b.ScalarThreshold);
        Assert.Equal(a.BGate, b.BGate);
        Assert.Equal(a.RMag, b.RMag);
        Assert.Equal(a.BMag, b.BMag);
        Assert.Equal(a.K, b.K);
        Assert.Equal(a.ApplyBDecToInput, b.ApplyBDecToInput);
        Assert.Equal(a.InputScale, b.InputScale);
        Assert.Equal(a.GroupSizes, b.GroupSizes);
        Assert.Equal("fmnist-mlp", loaded.Sae.Config.ModelName);
        Assert.Equal("hidden.1", loaded.Sae.Config.HookName);
        Assert.Equal(1, loaded.Sae.Config.ContextSize);
        Assert.Equal(32, loaded.Sae.Config.Metadata["target_l0"]!.GetValue<int>());
        Assert.Equal(7, loaded.Sae.Config.Metadata["trainer"]!["seed"]!.GetValue<int>());
    }

    [Fact]
    public void Input_scale_and_alias_names_survive_the_round_trip()
    {
        using var dir = new TempDirectory();
        var p = Some.Sae("relu").Parameters.Clone();
        p.InputScale = 0.125f;
        NativeCheckpointWriter.Write(dir.Path, new Sae("p_anneal", p));
        var cfg = JsonNode.Parse(File.ReadAllText(Path.Combine(dir.Path, "cfg.json")))!;
        Assert.Equal("p_anneal", cfg["architecture"]!.GetValue<string>());
        Assert.Equal("expected_average_only_in", cfg["normalize_activations"]!.GetValue<string>());
        var loaded = CheckpointLoader.Load(dir.Path);
        Assert.Equal(0.125f, loaded.Sae.Parameters.InputScale);
        Assert.Equal("relu", loaded.Info.Architecture);
        Assert.Equal("p_anneal", loaded.Info.ArchitectureName);
    }

    [Fact]
    public void Folding_on_load_is_reported()
    {
        using var dir = new TempDirectory();
        NativeCheckpointWriter.Write(dir.Path, Some.Sae("relu"));
        var loaded = CheckpointLoader.Load(dir.Path, new LoadOptions(FoldDecoderNorms: true));
        Assert.All(loaded.Sae.DecoderNorms(), n => Assert.Equal(1f, n, 1e-5f));
        Assert.Contains(loaded.Info.Warnings, w => w.Contains("folded"));
    }
}
