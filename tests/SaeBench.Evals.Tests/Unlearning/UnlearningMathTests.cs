using SaeBench.Compute.Tensors;
using SaeBench.Evals.Unlearning;

namespace SaeBench.Evals.Tests.Unlearning;

public class UnlearningMathTests
{
    [Fact]
    public void SelectionFiltersByRetainSortsByForgetAndBreaksTiesByIndex()
    {
        double[] forget = [0.5, 0.9, 0.5, 0.0, 0.7, 0.8];
        double[] retain = [0.0, 0.02, 0.001, 0.0, 0.0005, 0.0];
        // τ = 0.01: eligible 0 (0.5), 2 (0.5), 3 (forget 0 → dropped), 4 (0.7), 5 (0.8); latent 1 fails τ.
        Assert.Equal(new[] { 5, 4, 0, 2 }, UnlearningMath.SelectLatents(forget, retain, 0.01, 10));
        Assert.Equal(new[] { 5, 4 }, UnlearningMath.SelectLatents(forget, retain, 0.01, 2));
        // τ = 0.001: latent 2 (retain exactly 0.001) is excluded (strict <).
        Assert.Equal(new[] { 5, 4, 0 }, UnlearningMath.SelectLatents(forget, retain, 0.001, 10));
    }

    [Fact]
    public void ScoreTakesTheWorstForgetAccuracyAmongConfigurationsThatKeepRetain()
    {
        var cfg = new UnlearningConfiguration(0.01, 10, 20);
        var outcomes = new List<UnlearningOutcome>
        {
            new(cfg, ForgetAccuracy: 0.6, RetainAccuracy: 1.0),
            new(cfg, ForgetAccuracy: 0.1, RetainAccuracy: 0.98), // retain broken → counts as 1
            new(cfg, ForgetAccuracy: 0.3, RetainAccuracy: 0.99), // exactly 0.99 keeps retain
        };
        Assert.Equal(0.7, UnlearningMath.Score(outcomes), 12);
        Assert.Equal(0.0, UnlearningMath.Score([new(cfg, 0.0, 0.5)]));
        Assert.True(double.IsNaN(UnlearningMath.Score([])));
    }

    [Fact]
    public void WilsonIntervalMatchesHandComputedValues()
    {
        // 0 of 10: [0, z²/(n + z²)] = [0, 3.8416/13.8416].
        var (lo, hi) = UnlearningMath.Wilson(0, 10);
        Assert.Equal(0.0, lo, 12);
        Assert.Equal(3.8416 / 13.8416, hi, 9);
        // 95 of 100 (textbook value 0.8882–0.9785): centre (0.95 + z²/200)/(1 + z²/100), half-width z/(1 + z²/100)·√(p(1−p)/n + z²/(4n²)).
        (lo, hi) = UnlearningMath.Wilson(95, 100);
        Assert.Equal(0.88825, lo, 5e-5);
        Assert.Equal(0.97845, hi, 5e-5);
        // The retain cut 0.99 sits inside the interval of 1980/2000 (0.99) and of 7920/8000 only by a narrower margin.
        var small = UnlearningMath.Wilson(1980, 2000);
        var large = UnlearningMath.Wilson(7920, 8000);
        Assert.True(large.High - large.Low < small.High - small.Low);
        Assert.True(double.IsNaN(UnlearningMath.Wilson(0, 0).Low));
    }

    [Fact]
    public void TheScoringConfigurationIsTheLowestForgetAccuracyPassingTheCut()
    {
        var a = new UnlearningConfiguration(0.01, 10, 0.5);
        var b = new UnlearningConfiguration(0.01, 20, 1);
        var c = new UnlearningConfiguration(0.001, 10, 1);
        List<UnlearningOutcome> outcomes = [new(a, 0.6, 1.0), new(b, 0.1, 0.98), new(c, 0.3, 0.99)];
        Assert.Equal(c, UnlearningMath.ScoringConfiguration(outcomes));
        Assert.Equal(1 - 0.3, UnlearningMath.Score(outcomes), 12);
        Assert.Null(UnlearningMath.ScoringConfiguration([new(b, 0.1, 0.98)]));
    }

    [Fact]
    public void EveryCorrectlyClassifiedRetainExampleIsUsedByDefault()
    {
        var defaults = new UnlearningOptions();
        Assert.Equal(0, defaults.MaxRetainExamples);
        Assert.Equal(0, defaults.MaxForgetExamples);
    }
}
