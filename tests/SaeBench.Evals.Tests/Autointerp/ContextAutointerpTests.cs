using System.Text.Json.Nodes;
using SaeBench.Core.Autoencoders;
using SaeBench.Core.Running;
using SaeBench.Evals.Autointerp;
using SaeBench.Evals.Tests.Fixtures;
using SaeBench.Models;
using SaeBench.TestKit;

namespace SaeBench.Evals.Tests.Autointerp;

/// <summary>Autointerp on token contexts (a language model) and SAEBench's window selection.</summary>
public class ContextAutointerpTests
{
    /// <summary>Two contexts of 30 positions: a latent that fires at a few known positions.</summary>
    private static float[][] Acts()
    {
        var a = new[] { new float[30], new float[30] };
        a[0][12] = 5; a[0][14] = 4; a[0][25] = 3; a[1][11] = 2; a[1][3] = 9; // position 3 is inside the buffer: never a centre
        a[1][18] = 0.5f;
        return a;
    }

    [Fact]
    public void Top_windows_skip_overlaps_and_the_buffer_and_importance_draws_stay_below_the_top()
    {
        var s = ContextExamples.Select(Acts(), buffer: 10, seed: 1,
            new ExampleSamplingOptions { TopForGeneration = 2, TopForScoring = 1, ImportanceForGeneration = 1, ImportanceForScoring = 0, RandomForScoring = 3 });
        var top = s.Generation.Concat(s.Scoring.Select(x => x.Window)).ToList();
        Assert.Equal(5f, s.TopActivation);
        Assert.DoesNotContain(top, w => w.Context == 1 && w.Centre == 3);          // in the buffer
        Assert.DoesNotContain(top, w => w.Context == 0 && w.Centre == 14);         // within ±10 of 12 in the same context
        Assert.Contains(top, w => w.Context == 0 && w.Centre == 12);
        Assert.Contains(top, w => w.Context == 1 && w.Centre == 11);
        Assert.Equal(0.05f, s.ActiveThreshold, 6);
        // Only two top windows exist (the rest overlap or sit in the buffer): both go to generation with the one
        // importance-weighted draw (0.5 at context 1, 18), so scoring holds just the 3 random windows.
        Assert.Equal(3, s.Generation.Length);
        Assert.Equal(3, s.Scoring.Length);
    }

    [Fact]
    public void Windows_render_with_active_tokens_marked()
    {
        var tokens = Enumerable.Range(0, 30).Select(i => $" t{i}").ToList();
        var text = ContextExamples.Render(tokens, Acts()[0], new ContextWindow(0, 12), buffer: 2, threshold: 0.05f, mark: true);
        Assert.Equal(" t10 t11<< t12>> t13<< t14>>", text);
        Assert.Equal(" t10 t11 t12 t13 t14", ContextExamples.Render(tokens, Acts()[0], new ContextWindow(0, 12), 2, 0.05f, mark: false));
    }

    [Fact]
    public void The_offline_token_cover_judge_explains_by_tokens_and_finds_them()
    {
        var cover = new TokenCoverExplainer();
        var explanation = cover.Explain(0, [new GenerationExample(0, -1, " a<< cat>> sat", 2f), new GenerationExample(1, -1, " the<< cat>>", 1f)], default);
        Assert.Equal("tokens: « cat»", explanation);
        Assert.Equal([1], cover.PredictActive(explanation, [new JudgeExample(0, -1, " a dog"), new JudgeExample(1, -1, " the cat ran")], default));
    }

    [Fact]
    public void On_a_language_model_contexts_are_windows_of_its_corpus()
    {
        var lm = ModelCatalog.Create("hf:" + TestData.LmModel("gpt2") + ",context=32,windows=24",
            new ModelOptions { WorkingDirectory = TestData.RepositoryRoot, CacheActivations = false });
        var sae = Sae.Identity(lm.Info.DModel); // identity latents fire wherever the residual is positive
        var evaluator = new AutointerpEvaluator();
        var options = evaluator.ParseOptions(new JsonObject { ["n_latents"] = 3, ["buffer"] = 4 });
        var r = SingleJob.Run(evaluator, options, EvalFixtures.Context(sae, lm, batchRows: 128));

        Assert.Equal(TokenCoverExplainer.OfflineName, (string)r.Unstructured!["judge"]!);
        Assert.Equal(9, (int)r.Unstructured!["window_tokens"]!);
        Assert.Equal(3, r.Details.Count);
        Assert.All(r.Details, d => Assert.Contains(d["generation_windows"]!.AsArray(), w => ((string)w!).Contains("<<")));
        // 10 random windows always; up to 2 top and 2 importance-weighted ones where the latent has enough windows.
        Assert.All(r.Details, d => Assert.InRange(d["scoring_windows"]!.AsArray().Count, 10, 14));
        Assert.NotNull(r.Get("autointerp.offline_judge_score"));
    }
}
