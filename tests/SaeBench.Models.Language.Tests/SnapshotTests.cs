using System.Text.Json.Nodes;
using SaeBench.Core.Safetensors;

namespace SaeBench.Models.Language.Tests;

/// <summary>Opening snapshots: Hub cache folders, both config spellings, and the errors for bad snapshots.</summary>
public sealed class SnapshotTests
{
    private static void EditConfig(string folder, Action<JsonObject> edit)
    {
        string path = Path.Combine(folder, "config.json");
        var json = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        edit(json);
        File.WriteAllText(path, json.ToJsonString());
    }

    private static void AssertLogitsMatch(string folder, string model, bool expectMatch = true)
    {
        var m = LmFixtures.Model(model);
        using var expected = m.OpenExpected();
        var lm = LanguageModel.Load(folder);
        var tokens = expected.Tokens();
        var (logits, _) = FixtureForwardTests.LogitsAndLoss(lm, tokens, lm.Forward(tokens));
        if (expectMatch) LmFixtures.AssertClose(logits, expected.Floats("logits"), m.Tolerance, $"{model} from {folder}");
        else Assert.ThrowsAny<Exception>(() => LmFixtures.AssertClose(logits, expected.Floats("logits"), m.Tolerance, "should differ"));
    }

    [Fact]
    public void A_hub_cache_repo_folder_resolves_through_refs_main()
    {
        using var tmp = new TempDirectory();
        string repo = Path.Combine(tmp.Path, "hub", "models--org--tiny-gpt2");
        tmp.CopyModel("gpt2", Path.Combine("hub", "models--org--tiny-gpt2", "snapshots", "0123abcd"));
        tmp.CopyModel("llama", Path.Combine("hub", "models--org--tiny-gpt2", "snapshots", "ffff0000"));
        Directory.CreateDirectory(Path.Combine(repo, "refs"));
        File.WriteAllText(Path.Combine(repo, "refs", "main"), "0123abcd\n");
        Assert.Equal(Path.Combine(repo, "snapshots", "0123abcd"), HfSnapshot.ResolveDirectory(repo));
        AssertLogitsMatch(repo, "gpt2");

        File.Delete(Path.Combine(repo, "refs", "main"));
        var e = Assert.Throws<FileNotFoundException>(() => HfSnapshot.ResolveDirectory(repo));
        Assert.Contains(Path.Combine("refs", "main"), e.Message);
        Assert.Contains("2 snapshots", e.Message);
    }

    [Fact]
    public void Transformers_v5_config_spelling_is_read_for_rotary_families()
    {
        using var tmp = new TempDirectory();
        string gemma = tmp.CopyModel("gemma2", "gemma2");
        EditConfig(gemma, c =>
        {
            c.Remove("rope_theta");
            c.Remove("torch_dtype");
            c["dtype"] = "bfloat16";
            c["rope_parameters"] = new JsonObject { ["rope_theta"] = 10000.0, ["rope_type"] = "default" };
            c["layer_types"] = new JsonArray("sliding_attention", "full_attention", "sliding_attention");
        });
        AssertLogitsMatch(gemma, "gemma2");
        Assert.Equal("bfloat16", HfConfig.Read(Path.Combine(gemma, "config.json")).DeclaredDType);

        string pythia = tmp.CopyModel("pythia", "pythia");
        EditConfig(pythia, c =>
        {
            c.Remove("rotary_pct");
            c.Remove("rotary_emb_base");
            c.Remove("rope_scaling");
            c["rope_parameters"] = new JsonObject { ["rope_theta"] = 10000, ["partial_rotary_factor"] = 0.25, ["rope_type"] = "default" };
        });
        AssertLogitsMatch(pythia, "pythia");

        string llama = tmp.CopyModel("llama", "llama");
        EditConfig(llama, c =>
        {
            c.Remove("rope_theta");
            c.Remove("rope_scaling");
            c["rope_parameters"] = new JsonObject { ["rope_theta"] = 500000.0, ["rope_type"] = "default" };
        });
        AssertLogitsMatch(llama, "llama");
    }

    [Fact]
    public void Explicit_layer_types_are_obeyed()
    {
        using var tmp = new TempDirectory();
        string gemma = tmp.CopyModel("gemma2", "gemma2");
        EditConfig(gemma, c => c["layer_types"] = new JsonArray("full_attention", "sliding_attention", "full_attention"));
        Assert.Equal([0, 6, 0], HfConfig.Read(Path.Combine(gemma, "config.json")).SlidingWindow);
        AssertLogitsMatch(gemma, "gemma2", expectMatch: false);
    }

    [Fact]
    public void Family_details_come_from_the_config()
    {
        var gemma = HfConfig.Read(LmFixtures.PathOf("models/gemma2/config.json"));
        Assert.Equal([6, 0, 6], gemma.SlidingWindow);
        Assert.True(Math.Abs(1 / Math.Sqrt(48) - gemma.AttentionScale[0]) < 1e-7);
        Assert.Equal((8f, 12f), (gemma.AttentionSoftCap, gemma.FinalSoftCap));
        Assert.True(gemma.TiedEmbeddings && gemma.PostNorms && gemma.GatedMlp);
        Assert.Equal(2, gemma.KvHeads);
        Assert.Equal(24, gemma.HeadDim);

        var pythia = HfConfig.Read(LmFixtures.PathOf("models/pythia/config.json"));
        Assert.Equal(4, pythia.Rotary!.Dim);
        Assert.True(pythia.ParallelResidual);
        Assert.Equal(Compute.Backends.PointwiseKind.GeluExact, pythia.Activation);

        var llama = HfConfig.Read(LmFixtures.PathOf("models/llama/config.json"));
        Assert.Equal(500000, llama.Rotary!.Theta);
        Assert.False(llama.TiedEmbeddings);
        var qwen = HfConfig.Read(LmFixtures.PathOf("models/qwen2/config.json"));
        Assert.True(qwen.QkvBias && !qwen.OutBias && qwen.TiedEmbeddings);
        Assert.All(qwen.SlidingWindow, w => Assert.Equal(0, w));
    }

    [Fact]
    public void An_unsupported_model_type_is_refused_naming_the_file_and_field()
    {
        using var tmp = new TempDirectory();
        string folder = tmp.CopyModel("llama");
        EditConfig(folder, c => c["model_type"] = "mamba");
        var e = Assert.Throws<InvalidDataException>(() => LanguageModel.Load(folder));
        Assert.Contains(Path.Combine(folder, "config.json"), e.Message);
        Assert.Contains("'model_type'", e.Message);
        Assert.Contains("mamba", e.Message);
    }

    [Theory]
    [InlineData("\"model_type\": \"llama\"", "\"model_type\": \"llama\", \"model_type\": \"gpt2\"", "Duplicate property 'model_type'")]
    [InlineData("\"model_type\": \"llama\"", "\"model_type\": \"llama\\ud800\"", "not valid Unicode")]
    public void A_config_with_duplicate_keys_or_a_lone_surrogate_is_refused_naming_the_file(string from, string to, string expected)
    {
        // Issue 19: a duplicate key was silently read as its last value; a lone surrogate threw InvalidOperationException.
        using var tmp = new TempDirectory();
        string folder = tmp.CopyModel("llama");
        string path = Path.Combine(folder, "config.json");
        File.WriteAllText(path, JsonNode.Parse(File.ReadAllText(path))!.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }).Replace(from, to));
        var e = Assert.Throws<InvalidDataException>(() => LanguageModel.Load(folder));
        Assert.Contains(path, e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void A_mixture_of_experts_config_is_refused_naming_the_field()
    {
        using var tmp = new TempDirectory();
        string folder = tmp.CopyModel("llama");
        EditConfig(folder, c => c["num_local_experts"] = 8);
        var e = Assert.Throws<InvalidDataException>(() => LanguageModel.Load(folder));
        Assert.Contains("config.json", e.Message);
        Assert.Contains("'num_local_experts'", e.Message);
    }

    [Fact]
    public void A_shard_listed_in_the_index_but_missing_is_an_error_naming_both()
    {
        using var tmp = new TempDirectory();
        string folder = tmp.CopyModel("llama");
        File.Delete(Path.Combine(folder, "model-00002-of-00002.safetensors"));
        var e = Assert.Throws<FileNotFoundException>(() => LanguageModel.Load(folder));
        Assert.Contains("model.safetensors.index.json", e.Message);
        Assert.Contains("model-00002-of-00002.safetensors", e.Message);
    }

    [Fact]
    public void A_tensor_whose_shape_disagrees_with_the_config_is_named_with_both_shapes()
    {
        using var tmp = new TempDirectory();
        string folder = tmp.CopyModel("gpt2");
        EditConfig(folder, c => c["n_inner"] = 200);
        var e = Assert.Throws<InvalidDataException>(() => LanguageModel.Load(folder));
        Assert.Contains(Path.Combine(folder, "model.safetensors"), e.Message);
        Assert.Contains("'transformer.h.0.mlp.c_fc.weight'", e.Message);
        Assert.Contains("[48, 192]", e.Message);
        Assert.Contains("[48, 200]", e.Message);
    }

    [Fact]
    public void Unknown_tensors_are_refused_but_known_buffers_are_skipped()
    {
        using var tmp = new TempDirectory();
        string folder = tmp.CopyModel("gpt2_legacy");
        string weights = Path.Combine(folder, "model.safetensors");
        var tensors = new List<SafetensorsTensor>();
        using (var f = SafetensorsFile.Open(weights))
        {
            foreach (var t in f.Tensors.Where(t => t.DType == SafetensorsDType.F32))
                tensors.Add(SafetensorsTensor.F32(t.Name, f.ReadSingle(t.Name), [.. t.Shape]));
            Assert.Contains(f.Tensors, t => t.Name == "h.0.attn.bias");
        }
        tensors.Add(SafetensorsTensor.F32("h.0.mlp.extra_gate.weight", new float[4], 2, 2));
        SafetensorsWriter.Write(weights, tensors);
        var e = Assert.Throws<InvalidDataException>(() => LanguageModel.Load(folder));
        Assert.Contains("h.0.mlp.extra_gate.weight", e.Message);
        Assert.DoesNotContain("attn.bias", e.Message);
    }

    [Fact]
    public void A_folder_without_config_or_weights_says_what_is_missing()
    {
        using var tmp = new TempDirectory();
        Assert.Throws<FileNotFoundException>(() => LanguageModel.Load(tmp.Path));
        string folder = tmp.CopyModel("gpt2");
        File.Delete(Path.Combine(folder, "model.safetensors"));
        var e = Assert.Throws<FileNotFoundException>(() => LanguageModel.Load(folder));
        Assert.Contains("model.safetensors", e.Message);
    }

    [Fact]
    public void An_unknown_hook_suggests_the_nearest_name()
    {
        var gpt2 = LanguageModel.Load(LmFixtures.PathOf("models/gpt2"));
        var e = Assert.Throws<ArgumentException>(() => gpt2.Hooks.Resolve("blocks.1.hook_resid_pots"));
        Assert.Contains("Did you mean 'blocks.1.hook_resid_post'", e.Message);
        e = Assert.Throws<ArgumentException>(() => gpt2.Hooks.Resolve("blocks.7.hook_resid_post"));
        Assert.Contains("layer 7 does not exist", e.Message);
        e = Assert.Throws<ArgumentException>(() => gpt2.Hooks.Resolve("blocks.01.hook_resid_post"));
        Assert.Contains("not a hook name", e.Message);
        Assert.Contains("Did you mean 'blocks.", e.Message);
        e = Assert.Throws<ArgumentException>(() => gpt2.RunToHook(RandomTransformer.Tokens(300, 1, 4), "blocks.0.attn.hook_q"));
        Assert.Contains("Did you mean 'blocks.0.attn.hook_z'", e.Message);

        var pythia = LanguageModel.Load(LmFixtures.PathOf("models/pythia"));
        e = Assert.Throws<ArgumentException>(() => pythia.Hooks.Resolve("blocks.1.hook_resid_mid"));
        Assert.Contains("parallel residual", e.Message);
    }

    [Fact]
    public void Token_ids_outside_the_vocabulary_or_context_are_refused()
    {
        var gpt2 = LanguageModel.Load(LmFixtures.PathOf("models/gpt2"));
        Assert.Throws<ArgumentException>(() => gpt2.Forward(new TokenBatch([1, 2, 300], 1, 3)));
        Assert.Throws<ArgumentException>(() => gpt2.Forward(RandomTransformer.Tokens(300, 1, 33)));
    }
}
