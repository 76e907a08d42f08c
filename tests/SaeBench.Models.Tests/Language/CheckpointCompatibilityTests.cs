using System.Text.Json.Nodes;
using SaeBench.Core.Autoencoders;
using SaeBench.Models.Language;
using SaeBench.TestKit;

namespace SaeBench.Models.Tests.Language;

public class CheckpointCompatibilityTests
{
    private static readonly LanguageModel Gpt2 = LanguageModel.Load(TestData.LmModel("gpt2"));
    private static readonly LanguageModel Gpt2Centred = LanguageModel.Load(TestData.LmModel("gpt2"), new LanguageModelOptions(WeightProcessing.Parse("center_writing_weights")));
    private static readonly HookPoint Resid1 = new(1, HookKind.ResidPost);

    private static SaeConfig Config(string? hook = null, string? model = null, JsonObject? kwargs = null)
    {
        var c = new SaeConfig { HookName = hook, ModelName = model };
        if (kwargs is not null) c.Metadata["model_from_pretrained_kwargs"] = kwargs;
        return c;
    }

    [Fact]
    public void A_matching_checkpoint_has_no_problems()
    {
        Assert.Empty(CheckpointCompatibility.Problems(Config("blocks.1.hook_resid_post", "gpt2-small"), Resid1, Gpt2, "openai-community/gpt2"));
        Assert.Empty(CheckpointCompatibility.Problems(Config(), Resid1, Gpt2, null)); // nothing recorded: nothing to compare
    }

    [Fact]
    public void Another_hook_is_named_with_the_fix()
    {
        var p = Assert.Single(CheckpointCompatibility.Problems(Config("blocks.2.hook_resid_pre"), Resid1, Gpt2, null));
        Assert.Contains("hook=blocks.2.hook_resid_pre", p);
        // dictionary_learning's submodule names are translated
        Assert.Empty(CheckpointCompatibility.Problems(Config("resid_post_layer_1"), Resid1, Gpt2, null));
        Assert.Single(CheckpointCompatibility.Problems(Config("mlp_out_layer_1"), Resid1, Gpt2, null));
    }

    /// <summary>gpt2-small-res-jb's SAEs were trained on a centred model: its kwargs say so, and an unprocessed model is refused.</summary>
    [Fact]
    public void Processing_follows_model_from_pretrained_kwargs()
    {
        var centred = Config(kwargs: new JsonObject { ["center_writing_weights"] = true });
        Assert.Contains("processing=center_writing_weights", Assert.Single(CheckpointCompatibility.Problems(centred, Resid1, Gpt2, null)));
        Assert.Empty(CheckpointCompatibility.Problems(centred, Resid1, Gpt2Centred, null));
        Assert.Single(CheckpointCompatibility.Problems(Config(), Resid1, Gpt2Centred, null)); // absent kwargs = unprocessed
    }

    [Theory]
    [InlineData("gpt2-small", "openai-community/gpt2", true)]
    [InlineData("pythia-70m-deduped", "EleutherAI/pythia-70m-deduped", true)]
    [InlineData("gemma-2-2b", "models--google--gemma-2-2b", true)]
    [InlineData("gemma-2-2b", "google/gemma-2-9b", false)]
    public void Model_names_are_compared_after_normalising(string sae, string model, bool same)
    {
        Assert.Equal(same, CheckpointCompatibility.Normalise(sae) == CheckpointCompatibility.Normalise(model));
        Assert.Equal(same, CheckpointCompatibility.Problems(Config(model: sae), Resid1, Gpt2, model).Count == 0);
    }
}
