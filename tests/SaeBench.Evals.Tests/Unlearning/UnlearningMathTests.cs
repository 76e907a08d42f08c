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
}
