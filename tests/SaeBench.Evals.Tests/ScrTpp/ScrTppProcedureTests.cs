using System.Text.Json.Nodes;
using SaeBench.Compute.Tensors;
using SaeBench.Core.Autoencoders;
using SaeBench.Core.Evaluation;
using SaeBench.Core.Models;
using SaeBench.Evals.ScrTpp;
using SaeBench.Evals.Shared;
using SaeBench.Evals.Tests.Fixtures;
using SaeBench.Models.FashionMnist;
using SaeBench.TestKit;

namespace SaeBench.Evals.Tests.ScrTpp;

public class ScrTppProcedureTests
{
    [Fact]
    public void Scr_sets_are_built_from_the_four_quadrants_as_saebench_builds_them()
    {
        // 40 examples per quadrant: classes a/b, attribute m/f.
        var c1 = new List<string?>();
        var c2 = new List<string?>();
        foreach (var (x, y) in new[] { ("a", "m"), ("a", "f"), ("b", "m"), ("b", "f") })
            for (int i = 0; i < 40; i++) { c1.Add(x); c2.Add(y); }
        c1.Add("c"); c2.Add("m"); // another class: never used
        var sets = ScrEvaluator.Sets(c1.ToArray(), c2.ToArray(), "a", "b", "m", "f", size: 40, new Random(1)); // q = 10
        string Q(int e) => c1[e] + c2[e];
        Assert.Equal(20, sets.Biased.Positives.Length);
        Assert.All(sets.Biased.Positives, e => Assert.Equal("am", Q(e)));
        Assert.All(sets.Biased.Negatives, e => Assert.Equal("bf", Q(e)));
        Assert.Equal(20, sets.Biased.Negatives.Length);
        Assert.Equal(new[] { ("am", 10), ("bm", 10) }, sets.Spurious.Positives.GroupBy(Q).Select(g => (g.Key, g.Count())).OrderBy(t => t.Key));
        Assert.Equal(new[] { ("af", 10), ("bf", 10) }, sets.Spurious.Negatives.GroupBy(Q).Select(g => (g.Key, g.Count())).OrderBy(t => t.Key));
        Assert.Equal(new[] { ("af", 10), ("am", 10) }, sets.Target.Positives.GroupBy(Q).Select(g => (g.Key, g.Count())).OrderBy(t => t.Key));
        Assert.Equal(new[] { ("bf", 10), ("bm", 10) }, sets.Target.Negatives.GroupBy(Q).Select(g => (g.Key, g.Count())).OrderBy(t => t.Key));
        // The balanced sets reuse examples of the biased set's quadrants (the first q of each).
        Assert.Subset(sets.Biased.Positives.ToHashSet(), sets.Target.Positives.Where(e => Q(e) == "am").ToHashSet());
        Assert.Equal([20, 10, 10, 20], sets.Quadrants);
    }

    [Fact]
    public void Scr_score_is_the_closed_fraction_of_the_gap_and_undefined_without_a_gap()
    {
        Assert.Equal(0.5, ScrEvaluator.Score(changed: 0.8, original: 0.7, clean: 0.9)!.Value, 12);
        Assert.Equal(-1, ScrEvaluator.Score(changed: 0.6, original: 0.7, clean: 0.8)!.Value, 12);
        Assert.Null(ScrEvaluator.Score(changed: 0.9, original: 0.9, clean: 0.9005));
    }

    [Fact]
    public void Fashion_mnist_pairs_siblings_first()
    {
        var catalog = new TaskCatalog(FashionMnistClasses.Names, FashionMnistClasses.Hierarchy, null);
        Assert.Equal([("T-shirt/top", "Pullover"), ("Coat", "Shirt"), ("Sandal", "Sneaker"), ("Trouser", "Dress")], ScrEvaluator.DefaultClassPairs(catalog));
        Assert.Equal([("a", "b"), ("c", "d")], ScrEvaluator.DefaultClassPairs(TaskCatalog.ClassesOnly(["a", "b", "c", "d", "e"])));
    }

    [Fact]
    public void Ablating_pooled_rows_equals_ablating_every_token_and_pooling_after()
    {
        // 3 positions, the middle one masked; a ReLU SAE with a decoder bias and an input scale.
        int d = 4, f = 6, examples = 5, positions = 3;
        var rng = new Random(2);
        var x = Enumerable.Range(0, examples * positions * d).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        var valid = Enumerable.Range(0, examples * positions).Select(r => r % positions != 1).ToArray();
        var model = FakeModelBuilder.Create(d, positions).WithSplit(Split.Test, x, classes: new int[examples], valid: valid).Build();
        var wEnc = new HostMatrix(d, f);
        var wDec = new HostMatrix(f, d);
        for (int i = 0; i < d; i++) for (int j = 0; j < f; j++) { wEnc[i, j] = (float)(rng.NextDouble() - 0.3); wDec[j, i] = (float)(rng.NextDouble() - 0.5); }
        var sae = new Sae("relu", new SaeParameters { WEnc = wEnc, BEnc = new float[f], WDec = wDec, BDec = [0.1f, -0.2f, 0.3f, 0f], InputScale = 2f });
        var context = EvalFixtures.Context(sae, model);
        var ids = Enumerable.Range(0, examples).ToArray();
        var pooled = ExampleEncoding.EncodePooled(context, Split.Test, ids, latents: true, activations: true);
        int[] ablated = [4, 1, 3];
        HostMatrix? fromPooled = null;
        ScrTppProcedure.AblationSweep(sae, pooled, ids, ablated, [3], (_, m) => { fromPooled = m.Clone(); return 0; }, CancellationToken.None);

        // Token by token: x' = decode(f with the latents zeroed) + (x − decode(f)), then the mean over valid tokens.
        using var tokens = HostMatrix.FromSpan(x, examples * positions, d);
        using var codes = new HostMatrix(tokens.Rows, f);
        sae.Encode(context.Backend, tokens, codes);
        using var edited = new HostMatrix(tokens.Rows, d);
        LatentIntervention.WithErrorTerm(sae, tokens, codes, LatentEdit.Ablate(ablated), edited);
        for (int e = 0; e < examples; e++)
            for (int k = 0; k < d; k++)
            {
                double sum = 0;
                int n = 0;
                for (int p = 0; p < positions; p++) if (valid[e * positions + p]) { sum += edited[e * positions + p, k]; n++; }
                Assert.Equal(sum / n, fromPooled![e, k], 5);
            }
    }

    [Fact]
    public void Attribution_uses_the_decoder_in_model_units_and_tpp_ignores_latents_more_active_on_negatives()
    {
        // Two latents: 0 fires on positives, 1 on negatives; both decoder rows point along the probe.
        var pooledLatents = HostMatrix.FromSpan([1f, 0f, 1f, 0f, 0f, 1f, 0f, 1f], 4, 2);
        var pooled = new PooledExamples([0, 1, 2, 3], pooledLatents, new HostMatrix(4, 1));
        var set = new ProbeSet([0, 1], [2, 3]);
        var probe = new LinearProbe([2.0], 0);
        var sae = new Sae("relu", new SaeParameters { WEnc = new HostMatrix(1, 2), BEnc = new float[2], WDec = HostMatrix.FromSpan([1f, 1f], 2, 1), BDec = [0f], InputScale = 4f });
        var scr = ScrTppProcedure.Effects(sae, pooled, set, probe, tpp: false);
        var tpp = ScrTppProcedure.Effects(sae, pooled, set, probe, tpp: true);
        Assert.Equal([0.5, 0.5], scr); // |±1 · 2 · 1/4|
        Assert.Equal([0.5, 0.0], tpp);  // Δ clamped at 0
        Assert.Equal([0], ScrTppProcedure.Ranking(tpp)); // only non-zero effects are ablated
    }

    [Fact]
    public void Options_are_checked_with_clear_messages()
    {
        var e = Assert.ThrowsAny<Exception>(() => new ScrEvaluator().ParseOptions(new JsonObject
        {
            ["n_values"] = new JsonArray(2, 2, 0), ["train_set_size"] = 2,
            ["column1_vals_lookup"] = new JsonObject { ["classes"] = new JsonArray(new JsonArray("a", "a")) },
        }));
        Assert.Contains("n_values", e.Message);
        Assert.Contains("train_set_size: 2", e.Message);
        Assert.Contains("two different values", e.Message);
        var unknown = Assert.ThrowsAny<Exception>(() => new ScrEvaluator().ParseOptions(new JsonObject { ["dataset_names"] = new JsonArray("LabHC/bias_in_bios_class_set2"), ["data_directory"] = "x" }));
        Assert.Contains("LabHC/bias_in_bios_class_set1", unknown.Message);
        Assert.ThrowsAny<Exception>(() => new TppEvaluator().ParseOptions(new JsonObject { ["probe_lr"] = 0 }));
    }

    [Fact]
    public void A_model_without_a_second_attribute_is_not_applicable_and_says_why()
    {
        var model = FakeModelBuilder.Random(4, 20, seed: 1).WithClasses("a", "b", "c").Build();
        var evaluator = new ScrEvaluator();
        var e = Assert.Throws<NotApplicableException>(() => evaluator.Start(EvalFixtures.Context(Sae.Identity(4), model), evaluator.ParseOptions([])));
        Assert.Contains("spurious", e.Message);
        var unlabelled = FakeModelBuilder.Random(4, 20, seed: 1).Build();
        Assert.Throws<NotApplicableException>(() => new TppEvaluator().Start(EvalFixtures.Context(Sae.Identity(4), unlabelled), new TppEvaluator().ParseOptions([])));
    }
}
