using SaeBench.Compute.Tensors;
using SaeBench.Core;
using SaeBench.Core.Models;
using SaeBench.Models.Language;
using SaeBench.Models.LanguageModels;
using SaeBench.TestKit;

namespace SaeBench.Models.Tests.Language;

/// <summary>A fixture language model (tiny GPT-2 layout) as a model under study, over the repository's text corpus.</summary>
public sealed class LanguageModelUnderStudyTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private ModelOptions Options(IReadOnlyDictionary<string, string>? env = null) => new()
    {
        WorkingDirectory = TestData.RepositoryRoot,
        CacheDirectory = _dir.Directory("cache"),
        CacheActivations = false,
        Variables = name => env is not null && env.TryGetValue(name, out var v) ? v : null,
    };

    private LanguageModelUnderStudy Open(string extra = ",context=16,windows=40") =>
        (LanguageModelUnderStudy)ModelCatalog.Create("hf:" + TestData.LmModel("gpt2") + extra, Options());

    [Fact]
    public void Activations_are_the_hook_values_of_the_packed_windows_with_special_tokens_invalid()
    {
        using var lm = Open();
        Assert.Equal("blocks.1.hook_resid_post", lm.Info.Hook); // default: the middle layer's resid_post
        Assert.Equal(16, lm.Info.Positions);
        var windows = lm.Windows(Split.Test);
        Assert.Equal(windows.Count, lm.Activations(Split.Test).Shape.Examples);
        int seen = 0;
        foreach (var batch in lm.Activations(Split.Test).Batches(maxRows: 40))
            using (batch)
            {
                using var expected = lm.Model.RunToHook(windows.Batch(batch.FirstExample, batch.ExampleCount), "blocks.1.hook_resid_post");
                Assert.Equal(expected.ToArray(), batch.Activations.ToArray());
                for (int r = 0; r < batch.Rows; r++)
                {
                    int token = windows.Window(batch.ExampleIndex[r]).ToArray()[r % 16];
                    Assert.Equal(token != 299, batch.Valid[r]); // 299 = <|endoftext|>, BOS and EOS of this tokenizer
                }
                Assert.False(batch.Valid[0]); // every window starts with BOS
                seen += batch.ExampleCount;
            }
        Assert.Equal(windows.Count, seen);
    }

    /// <summary>The clean CE of the capability equals the mean of the model's own next-token loss over the same windows, an
    /// identity splice reproduces it with KL 0, and zeros change it.</summary>
    [Fact]
    public void Downstream_loss_is_the_next_token_loss_and_an_identity_splice_changes_nothing()
    {
        using var lm = Open();
        var batch = lm.Activations(Split.Test).Batches(maxRows: 64).First();
        var tokens = lm.Windows(Split.Test).Batch(batch.FirstExample, batch.ExampleCount);
        using var clean = lm.Model.Forward(tokens);
        var reference = new LossEvaluator(lm.Model).TokenLosses(clean.RequireHidden(), tokens);

        using var zeros = new HostMatrix(batch.Rows, batch.Activations.Cols);
        var c = lm.Compare(batch, [batch.Activations, zeros]);

        double mean = Enumerable.Range(0, batch.Rows).Where(r => c.Clean.HasTarget[r]).Average(r => c.Clean.CrossEntropy[r]);
        Assert.Equal(reference.Average(v => (double)v), mean, 5);
        Assert.Equal(batch.ExampleCount * 15, c.Clean.HasTarget.Count(h => h)); // the last position of a window has no target
        for (int r = 0; r < batch.Rows; r++)
        {
            Assert.Equal(c.Clean.CrossEntropy[r], c.Replaced[0].CrossEntropy[r], 4);
            Assert.InRange(c.Replaced[0].KlFromClean[r], 0, 1e-5);
        }
        Assert.True(c.Replaced[1].KlFromClean.Average() > 1e-3);
    }

    [Fact]
    public void The_text_side_encodes_runs_prompts_to_the_hook_and_scores_next_tokens()
    {
        using var lm = Open();
        ITextModel text = lm;
        var ids = text.Tokenizer.Encode("Return the value.");
        Assert.Equal(299, ids[0]); // GPT-2: BOS prepended, as TransformerLens does
        var acts = text.HookActivations([ids, ids[..3]]);
        Assert.Equal(ids.Length + 3, acts.Rows);
        using var direct = lm.Model.RunToHook(TokenBatch.Single(ids), "blocks.1.hook_resid_post");
        // Batches of other shapes round differently in float32: equal to 1e-5.
        AssertClose(direct.Row(2), acts.Row(2));
        AssertClose(direct.Row(1), acts.Row(ids.Length + 1)); // a shorter sequence: the same prefix, padding after it changes nothing

        var logp = text.NextTokenLogProbs([ids, ids[..3]], [ids[1], 5, 7]);
        using var full = lm.Model.Forward(TokenBatch.Single(ids[..3]));
        using var logits = lm.Model.Logits(full.RequireHidden().SliceRows(2, 1));
        var reference = new double[logits.Cols];
        Core.Models.LogitStatistics.LogSoftmax(logits.Row(0), reference);
        Assert.Equal(reference[5], logp[1][1], 4);
        Assert.All(logp[0], v => Assert.True(v < 0));
        var words = Enumerable.Range(0, text.Tokenizer.VocabularySize).Select(text.Tokenizer.TokenText).Where(t => t is not null).ToList();
        Assert.Contains(words, w => w!.StartsWith(' '));
        Assert.Null(text.Tokenizer.TokenText(299));
        Assert.Equal(lm.Windows(Split.Train).Window(0).Length, lm.Tokens(Split.Train, 0).Count);
    }

    private static void AssertClose(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++) Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-5 * (1 + Math.Abs(expected[i])), $"[{i}] {expected[i]} vs {actual[i]}");
    }

    [Theory]
    [InlineData(",colour=red", "Unknown hf: option 'colour'")]
    [InlineData(",context=x", "context")]
    [InlineData(",processing=fold_everything", "processing")]
    [InlineData(",test_fraction=1.5", "test_fraction")]
    [InlineData(",prepend_bos=maybe", "prepend_bos")]
    public void Bad_spec_keys_are_named(string extra, string message)
    {
        var e = Assert.ThrowsAny<BadInputException>(() => HfModelSpec.Parse("hf:" + TestData.LmModel("gpt2") + extra, Options()));
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void Problems_are_found_without_loading_the_weights()
    {
        Assert.Empty(ModelCatalog.Problems("hf:" + TestData.LmModel("gpt2") + ",context=16", Options()));
        Assert.Contains("did you mean", ModelCatalog.Problems("hf:" + TestData.LmModel("gpt2") + ",hook=blocks.1.hook_resid_psot", Options()).Single(), StringComparison.OrdinalIgnoreCase);
        Assert.Contains("exceeds", ModelCatalog.Problems("hf:" + TestData.LmModel("gpt2") + ",context=64", Options()).Single());
        Assert.Contains("the Hugging Face cache has no", ModelCatalog.Problems("hf:no/such-model-anywhere", Options(new Dictionary<string, string> { ["HF_HUB_CACHE"] = _dir.Path })).Single());
        Assert.Contains("dataset", ModelCatalog.Problems("hf:" + TestData.LmModel("gpt2") + ",context=16,dataset=missing.jsonl", Options()).Single());
    }

    /// <summary>A repo id is looked up in the Hugging Face cache layout: models--org--name/refs/main → snapshots/HASH.</summary>
    [Fact]
    public void A_repo_id_resolves_through_the_hugging_face_cache()
    {
        var hub = _dir.Directory("hub");
        var snapshot = _dir.Directory("hub", "models--tiny--gpt2", "snapshots", "abc123");
        foreach (var f in Directory.GetFiles(TestData.LmModel("gpt2"))) File.Copy(f, Path.Combine(snapshot, Path.GetFileName(f)));
        Directory.CreateDirectory(Path.Combine(hub, "models--tiny--gpt2", "refs"));
        File.WriteAllText(Path.Combine(hub, "models--tiny--gpt2", "refs", "main"), "abc123");

        foreach (var env in new[] { new Dictionary<string, string> { ["HF_HUB_CACHE"] = hub }, new() { ["HF_HOME"] = _dir.Path } })
        {
            if (env.ContainsKey("HF_HOME")) Directory.Move(hub, Path.Combine(_dir.Path, "hub-moved")); // HF_HOME/hub must be used
            var home = env.ContainsKey("HF_HOME") ? _dir.Path : null;
            if (home is not null) Directory.Move(Path.Combine(_dir.Path, "hub-moved"), Path.Combine(home, "hub"));
            var spec = HfModelSpec.Parse("hf:tiny/gpt2,context=16", Options(env));
            Assert.Equal(snapshot, HfSnapshot.ResolveDirectory(spec.Path));
        }
    }
    /// <summary>RAVEL's needs: interventions at the model's own hook, and whole JSON files read relative to the run's folder.</summary>
    [Fact]
    public void Offers_interventions_at_its_hook_and_reads_whole_json_files()
    {
        using var lm = Open();
        var interventions = Assert.IsType<LanguageModelInterventions>(lm.Capability<ITextInterventions>());
        Assert.Equal(lm.Hook, interventions.Hook);
        Assert.Same(interventions, lm.Capability<IHookGradient>()); // resid_post: the loss gradient starts there
        using (var mlp = Open(",context=16,windows=40,hook=blocks.1.hook_mlp_out"))
            Assert.Null(mlp.Capability<IHookGradient>()); // not a residual-stream hook
        var ids = lm.Tokenizer.Encode("The city of Paris");
        using var rows = interventions.HookRowsAt([ids], [ids.Length - 1]);
        using var all = lm.HookActivations([ids]);
        Assert.Equal(all.Row(ids.Length - 1).ToArray(), rows.Row(0).ToArray());

        var file = Path.GetRelativePath(TestData.RepositoryRoot, _dir.File("ravel.json"));
        Assert.Null(lm.JsonFile(file));
        File.WriteAllText(_dir.File("ravel.json"), "{\"Country\": [\"%s is in\"]}");
        Assert.Equal("%s is in", (string)lm.JsonFile(file)!["Country"]![0]!);
        File.WriteAllText(_dir.File("ravel.json"), "{\"a\": 1, \"a\": 2}");
        var e = Assert.ThrowsAny<BadInputException>(() => lm.JsonFile(file));
        Assert.Contains("ravel.json", e.Message);
    }
}
