using SaeBench.Models.FashionMnist;

namespace SaeBench.Models.Tests.FashionMnist;

/// <summary>The harness-defined second attribute of Fashion-MNIST (for SCR): brightness within each class.</summary>
public sealed class BrightnessTests(FashionMnistFixture fixture) : IClassFixture<FashionMnistFixture>
{
    [Fact]
    public void Every_class_is_split_about_evenly_into_bright_and_dark_in_both_splits_and_the_split_is_deterministic()
    {
        var data = fixture.Data;
        var (train, test) = FashionMnistBrightness.Compute(data);
        Assert.Equal(data.TrainLabels.Length, train.Length);
        Assert.Equal(data.TestLabels.Length, test.Length);
        foreach (var (values, labels, tolerance) in new[] { (train, data.TrainLabels, 0.01), (test, data.TestLabels, 0.1) })
            for (int c = 0; c < FashionMnistClasses.Names.Count; c++)
            {
                var ofClass = Enumerable.Range(0, labels.Length).Where(e => labels[e] == c).Select(e => values[e]).ToList();
                double bright = ofClass.Count(v => v == 0) / (double)ofClass.Count;
                Assert.True(Math.Abs(bright - 0.5) <= tolerance, $"class {FashionMnistClasses.Names[c]}: {bright:P1} bright");
                Assert.All(ofClass, v => Assert.True(v is 0 or 1));
            }
        var again = FashionMnistBrightness.Compute(data);
        Assert.Equal(train, again.Train);
        Assert.Equal(test, again.Test);
    }

    [Fact]
    public void Bright_images_have_more_ink_than_dark_ones_of_the_same_class()
    {
        var data = fixture.Data;
        var (train, _) = FashionMnistBrightness.Compute(data);
        double Mean(int e) => data.TrainImages.AsSpan(e * FashionMnistData.Pixels, FashionMnistData.Pixels).ToArray().Average(b => (double)b);
        for (int c = 0; c < FashionMnistClasses.Names.Count; c++)
        {
            var ofClass = Enumerable.Range(0, train.Length).Where(e => data.TrainLabels[e] == c).ToList();
            double darkest = ofClass.Where(e => train[e] == 0).Min(Mean);
            double brightest = ofClass.Where(e => train[e] == 1).Max(Mean);
            Assert.True(darkest >= brightest, $"class {c}: a bright image ({darkest}) is darker than a dark one ({brightest})");
        }
    }
}
