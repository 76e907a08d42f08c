using SaeBench.TestKit;
using SaeBench.Compute.Tensors;
using SaeBench.Core.Models;
using SaeBench.Models.Synthetic;

namespace SaeBench.Models.Tests.Synthetic;

public sealed class SyntheticWorldTests
{
    private static readonly SyntheticWorldConfig Small = new()
    {
        Seed = 5, DModel = 32, Features = 512, Parents = 26, ChildrenPerParent = 3, CorrelatedGroups = 8, GroupSize = 4,
        TrainExamples = 20000, TestExamples = 1000,
    };

    private static HostMatrix Codes(SyntheticWorld world, Split split)
    {
        var codes = new HostMatrix(world.Count(split), world.Config.Features);
        world.TrueCodes(split, 0, codes);
        return codes;
    }

    private static void AssertRate(double expected, long hits, long trials, string what)
    {
        double measured = (double)hits / trials;
        double tolerance = 5 * Math.Sqrt(expected * (1 - expected) / trials) + 0.002;
        Assert.True(Math.Abs(measured - expected) <= tolerance, $"{what}: measured {measured:F4} over {trials}, configured {expected:F4} (±{tolerance:F4})");
    }

    [Fact]
    public void Measured_firing_rates_match_the_configured_zipf_law_and_children_fire_only_with_their_parents()
    {
        var c = Small;
        var world = new SyntheticWorld(c);
        using var codes = Codes(world, Split.Train);
        int n = codes.Rows;
        var fired = new long[c.Features];
        for (int e = 0; e < n; e++)
        {
            var row = codes.Row(e);
            for (int i = 0; i < row.Length; i++) if (row[i] != 0) fired[i]++;
            for (int p = 0; p < c.Parents; p++)
            for (int j = 0; j < c.ChildrenPerParent; j++)
                Assert.False(row[c.Parents + p * c.ChildrenPerParent + j] != 0 && row[p] == 0, $"example {e}: child {j} of parent {p} fired without it");
        }

        double Zipf(int rank) => c.MaxFiringRate * Math.Pow(rank + 1, -c.ZipfExponent);
        for (int p = 0; p < c.Parents; p++)
        {
            AssertRate(Zipf(p), fired[p], n, $"parent {p}");
            for (int j = 0; j < c.ChildrenPerParent; j++)
                AssertRate(c.ChildFiringRate * Math.Pow(j + 1, -c.ZipfExponent), fired[c.Parents + p * c.ChildrenPerParent + j], fired[p], $"child {j} | parent {p}");
        }
        for (int g = 0; g < c.CorrelatedGroups; g++)
        for (int k = 0; k < c.GroupSize; k++)
            AssertRate(world.GroupFiringRate(g) * c.GroupMemberRate, fired[c.FirstGroupMember + g * c.GroupSize + k], n, $"group {g} member {k}");
        for (int id = c.FirstIndependent; id < c.Features; id++)
            AssertRate(world.Features[id].FiringProbability, fired[id], n, $"feature {id}");

        // The groups and independent features together take exactly the Zipf ranks after the parents.
        var unitRates = Enumerable.Range(0, c.CorrelatedGroups).Select(world.GroupFiringRate)
            .Concat(Enumerable.Range(c.FirstIndependent, c.IndependentCount).Select(i => world.Features[i].FiringProbability))
            .Order().ToArray();
        var zipf = Enumerable.Range(c.Parents, c.CorrelatedGroups + c.IndependentCount).Select(Zipf).Order().ToArray();
        Assert.Equal(zipf.Length, unitRates.Length);
        for (int i = 0; i < zipf.Length; i++) Assert.Equal(zipf[i], unitRates[i], 12);
    }

    [Fact]
    public void Members_of_a_group_fire_together_more_often_than_independence_predicts()
    {
        var c = Small;
        var world = new SyntheticWorld(c);
        using var codes = Codes(world, Split.Train);
        int n = codes.Rows, a = c.FirstGroupMember, b = c.FirstGroupMember + 1;
        long fa = 0, fb = 0, both = 0;
        for (int e = 0; e < n; e++)
        {
            bool x = codes[e, a] != 0, y = codes[e, b] != 0;
            if (x) fa++;
            if (y) fb++;
            if (x && y) both++;
        }
        double joint = (double)both / n, independent = (double)fa / n * fb / n;
        // P(a, b) = g·q² versus (g·q)²: a factor 1/g larger.
        Assert.True(joint > 3 * independent, $"P(a,b) = {joint:F5}, P(a)P(b) = {independent:F5}");
    }

    [Fact]
    public void Magnitudes_follow_their_per_feature_scales_whose_sizes_follow_a_power_law()
    {
        var c = Small;
        var world = new SyntheticWorld(c);
        using var codes = Codes(world, Split.Train);
        for (int i = 0; i < c.Features; i++)
        {
            double scale = world.Features[i].MagnitudeScale;
            for (int e = 0; e < codes.Rows; e++)
            {
                float v = codes[e, i];
                if (v != 0) Assert.InRange(v, 0.5 * scale - 1e-6, 1.5 * scale + 1e-6);
            }
        }
        var scales = world.Features.Select(f => f.MagnitudeScale).OrderDescending().ToArray();
        for (int k = 0; k < scales.Length; k++) Assert.Equal(Math.Pow(k + 1, -c.MagnitudeExponent), scales[k], 12);
    }

    [Trait(Category.Name, Category.Slow)]

    [Fact]
    public void Activations_are_the_sum_of_firing_directions_plus_noise_of_the_configured_size()
    {
        foreach (double noise in new[] { 0.0, 0.05 })
        {
            var world = new SyntheticWorld(Small with { NoiseStd = noise, TrainExamples = 3000 });
            using var codes = Codes(world, Split.Train);
            double sumSq = 0;
            long count = 0;
            foreach (var batch in world.Activations(Split.Train).Batches(700))
            {
                using (batch)
                for (int r = 0; r < batch.Rows; r++)
                {
                    int e = batch.ExampleIndex[r];
                    for (int d = 0; d < Small.DModel; d++)
                    {
                        double expected = 0;
                        for (int i = 0; i < Small.Features; i++) expected += (double)codes[e, i] * world.Directions[i, d];
                        double residual = batch.Activations[r, d] - expected;
                        if (noise == 0) Assert.True(Math.Abs(residual) < 1e-5, $"example {e} dim {d}: residual {residual}");
                        sumSq += residual * residual;
                        count++;
                    }
                }
            }
            if (noise > 0) Assert.InRange(Math.Sqrt(sumSq / count), 0.95 * noise, 1.05 * noise);
        }
    }

    [Fact]
    public void Directions_are_unit_vectors_and_the_default_world_has_many_more_features_than_dimensions()
    {
        var world = new SyntheticWorld(new SyntheticWorldConfig { TestExamples = 500 });
        Assert.Equal(2048, world.Directions.Rows);
        Assert.Equal(128, world.Directions.Cols);
        Assert.Equal(128, world.Info.DModel);
        for (int i = 0; i < world.Directions.Rows; i++)
            Assert.Equal(1.0, Math.Sqrt(world.Directions.Row(i).ToArray().Sum(v => (double)v * v)), 5);

        var h = world.Tasks.Hierarchy;
        Assert.True(h.Parents().Count >= 26);
        Assert.All(h.Parents(), p => Assert.True(h.ChildrenOf(p).Count >= 2));
        Assert.Equal(world.ParentOf, world.Features.Select(f => f.Parent));
        Assert.All(Enumerable.Range(0, h.Count), k => Assert.Equal(h.Concepts[k].ParentId ?? -1, world.ParentOf[k]));
    }

    [Fact]
    public void Same_seed_gives_the_same_bytes_in_any_batching_and_another_seed_does_not()
    {
        var a = new SyntheticWorld(Small with { TrainExamples = 500 });
        var b = new SyntheticWorld(Small with { TrainExamples = 500 });
        var other = new SyntheticWorld(Small with { TrainExamples = 500, Seed = 6 });
        float[] All(SyntheticWorld w, int batch, Range? range = null) =>
            w.Activations(Split.Train).Batches(batch, range).SelectMany(x => x.Activations.ToArray()).ToArray();
        var full = All(a, 500);
        Assert.Equal(full, All(b, 37));
        Assert.Equal(full[(100 * 32)..(300 * 32)], All(b, 64, 100..300));
        Assert.NotEqual(full, All(other, 500));
        Assert.Equal(a.Info.ContentHash, b.Info.ContentHash);
        Assert.NotEqual(a.Info.ContentHash, other.Info.ContentHash);
        // Train and test are different draws.
        Assert.NotEqual(full[..(32 * 100)], a.Activations(Split.Test).Batches(100, 0..100).Single().Activations.ToArray());
    }

    [Fact]
    public void Labels_are_the_strongest_firing_parent_and_concepts_are_the_firing_parents_and_children()
    {
        var c = Small with { TrainExamples = 2000 };
        var world = new SyntheticWorld(c);
        using var codes = Codes(world, Split.Train);
        var labels = world.Labels(Split.Train);
        int concepts = c.Parents + c.ChildCount;
        Assert.Equal(concepts, labels.ConceptCount);
        for (int e = 0; e < codes.Rows; e++)
        {
            int best = c.Parents;
            for (int p = 0; p < c.Parents; p++) if (codes[e, p] > 0 && (best == c.Parents || codes[e, p] > codes[e, best])) best = p;
            Assert.Equal(best, labels.Classes[e]);
            for (int k = 0; k < concepts; k++) Assert.Equal(codes[e, k] != 0, labels.Has(e, k));
        }
        Assert.Equal("none", world.Tasks.ClassNames[^1]);
        Assert.Equal(0, world.Tasks.ForgetConcept);
        var batchLabels = world.Activations(Split.Train).Batches(2000).Single().Label.ToArray();
        Assert.Equal(labels.Classes.ToArray(), batchLabels);
    }

    [Fact]
    public void The_readout_is_scaled_dot_products_with_parent_directions_plus_a_none_threshold()
    {
        var c = Small with { TrainExamples = 50 };
        var world = new SyntheticWorld(c);
        using var batch = world.Activations(Split.Train).Batches(50).Single();
        using var logits = new HostMatrix(50, world.LogitWidth);
        world.ForwardFromHook(batch.Activations, logits);
        Assert.Equal(c.Parents + 1, world.LogitWidth);
        for (int r = 0; r < 50; r++)
        {
            for (int p = 0; p < c.Parents; p++)
            {
                double dot = 0;
                for (int d = 0; d < c.DModel; d++) dot += (double)batch.Activations[r, d] * world.Directions[p, d];
                Assert.Equal(c.ReadoutScale * dot, logits[r, p], 4);
            }
            Assert.Equal(c.ReadoutScale * c.NoneThreshold, logits[r, c.Parents], 5);
        }
        Assert.NotNull(world.Info.TestAccuracy);
    }

    [Theory]
    [InlineData("features")]
    [InlineData("max_firing_rate")]
    [InlineData("train_examples")]
    public void Invalid_configurations_name_the_field(string field)
    {
        var config = field switch
        {
            "features" => Small with { Features = 100 },
            "max_firing_rate" => Small with { MaxFiringRate = 1.5 },
            _ => Small with { TrainExamples = 0 },
        };
        var e = Assert.Throws<ArgumentException>(() => new SyntheticWorld(config));
        Assert.Contains("synthetic." + field, e.Message);
    }

    [Fact]
    public void The_spurious_attribute_says_which_of_the_two_most_frequent_independent_features_fires()
    {
        var c = Small;
        var world = new SyntheticWorld(c);
        var attribute = Assert.Single(world.Tasks.Attributes);
        Assert.Equal(SyntheticWorld.SpuriousAttribute, attribute.Name);
        Assert.Equal(2, world.SpuriousFeatures.Count);
        int a = world.SpuriousFeatures[0], b = world.SpuriousFeatures[1];
        Assert.Equal([$"feature_{a}", $"feature_{b}"], attribute.Values);
        var independent = Enumerable.Range(c.FirstIndependent, c.IndependentCount).Select(i => world.Features[i].FiringProbability).OrderDescending().ToList();
        Assert.Equal(independent[0], world.Features[a].FiringProbability);
        Assert.Equal(independent[1], world.Features[b].FiringProbability);

        using var codes = Codes(world, Split.Test);
        var values = world.Labels(Split.Test).Attribute(SyntheticWorld.SpuriousAttribute);
        int[] counts = new int[3];
        for (int e = 0; e < codes.Rows; e++)
        {
            bool fa = codes[e, a] != 0, fb = codes[e, b] != 0;
            Assert.Equal(fa == fb ? -1 : fa ? 0 : 1, values[e]);
            counts[values[e] + 1]++;
        }
        Assert.True(counts[1] > 0 && counts[2] > 0, $"both values occur ({counts[1]}, {counts[2]})");
    }

    [Fact]
    public void A_world_with_fewer_than_two_independent_features_has_no_attribute()
    {
        var c = Small with { Features = 26 + 26 * 3 + 8 * 4 + 1 };
        Assert.Empty(new SyntheticWorld(c).Tasks.Attributes);
    }
}
