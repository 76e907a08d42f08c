using SaeBench.TestKit;
using SaeBench.Core.Models;
using SaeBench.Models.Cache;
using SaeBench.Models.Synthetic;

namespace SaeBench.Models.Tests.Cache;

public sealed class ActivationCacheTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private static readonly SyntheticWorldConfig Small = new()
    {
        DModel = 16, Features = 200, Parents = 26, ChildrenPerParent = 2, CorrelatedGroups = 4, GroupSize = 3,
        TrainExamples = 1000, TestExamples = 300,
    };

    private static (float[] X, int[] Labels, int[] Index) Read(IActivationSource source, int rows)
    {
        var batches = source.Batches(rows).ToList();
        return (batches.SelectMany(b => b.Activations.ToArray()).ToArray(),
                batches.SelectMany(b => b.Label.ToArray()).ToArray(),
                batches.SelectMany(b => b.ExampleIndex.ToArray()).ToArray());
    }

    [Fact]
    public void Cached_activations_are_the_models_own_bytes_written_once_and_reused()
    {
        var world = new SyntheticWorld(Small);
        var cache = new ActivationCache(_dir.Path);
        var cached = new CachedModel(world, cache);
        Assert.False(cache.Contains(world.Info, Split.Test));
        Assert.Equal(world.Activations(Split.Test).Shape, cached.Activations(Split.Test).Shape);
        Assert.False(cache.Contains(world.Info, Split.Test)); // asking for the shape computes nothing

        var direct = Read(world.Activations(Split.Test), 300);
        var viaCache = Read(cached.Activations(Split.Test), 128);
        Assert.True(cache.Contains(world.Info, Split.Test));
        Assert.Equal(direct.X, viaCache.X);
        Assert.Equal(direct.Labels, viaCache.Labels);
        Assert.Equal(direct.Index, viaCache.Index);

        var file = Path.Combine(cache.EntryDirectory(world.Info, Split.Test), "activations.npy");
        var written = File.GetLastWriteTimeUtc(file);
        var again = Read(new CachedModel(new SyntheticWorld(Small), new ActivationCache(_dir.Path)).Activations(Split.Test), 50);
        Assert.Equal(written, File.GetLastWriteTimeUtc(file));
        Assert.Equal(direct.X, again.X);

        Assert.Equal(direct.X[(10 * 16)..(20 * 16)],
            cached.Activations(Split.Test).Batches(4, 10..20).SelectMany(b => b.Activations.ToArray()));
    }

    [Fact]
    public void Entries_are_keyed_by_model_hash_and_split_and_capabilities_pass_through()
    {
        var cache = new ActivationCache(_dir.Path);
        var a = new SyntheticWorld(Small);
        var b = new SyntheticWorld(Small with { Seed = 1 });
        Assert.NotEqual(cache.EntryDirectory(a.Info, Split.Train), cache.EntryDirectory(a.Info, Split.Test));
        Assert.NotEqual(cache.EntryDirectory(a.Info, Split.Train), cache.EntryDirectory(b.Info, Split.Train));
        var cached = new CachedModel(a, cache);
        Assert.Same(a, cached.Capability<IDownstreamLoss>());
        Assert.Same(a, cached.Capability<IGroundTruthFeatures>());
        Assert.Equal(a.Info, cached.Info);
    }
}
