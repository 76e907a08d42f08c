using SaeBench.TestKit;
using SaeBench.Compute.Tensors;
using SaeBench.Core.Models;
using SaeBench.Evals.Shared;
using SaeBench.Evals.Tests.Fixtures;
using SaeBench.Core.Autoencoders;

namespace SaeBench.Evals.Tests.Shared;

public class PooledExamplesTests
{
    [Fact]
    public void PoolingAveragesOnlyValidPositions()
    {
        // 3 examples × 3 positions, d = 2; example 1's middle position is masked, example 2 has no valid position.
        float[] x =
        [
            1, 2, 3, 4, 5, 6,       // example 0: mean (3, 4)
            10, 0, 99, 99, 20, 2,   // example 1: rows 0 and 2 valid → (15, 1)
            7, 7, 7, 7, 7, 7,       // example 2: nothing valid → zeros
        ];
        bool[] valid = [true, true, true, true, false, true, false, false, false];
        var model = FakeModelBuilder.Create(2, positions: 3).WithClasses("a").WithSplit(Split.Train, x, [0, 0, 0], valid).Build();
        var context = EvalFixtures.Context(Sae.Identity(2), model, batchRows: 3);
        var pooled = ExampleEncoding.EncodePooled(context, Split.Train, [2, 1, 0], latents: true, activations: true);

        Assert.Equal(new[] { 0, 1, 2 }, pooled.Examples.ToArray());
        Assert.Equal(new[] { 3f, 4f, 15f, 1f, 0f, 0f }, pooled.Activations!.ToArray());
        Assert.Equal(pooled.Activations!.ToArray(), pooled.Latents!.ToArray()); // identity SAE: f = x
    }

    [Fact]
    public void EncodingChosenExamplesMatchesPoolingTheFullStream()
    {
        // Reference: stream the whole split through the SAE and pool the chosen examples from it.
        var rng = new Random(3);
        int n = 300, d = 5, f = 7;
        var x = Enumerable.Range(0, n * 2 * d).Select(_ => (float)rng.NextDouble() - 0.3f).ToArray();
        var valid = Enumerable.Range(0, n * 2).Select(i => i % 5 != 3).ToArray();
        var model = FakeModelBuilder.Create(d, positions: 2).WithClasses("a").WithSplit(Split.Test, x, new int[n], valid).Build();
        var wEnc = new HostMatrix(d, f);
        var wDec = new HostMatrix(f, d);
        for (int i = 0; i < d * f; i++) { wEnc.Span[i] = (float)rng.NextDouble() - 0.5f; wDec.Span[i] = (float)rng.NextDouble(); }
        var sae = new Sae("relu", new SaeBench.Core.Autoencoders.SaeParameters { WEnc = wEnc, BEnc = new float[f], WDec = wDec, BDec = new float[d] });
        var context = EvalFixtures.Context(sae, model, batchRows: 16);
        int[] chosen = [0, 1, 2, 40, 41, 150, 151, 152, 153, 299];

        var reference = new PoolingCollector(chosen, f, d);
        foreach (var batch in context.Encode(Split.Test)) reference.Observe(batch);
        var expected = reference.Finish();
        var actual = ExampleEncoding.EncodePooled(context, Split.Test, chosen.Reverse(), latents: true, activations: true);

        Assert.Equal(expected.Examples.ToArray(), actual.Examples.ToArray());
        Assert.Equal(expected.Activations!.ToArray(), actual.Activations!.ToArray());
        var e = expected.Latents!.ToArray();
        var a = actual.Latents!.ToArray();
        for (int i = 0; i < e.Length; i++) Assert.Equal(e[i], a[i], 5);
    }

    [Fact]
    public void CollectorRefusesToFinishWithMissingExamples()
    {
        var c = new PoolingCollector([1, 5], 0, 2);
        using var x = HostMatrix.FromSpan([1f, 2f], 1, 2);
        c.Observe(x, null, [1], [true]);
        var e = Assert.Throws<InvalidOperationException>(() => c.Finish());
        Assert.Contains("Example 5", e.Message);
    }

    [Fact]
    public void RunsMergeNeighboursWithinTheGap()
    {
        Assert.Equal(new[] { 0..3, 10..11, 20..24 }, ExampleEncoding.Runs([0, 2, 10, 20, 23], 3).ToArray());
        Assert.Empty(ExampleEncoding.Runs([], 3));
    }

    [Fact]
    public void ChooseIsDistinctSortedSeededAndCapped()
    {
        int[] pool = Enumerable.Range(100, 50).ToArray();
        var a = Sampling.Choose(pool, 20, new Random(1));
        Assert.Equal(20, a.Distinct().Count());
        Assert.True(a.SequenceEqual(a.Order()));
        Assert.All(a, v => Assert.InRange(v, 100, 149));
        Assert.Equal(a, Sampling.Choose(pool, 20, new Random(1)));
        Assert.NotEqual(a, Sampling.Choose(pool, 20, new Random(2)));
        Assert.Equal(pool, Sampling.Choose(pool, 80, new Random(1)));
    }

    [Fact]
    public void ChooseIsUniform()
    {
        // Each of 10 elements should be picked with probability 3/10; over 4000 draws the count is 1200 ± ~3.5σ (σ ≈ 29).
        var counts = new int[10];
        var rng = new Random(5);
        for (int t = 0; t < 4000; t++)
            foreach (int v in Sampling.Choose(Enumerable.Range(0, 10).ToArray(), 3, rng)) counts[v]++;
        Assert.All(counts, c => Assert.InRange(c, 1100, 1300));
    }

    [Fact]
    public void DerivedSeedsDependOnSeedAndSalt()
    {
        Assert.Equal(Sampling.Derive(1, "x"), Sampling.Derive(1, "x"));
        Assert.NotEqual(Sampling.Derive(1, "x"), Sampling.Derive(2, "x"));
        Assert.NotEqual(Sampling.Derive(1, "x"), Sampling.Derive(1, "y"));
    }
}
