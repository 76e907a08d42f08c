using SaeBench.Evals.Autointerp;

namespace SaeBench.Evals.Tests.Autointerp;

public class ExampleSamplingTests
{
    private static float[] Activations(int n, int seed)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => rng.NextDouble() < 0.3 ? (float)(rng.NextDouble() * 10) : 0f).ToArray();
    }

    [Fact]
    public void CountsDisjointnessAndTopExamples()
    {
        var act = Activations(500, 1);
        var r = ExampleSampling.Select(act, seed: 42);
        Assert.Equal(15, r.Generation.Length);
        Assert.Equal(14, r.Scoring.Length);
        var all = r.Generation.Concat(r.Scoring.Select(s => s.Index)).ToArray();
        Assert.Equal(all.Length, all.Distinct().Count());

        // Independent ranking: the 12 highest activations (ties → lower index); 10 of them are generation examples and
        // the other 2 scoring examples, whichever way the random split fell.
        var ranked = Enumerable.Range(0, act.Length).OrderByDescending(i => act[i]).ThenBy(i => i).ToArray();
        var top12 = ranked[..12].ToHashSet();
        var scoringIdx = r.Scoring.Select(s => s.Index).ToHashSet();
        Assert.Equal(10, r.Generation.Count(top12.Contains));
        Assert.Equal(2, scoringIdx.Count(top12.Contains));
        Assert.Equal(act[ranked[0]], r.TopActivation);
        // Importance-sampled generation examples come from active examples outside the top 12.
        foreach (int i in r.Generation.Where(i => !top12.Contains(i))) Assert.True(act[i] > 0);
        Assert.Equal(5, r.Generation.Count(i => !top12.Contains(i)));
        // Shown strongest first.
        Assert.Equal(r.Generation.OrderByDescending(i => act[i]).ThenBy(i => i), r.Generation);
        // Labels follow the 1% rule.
        foreach (var s in r.Scoring) Assert.Equal(act[s.Index] > 0.01 * r.TopActivation, s.Active);
    }

    [Fact]
    public void SameSeedSameChoiceDifferentSeedDifferentChoice()
    {
        var act = Activations(500, 2);
        var a = ExampleSampling.Select(act, 7);
        var b = ExampleSampling.Select(act, 7);
        var c = ExampleSampling.Select(act, 8);
        Assert.Equal(a.Generation, b.Generation);
        Assert.Equal(a.Scoring, b.Scoring);
        Assert.NotEqual(a.Scoring.Select(s => s.Index), c.Scoring.Select(s => s.Index));
    }

    [Fact]
    public void ImportanceSamplingFavoursLargeActivations()
    {
        // Outside the top 12: 100 examples at 1.0 and 100 at 3.0; weights ∝ a² → P(3.0) = 900/1000 per draw.
        var act = Enumerable.Repeat(100f, 12).Concat(Enumerable.Repeat(1f, 100)).Concat(Enumerable.Repeat(3f, 100)).ToArray();
        int big = 0, total = 0;
        for (int seed = 0; seed < 200; seed++)
        {
            var r = ExampleSampling.Select(act, seed);
            foreach (int i in r.Generation.Where(i => act[i] < 100f)) { total++; if (act[i] == 3f) big++; }
        }
        double share = (double)big / total;
        Assert.InRange(share, 0.85, 0.95);
    }

    [Fact]
    public void FewExamplesGiveWhatIsLeftWithoutDuplicates()
    {
        float[] act = [5f, 0f, 1f, 0f, 2f];
        var r = ExampleSampling.Select(act, 3);
        var all = r.Generation.Concat(r.Scoring.Select(s => s.Index)).ToArray();
        Assert.Equal(5, all.Length);
        Assert.Equal(5, all.Distinct().Count());
        Assert.Equal(new[] { 0, 4, 2 }, r.Generation);
        Assert.Equal(2, r.Scoring.Length);
        Assert.All(r.Scoring, s => Assert.False(s.Active));
    }

    [Fact]
    public void TopAndImportanceSplitsAreRandomAsSaeBenchs()
    {
        // SAEBench splits the 12 top examples at random 10 / 2 and the 7 importance-weighted ones 5 / 2. Here the top 12
        // are 100 … 89, exactly 7 other examples are active (so all 7 are drawn; the one at 10 almost always first), and 300
        // are inactive. Each top example must land among the scoring ones with probability 2/12 whatever its rank (a split
        // by rank would put ranks 11–12 there every time), and the strongest importance draw with probability 2/7 (a split
        // by draw order would never score it).
        var act = Enumerable.Range(0, 12).Select(i => 100f - i).Concat([10f, 1f, 1f, 1f, 1f, 1f, 1f]).Concat(Enumerable.Repeat(0f, 300)).ToArray();
        var scoredTop = new int[12];
        int runs = 1400, scoredStrongDraw = 0;
        for (int seed = 0; seed < runs; seed++)
        {
            var r = ExampleSampling.Select(act, seed);
            var scoring = r.Scoring.Select(s => s.Index).ToHashSet();
            for (int i = 0; i < 12; i++) if (scoring.Contains(i)) scoredTop[i]++;
            if (scoring.Contains(12)) scoredStrongDraw++;
            Assert.Equal(5, r.Generation.Count(i => i >= 12 && i < 19));
        }
        // Binomial(1400, 1/6): mean 233, s.d. ≈ 13.9; ± 5 s.d.
        foreach (int c in scoredTop) Assert.InRange(c, 163, 303);
        // Binomial(1400, 2/7): mean 400, s.d. ≈ 16.9; ± 5 s.d.
        Assert.InRange(scoredStrongDraw, 315, 485);
    }

    [Fact]
    public void JudgeScoreCountsAgreement()
    {
        ScoringExample[] s = [new(10, true), new(11, false), new(12, true), new(13, false)];
        Assert.Equal(0.75, ExampleSampling.Score(s, [0, 1, 2]));
        Assert.Equal(1.0, ExampleSampling.Score(s, [0, 2]));
    }

    [Fact]
    public void LatentSamplingAndSeedsAreDeterministic()
    {
        int[] alive = Enumerable.Range(0, 100).Select(i => i * 3).ToArray();
        var a = ExampleSampling.SampleLatents(alive, 10, 5);
        Assert.Equal(a, ExampleSampling.SampleLatents(alive, 10, 5));
        Assert.Equal(10, a.Distinct().Count());
        Assert.All(a, v => Assert.Contains(v, alive));
        Assert.Equal(3, ExampleSampling.SampleLatents([1, 2, 3], 10, 5).Length);
        Assert.Equal(ExampleSampling.LatentSeed(1, 2), ExampleSampling.LatentSeed(1, 2));
        Assert.NotEqual(ExampleSampling.LatentSeed(1, 2), ExampleSampling.LatentSeed(1, 3));
        Assert.NotEqual(ExampleSampling.LatentSeed(1, 2), ExampleSampling.LatentSeed(2, 2));
    }

    [Fact]
    public void LabelCoverIsTheSmallestSetReachingTheShare()
    {
        // Mass: label 3 → 5, label 1 → 3, label 2 → 2; total 10. 80% needs 8 → {3, 1}.
        Assert.Equal(new[] { 1, 3 }, LabelCover.Smallest([3, 1, 2, 3, 1], [4f, 2f, 2f, 1f, 1f], 0.8));
        Assert.Equal(new[] { 3 }, LabelCover.Smallest([3, 1, 2, 3, 1], [4f, 2f, 2f, 1f, 1f], 0.5));
        Assert.Empty(LabelCover.Smallest([1, 2], [0f, 0f]));
    }
}
