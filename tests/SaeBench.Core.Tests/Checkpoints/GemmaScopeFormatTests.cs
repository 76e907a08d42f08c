using SaeBench.Compute.Backends;
using SaeBench.Compute.Tensors;
using SaeBench.Core.Autoencoders;
using SaeBench.Core.Checkpoints;
using SaeBench.Core.Registry;
using SaeBench.TestKit;

namespace SaeBench.Core.Tests.Checkpoints;

/// <summary>Gemma Scope folders (params.npz): weights, JumpReLU encoding, and the configuration SAELens's gemma_2 loader synthesises from the path.</summary>
public class GemmaScopeFormatTests
{
    private static readonly ComputeBackend Backend = CpuBackend.Create();

    /// <summary>The numpy-written fixture (d_in 4, d_sae 6) copied to <paramref name="folder"/> under <paramref name="dir"/>.</summary>
    private static string NumpyFixture(TempDirectory dir, string folder, string file = "savez")
    {
        string target = dir.Directory(folder.Split('/'));
        File.Copy(Path.Combine(AppContext.BaseDirectory, "Fixtures", "numpy", file, "params.npz"), Path.Combine(target, "params.npz"));
        return target;
    }

    [Theory]
    [InlineData("savez")]
    [InlineData("savez_compressed")]
    public void The_numpy_fixtures_load_as_jumprelu_saes_with_the_values_numpy_wrote(string file)
    {
        using var dir = new TempDirectory();
        var loaded = CheckpointLoader.Load(NumpyFixture(dir, "sae", file));
        var p = loaded.Sae.Parameters;
        Assert.Equal("gemma_scope", loaded.Info.Format);
        Assert.Equal(SaeArchitectures.JumpRelu, loaded.Sae.Architecture);
        Assert.Equal((4, 6), (loaded.Info.DIn, loaded.Info.DSae));
        Assert.False(p.ApplyBDecToInput);
        for (int i = 0; i < 4; i++)
        for (int j = 0; j < 6; j++)
        {
            Assert.Equal((6 * i + j - 11) / 8f, p.WEnc[i, j]);
            Assert.Equal((4 * j + i - 10) / 16f, p.WDec[j, i]);
        }
        Assert.Equal(Enumerable.Range(0, 6).Select(j => (j - 2) / 4f), p.BEnc);
        Assert.Equal(Enumerable.Range(0, 4).Select(i => (2 * i - 3) / 4f), p.BDec);
        Assert.Equal(Enumerable.Range(0, 6).Select(j => j / 4f), p.Threshold!);
        // Outside a Gemma Scope repo path: loaded, model and hook unknown, said in a warning.
        Assert.Null(loaded.Info.HookName);
        Assert.Null(loaded.Info.ModelName);
        Assert.Empty(loaded.Sae.Config.Metadata);
        Assert.Contains(loaded.Info.Warnings, w => w.Contains("not inside a Gemma Scope repo folder"));
        Assert.Equal(CheckpointHash.Compute([Path.Combine(dir.Path, "sae", "params.npz")]), loaded.Info.Sha256);
    }

    [Fact]
    public void JumpRelu_keeps_a_pre_activation_only_when_it_exceeds_its_threshold()
    {
        using var dir = new TempDirectory();
        var sae = CheckpointLoader.Load(NumpyFixture(dir, "sae")).Sae;
        // pre = x·W_enc + b_enc (b_dec is not subtracted), with W_enc[i, j] = (6i + j − 11)/8, b_enc[j] = (j − 2)/4, θ_j = j/4:
        // x = (1, 0, 0, 0): pre_j = (3j − 15)/8 = −15/8 … 0, never above θ_j.
        // x = (0, 0, 0, 2): pre_j = (2j + 5)/4 = 1.25, 1.75, …, 3.75, always above θ_j.
        // x = (0, 0, 1, 0): pre_j = (3j − 3)/8 = −3/8, 0, 3/8, 6/8, 9/8, 12/8 against θ = 0, 1/4, 2/4, 3/4, 1, 5/4: only j = 4, 5
        //                   exceed theirs (at j = 3 pre equals θ and is dropped: strictly greater is required).
        // x = (0, 1, 0, 0): pre_j = (3j − 9)/8, at most 6/8 < θ_5 = 5/4.
        var x = HostMatrix.FromSpan([1, 0, 0, 0, 0, 0, 0, 2, 0, 0, 1, 0, 0, 1, 0, 0], 4, 4);
        var f = new HostMatrix(4, 6);
        sae.Encode(Backend, x, f);
        float[] expected =
        [
            0, 0, 0, 0, 0, 0,
            1.25f, 1.75f, 2.25f, 2.75f, 3.25f, 3.75f,
            0, 0, 0, 0, 1.125f, 1.5f,
            0, 0, 0, 0, 0, 0,
        ];
        Assert.Equal(expected, f.ToArray());
    }

    [Theory]
    [InlineData("models--google--gemma-scope-2b-pt-res/snapshots/abc/layer_12/width_4k/average_l0_82", "gemma-2-2b", "blocks.12.hook_resid_post")]
    [InlineData("models--google--gemma-scope-2b-pt-mlp/snapshots/abc/layer_3/width_4k/average_l0_10", "gemma-2-2b", "blocks.3.hook_mlp_out")]
    [InlineData("models--google--gemma-scope-9b-it-att/snapshots/abc/layer_20/width_4k/average_l0_9", "gemma-2-9b-it", "blocks.20.attn.hook_z")]
    [InlineData("downloads/google/gemma-scope-27b-pt-res/layer_5/width_4k/average_l0_7", "gemma-2-27b", "blocks.5.hook_resid_post")]
    public void The_configuration_comes_from_the_repo_and_folder_names(string folder, string model, string hook)
    {
        using var dir = new TempDirectory();
        string path = dir.Directory(folder.Split('/'));
        Npz.Write(Path.Combine(path, "params.npz"), Npz.GemmaParams(4, 4096, new float[4 * 4096], new float[4096 * 4], new float[4096], new float[4], new float[4096]));
        var loaded = CheckpointLoader.Load(path);
        var config = loaded.Sae.Config;
        Assert.Equal(model, config.ModelName);
        Assert.Equal(hook, config.HookName);
        Assert.Equal(1024, config.ContextSize);
        Assert.True(config.Metadata["prepend_bos"]!.GetValue<bool>());
        Assert.Equal("monology/pile-uncopyrighted", config.Metadata["dataset_path"]!.GetValue<string>());
        Assert.Equal(hook.EndsWith("hook_z", StringComparison.Ordinal), config.Metadata.ContainsKey("reshape_activations"));
        Assert.False(loaded.Sae.Parameters.ApplyBDecToInput);
        Assert.Empty(loaded.Info.Warnings);
    }

    [Fact]
    public void A_width_in_the_path_that_disagrees_with_the_arrays_is_refused()
    {
        using var dir = new TempDirectory();
        string path = NumpyFixture(dir, "gemma-scope-2b-pt-res/layer_1/width_16k/average_l0_5");
        var e = Assert.Throws<CheckpointFormatException>(() => CheckpointLoader.Load(path));
        Assert.Equal("W_enc", e.Field);
        Assert.Contains("the folder name width_16k says d_sae = 16384", e.Message);
    }

    [Fact]
    public void Embedding_saes_undo_the_sqrt_d_model_scale_in_their_weights()
    {
        using var dir = new TempDirectory();
        string path = dir.Directory("models--google--gemma-scope-2b-pt-res", "snapshots", "abc", "embedding", "width_4k", "average_l0_6");
        var wEnc = Npz.Ramp(4 * 4096, 0f, 0.5f);
        var wDec = Npz.Ramp(4096 * 4, 1f, 0.25f);
        Npz.Write(Path.Combine(path, "params.npz"), Npz.GemmaParams(4, 4096, wEnc, wDec, new float[4096], new float[4], new float[4096], deflate: true));
        var loaded = CheckpointLoader.Load(path);
        Assert.Equal("hook_embed", loaded.Info.HookName);
        Assert.Equal(wEnc.Select(v => v / 2f), loaded.Sae.Parameters.WEnc.ToArray()); // sqrt(d_in = 4) = 2
        Assert.Equal(wDec.Select(v => v * 2f), loaded.Sae.Parameters.WDec.ToArray());
        Assert.Equal(loaded.Info.DecoderNorms!.Max, CheckpointLoader.Inspect(path).DecoderNorms!.Max, 4);
    }

    [Fact]
    public void Array_shapes_that_disagree_are_refused_naming_the_file_and_the_array()
    {
        using var dir = new TempDirectory();
        string path = Path.Combine(dir.Directory("sae"), "params.npz");
        Npz.Write(path,
            Npz.F32("W_enc", new float[24], 4, 6), Npz.F32("W_dec", new float[24], 4, 6), Npz.F32("b_enc", new float[6], 6),
            Npz.F32("b_dec", new float[4], 4), Npz.F32("threshold", new float[6], 6));
        var e = Assert.Throws<CheckpointFormatException>(() => CheckpointLoader.Load(path));
        Assert.Equal(path, e.File);
        Assert.Equal("W_dec", e.Field);
        Assert.Contains("expected [6, 4]", e.Message);
    }

    [Fact]
    public void A_missing_threshold_is_named()
    {
        using var dir = new TempDirectory();
        string path = Path.Combine(dir.Directory("sae"), "params.npz");
        Npz.Write(path, Npz.F32("W_enc", new float[24], 4, 6), Npz.F32("W_dec", new float[24], 6, 4), Npz.F32("b_enc", new float[6], 6), Npz.F32("b_dec", new float[4], 4));
        Assert.Equal("threshold", Assert.Throws<CheckpointFormatException>(() => CheckpointLoader.Load(path)).Field);
    }

    [Fact]
    public void Lowercase_w_names_are_read_as_SAELens_renames_them_and_a_scaling_factor_must_be_ones()
    {
        using var dir = new TempDirectory();
        string path = Path.Combine(dir.Directory("sae"), "params.npz");
        Npz.Write(path,
            Npz.F32("w_enc", Npz.Ramp(24), 4, 6), Npz.F32("w_dec", Npz.Ramp(24), 6, 4), Npz.F32("b_enc", new float[6], 6),
            Npz.F32("b_dec", new float[4], 4), Npz.F32("threshold", new float[6], 6), Npz.F32("scaling_factor", [1f, 1f, 1f, 1f, 1f, 1f], 6));
        Assert.Equal(Npz.Ramp(24), CheckpointLoader.Load(path).Sae.Parameters.WEnc.ToArray());

        Npz.Write(path = Path.Combine(dir.Directory("scaled"), "params.npz"),
            Npz.F32("W_enc", new float[24], 4, 6), Npz.F32("W_dec", new float[24], 6, 4), Npz.F32("b_enc", new float[6], 6),
            Npz.F32("b_dec", new float[4], 4), Npz.F32("threshold", new float[6], 6), Npz.F32("scaling_factor", [2f], 1));
        Assert.Equal("scaling_factor", Assert.Throws<CheckpointFormatException>(() => CheckpointLoader.Load(path)).Field);
    }

    [Fact]
    public void Detection_finds_params_npz_and_leaves_other_formats_alone()
    {
        using var dir = new TempDirectory();
        string gemma = NumpyFixture(dir, "g");
        Assert.Equal("gemma_scope", CheckpointLoader.Detect(gemma).Format);
        Assert.Equal("gemma_scope", CheckpointLoader.Detect(Path.Combine(gemma, "params.npz")).Format);
        Assert.True(CheckpointLoader.IsCheckpoint(gemma));
        foreach (var entry in Fixtures.Checkpoints())
            Assert.Equal(entry.Format, CheckpointLoader.Detect(Fixtures.PathOf(entry.Path)).Format);
        File.Copy(Path.Combine(AppContext.BaseDirectory, "Fixtures", "numpy", "savez", "params.npz"), dir.File("activations.npz"));
        Assert.Throws<CheckpointFormatException>(() => CheckpointLoader.Detect(dir.File("activations.npz")));
        Assert.Equal("g", CheckpointRegistry.AutoId(Path.Combine(gemma, "params.npz"), dir.Path));
    }
}
