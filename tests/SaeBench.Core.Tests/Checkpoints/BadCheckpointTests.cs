using SaeBench.TestKit;
using System.Text.Json.Nodes;
using SaeBench.Compute.Tensors;
using SaeBench.Core.Checkpoints;
using SaeBench.Core.Safetensors;

namespace SaeBench.Core.Tests.Checkpoints;

/// <summary>Checkpoints whose tensors or configuration disagree are refused with the file and the field named.</summary>
public class BadCheckpointTests
{
    private static string Cfg(TempDirectory dir, int dIn = 4, int dSae = 6, string architecture = "standard")
    {
        var cfg = new JsonObject { ["architecture"] = architecture, ["d_in"] = dIn, ["d_sae"] = dSae, ["apply_b_dec_to_input"] = true, ["metadata"] = new JsonObject() };
        File.WriteAllText(dir.File("cfg.json"), cfg.ToJsonString());
        return dir.Path;
    }

    private static void Weights(TempDirectory dir, params SafetensorsTensor[] tensors) => SafetensorsWriter.Write(dir.File("sae_weights.safetensors"), tensors);

    private static SafetensorsTensor M(string name, int rows, int cols) => SafetensorsTensor.F32(name, new float[rows * cols], rows, cols);
    private static SafetensorsTensor V(string name, int n) => SafetensorsTensor.F32(name, new float[n], n);

    private static CheckpointFormatException Refused(string path)
    {
        var e = Assert.Throws<CheckpointFormatException>(() => CheckpointLoader.Load(path));
        Assert.Equal(e.Message, Assert.Throws<CheckpointFormatException>(() => CheckpointLoader.Inspect(path)).Message);
        return e;
    }

    [Fact]
    public void A_missing_required_tensor_is_named()
    {
        using var dir = new TempDirectory();
        Weights(dir, M("W_enc", 4, 6), V("b_enc", 6), M("W_dec", 6, 4));
        var e = Refused(Cfg(dir));
        Assert.Equal("b_dec", e.Field);
        Assert.EndsWith("sae_weights.safetensors", e.File);
        Assert.Contains("missing", e.Message);
    }

    [Fact]
    public void A_gated_checkpoint_without_its_gate_bias_is_refused()
    {
        using var dir = new TempDirectory();
        Weights(dir, M("W_enc", 4, 6), M("W_dec", 6, 4), V("b_dec", 4), V("r_mag", 6), V("b_mag", 6));
        Assert.Equal("b_gate", Refused(Cfg(dir, architecture: "gated")).Field);
    }

    [Fact]
    public void Tensors_that_disagree_with_each_other_are_refused()
    {
        using var dir = new TempDirectory();
        Weights(dir, M("W_enc", 4, 6), V("b_enc", 6), M("W_dec", 4, 6), V("b_dec", 4));
        var e = Refused(Cfg(dir));
        Assert.Equal("W_dec", e.Field);
        Assert.Contains("expected [6, 4]", e.Message);
    }

    [Fact]
    public void A_bias_of_the_wrong_length_is_refused()
    {
        using var dir = new TempDirectory();
        Weights(dir, M("W_enc", 4, 6), V("b_enc", 5), M("W_dec", 6, 4), V("b_dec", 4));
        Assert.Equal("b_enc", Refused(Cfg(dir)).Field);
    }

    [Fact]
    public void Tensors_that_disagree_with_the_cfg_are_refused()
    {
        using var dir = new TempDirectory();
        Weights(dir, M("W_enc", 4, 6), V("b_enc", 6), M("W_dec", 6, 4), V("b_dec", 4));
        var e = Refused(Cfg(dir, dIn: 5));
        Assert.Equal("W_enc", e.Field);
        Assert.Contains("cfg.json says d_in = 5", e.Message);
    }

    [Fact]
    public void An_unknown_architecture_in_the_cfg_is_refused()
    {
        using var dir = new TempDirectory();
        Weights(dir, M("W_enc", 4, 6), V("b_enc", 6), M("W_dec", 6, 4), V("b_dec", 4));
        var e = Refused(Cfg(dir, architecture: "transcoder"));
        Assert.EndsWith("cfg.json", e.File);
        Assert.Equal("architecture", e.Field);
    }

    [Fact]
    public void A_cfg_field_of_the_wrong_type_is_named()
    {
        using var dir = new TempDirectory();
        Weights(dir, M("W_enc", 4, 6), V("b_enc", 6), M("W_dec", 6, 4), V("b_dec", 4));
        Cfg(dir);
        File.WriteAllText(dir.File("cfg.json"), """{"architecture": "topk", "d_in": 4, "d_sae": 6, "k": "eight", "metadata": {}}""");
        var e = Refused(dir.Path);
        Assert.Equal("k", e.Field);
    }

    [Fact]
    public void A_top_k_checkpoint_with_an_impossible_k_is_refused()
    {
        using var dir = new TempDirectory();
        Weights(dir, M("W_enc", 4, 6), V("b_enc", 6), M("W_dec", 6, 4), V("b_dec", 4));
        File.WriteAllText(dir.File("cfg.json"), """{"architecture": "topk", "d_in": 4, "d_sae": 6, "k": 60, "metadata": {}}""");
        Assert.Contains("k: 60", Refused(dir.Path).Message);
    }

    [Fact]
    public void Shapes_disagreeing_with_a_dictionary_learning_config_are_refused()
    {
        using var dir = new TempDirectory();
        File.Copy(Fixtures.PathOf("dictionary_learning/topk/ae.pt"), dir.File("ae.pt"));
        var cfg = JsonNode.Parse(File.ReadAllText(Fixtures.PathOf("dictionary_learning/topk/config.json")))!;
        cfg["trainer"]!["dict_size"] = 128;
        File.WriteAllText(dir.File("config.json"), cfg.ToJsonString());
        var e = Refused(dir.Path);
        Assert.Equal("encoder.weight", e.Field);
        Assert.Contains("d_sae = 128", e.Message);
    }

    [Fact]
    public void Non_finite_weights_are_refused_naming_the_tensor()
    {
        using var dir = new TempDirectory();
        var wDec = new float[24];
        wDec[7] = float.PositiveInfinity;
        Weights(dir, M("W_enc", 4, 6), V("b_enc", 6), SafetensorsTensor.F32("W_dec", wDec, 6, 4), V("b_dec", 4));
        var e = Refused(Cfg(dir));
        Assert.Equal("W_dec", e.Field);
        Assert.Contains("element 7", e.Message);
    }

    [Fact]
    public void A_path_that_does_not_exist_or_holds_no_checkpoint_is_refused()
    {
        using var dir = new TempDirectory();
        Assert.Contains("does not exist", Refused(dir.File("nope")).Message);
        Assert.Contains("not a checkpoint", Refused(dir.Path).Message);
    }

    [Fact]
    public void A_bare_weights_file_loads_with_an_inferred_architecture_and_a_warning()
    {
        using var dir = new TempDirectory();
        var sae = Some.Sae("jumprelu", dIn: 4, dSae: 6);
        var p = sae.Parameters;
        SafetensorsWriter.Write(dir.File("w.safetensors"),
            [SafetensorsTensor.F32("W_enc", p.WEnc), SafetensorsTensor.F32("b_enc", p.BEnc, 6), SafetensorsTensor.F32("W_dec", p.WDec),
             SafetensorsTensor.F32("b_dec", p.BDec, 4), SafetensorsTensor.F32("threshold", p.Threshold!, 6)]);
        var loaded = CheckpointLoader.Load(dir.File("w.safetensors"));
        Assert.Equal("jumprelu", loaded.Info.Architecture);
        Assert.Contains(loaded.Info.Warnings, w => w.Contains("inferred"));
        Assert.Equal(p.Threshold, loaded.Sae.Parameters.Threshold);
    }
}
