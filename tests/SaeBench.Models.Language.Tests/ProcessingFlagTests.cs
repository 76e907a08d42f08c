using SaeBench.Compute.Tensors;

namespace SaeBench.Models.Language.Tests;

/// <summary>
/// Each TransformerLens processing flag on its own, checked against the raw reference through the relations the
/// fixture README states (which hooks each flag changes and how), so any flag combination is covered.
/// </summary>
public sealed class ProcessingFlagTests
{
    private static (LanguageModel Model, HookCollector Hooks, float[] Logits, float[] Loss) Run(string name, WeightProcessing p)
    {
        var m = LmFixtures.Model(name);
        using var expected = m.OpenExpected();
        var model = LanguageModel.Load(m.Directory, new LanguageModelOptions(p));
        var tokens = expected.Tokens();
        var (logits, loss) = FixtureForwardTests.LogitsAndLoss(model, tokens, model.Forward(tokens));
        return (model, model.RunWithHooks(tokens, ["all"]), logits, loss);
    }

    private static float[] MinusRowMean(float[] values, int width)
    {
        var r = (float[])values.Clone();
        for (int row = 0; row < r.Length / width; row++)
        {
            var s = r.AsSpan(row * width, width);
            double mean = 0;
            foreach (var v in s) mean += v;
            mean /= width;
            for (int i = 0; i < width; i++) s[i] = (float)(s[i] - mean);
        }
        return r;
    }

    [Theory]
    [InlineData("gpt2")]
    [InlineData("pythia")]
    public void Fold_ln_alone_changes_no_stored_hook_and_not_the_logits(string name)
    {
        var m = LmFixtures.Model(name);
        using var expected = m.OpenExpected();
        var (model, hooks, logits, loss) = Run(name, WeightProcessing.Parse("fold_ln"));
        using (hooks)
        {
            Assert.True(model.Processing.FoldLn);
            Assert.Null(model.Weights.Layers[0].Norm1.Scale);
            foreach (var h in model.Hooks.All) LmFixtures.AssertClose(hooks.Values[h.Name].Span, expected.Floats(h.Name), m.Tolerance, $"{name} fold_ln {h.Name}");
            LmFixtures.AssertClose(logits, expected.Floats("logits"), m.Tolerance, $"{name} fold_ln logits");
            LmFixtures.AssertClose(loss, expected.Floats("loss"), m.Tolerance, $"{name} fold_ln loss");
        }
    }

    [Theory]
    [InlineData("gpt2")]
    [InlineData("pythia")]
    public void Center_writing_weights_alone_centres_the_residual_stream_hooks(string name)
    {
        var m = LmFixtures.Model(name);
        using var expected = m.OpenExpected();
        var (model, hooks, logits, _) = Run(name, WeightProcessing.Parse("center_writing_weights"));
        using (hooks)
        {
            foreach (var h in model.Hooks.All)
            {
                var raw = expected.Floats(h.Name);
                var want = h.Kind == HookKind.Z ? raw : MinusRowMean(raw, model.Config.DModel);
                LmFixtures.AssertClose(hooks.Values[h.Name].Span, want, m.Tolerance, $"{name} center_writing_weights {h.Name}");
            }
            LmFixtures.AssertClose(logits, expected.Floats("logits"), m.Tolerance, $"{name} center_writing_weights logits");
        }
    }

    [Fact]
    public void Center_writing_weights_is_skipped_for_RMSNorm_models_as_TransformerLens_does()
    {
        var (model, hooks, _, _) = Run("llama", WeightProcessing.Parse("center_writing_weights"));
        hooks.Dispose();
        Assert.False(model.Processing.CenterWritingWeights);
    }

    [Theory]
    [InlineData("gpt2")]
    [InlineData("llama")]
    [InlineData("qwen2")]
    public void Center_unembed_alone_subtracts_the_vocabulary_mean_from_the_logits_only(string name)
    {
        var m = LmFixtures.Model(name);
        using var expected = m.OpenExpected();
        var (model, hooks, logits, loss) = Run(name, WeightProcessing.Parse("center_unembed"));
        hooks.Dispose();
        LmFixtures.AssertClose(logits, MinusRowMean(expected.Floats("logits"), model.Config.Vocab), m.Tolerance, $"{name} center_unembed logits");
        LmFixtures.AssertClose(loss, expected.Floats("loss"), m.Tolerance, $"{name} center_unembed loss");
    }

    [Fact]
    public void Center_unembed_is_off_when_the_final_logits_are_soft_capped()
    {
        var model = LanguageModel.Load(LmFixtures.PathOf("models/gemma2"), new LanguageModelOptions(WeightProcessing.TlDefault));
        Assert.False(model.Processing.CenterUnembed);
        Assert.False(model.Processing.CenterWritingWeights);
        Assert.True(model.Processing.FoldLn && model.Processing.FoldValueBiases);
    }

    [Theory]
    [InlineData("gpt2")]
    [InlineData("pythia")]
    [InlineData("qwen2")]
    public void Fold_value_biases_alone_removes_b_V_from_hook_z_and_nothing_else(string name)
    {
        var m = LmFixtures.Model(name);
        using var expected = m.OpenExpected();
        var raw = LanguageModel.Load(m.Directory);
        var c = raw.Config;
        var (model, hooks, logits, _) = Run(name, WeightProcessing.Parse("fold_value_biases"));
        using (hooks)
        {
            foreach (var h in model.Hooks.All)
            {
                var want = expected.Floats(h.Name);
                if (h.Kind == HookKind.Z)
                {
                    // z − b_V of head h's key/value head (GQA: kv = h / (heads / kv_heads)).
                    var bv = raw.Weights.Layers[h.Layer].QkvBias!.Span.Slice(c.QueryWidth + c.KvWidth, c.KvWidth).ToArray();
                    Assert.Contains(bv, v => v != 0f);
                    for (int i = 0; i < want.Length; i++)
                    {
                        int col = i % c.QueryWidth, head = col / c.HeadDim, e = col % c.HeadDim;
                        want[i] -= bv[head / (c.Heads / c.KvHeads) * c.HeadDim + e];
                    }
                }
                LmFixtures.AssertClose(hooks.Values[h.Name].Span, want, m.Tolerance, $"{name} fold_value_biases {h.Name}");
            }
            LmFixtures.AssertClose(logits, expected.Floats("logits"), m.Tolerance, $"{name} fold_value_biases logits");
        }
    }

    [Fact]
    public void Processing_a_tied_model_leaves_the_embedding_and_unembedding_separate()
    {
        var model = LanguageModel.Load(LmFixtures.PathOf("models/gpt2"), new LanguageModelOptions(WeightProcessing.TlDefault));
        Assert.NotSame(model.Weights.Embed, model.Weights.Unembed);
        var raw = LanguageModel.Load(LmFixtures.PathOf("models/gpt2"));
        Assert.Same(raw.Weights.Embed, raw.Weights.Unembed);
    }

    [Fact]
    public void Preset_and_flag_names_parse()
    {
        Assert.Equal(WeightProcessing.None, WeightProcessing.Parse("none"));
        Assert.Equal(WeightProcessing.TlDefault, WeightProcessing.Parse("tl-default"));
        Assert.Equal(new WeightProcessing(true, false, true, false), WeightProcessing.Parse("fold_ln, center-unembed"));
        Assert.Equal("fold_ln,center_unembed", new WeightProcessing(true, false, true, false).ToString());
        Assert.Throws<ArgumentException>(() => WeightProcessing.Parse("fold_everything"));
    }

    [Fact]
    public void Splicing_z_in_a_value_bias_folded_model_adds_the_folded_bias()
    {
        // The README's point: with fold_value_biases, attn_out is unchanged but a spliced z no longer carries b_V itself,
        // so zeros at hook_z give different logits than in the raw model (the folded b_O still adds Σ b_V·W_O).
        var m = LmFixtures.Model("gpt2");
        using var expected = m.OpenExpected();
        var model = LanguageModel.Load(m.Directory, new LanguageModelOptions(WeightProcessing.Parse("fold_value_biases")));
        var tokens = expected.Tokens();
        using var zeros = new HostMatrix(tokens.Tokens, model.Config.QueryWidth);
        var (logits, _) = FixtureForwardTests.LogitsAndLoss(model, tokens, model.ForwardFromHook("blocks.1.attn.hook_z", zeros, tokens));
        Assert.ThrowsAny<Exception>(() =>
            LmFixtures.AssertClose(logits, expected.Floats("splice.blocks.1.attn.hook_z.zeros.logits"), m.Tolerance, "differs"));
    }
}
