using SaeBench.TestKit;
using System.Diagnostics;
using SaeBench.Compute.Tensors;
using SaeBench.Core.Models;
using SaeBench.Models.Cache;
using SaeBench.Models.FashionMnist;
using Xunit.Abstractions;

namespace SaeBench.Models.Tests.FashionMnist;

/// <summary>The dataset, loaded once for the tests that train.</summary>
public sealed class FashionMnistFixture
{
    public FashionMnistData Data { get; } = FashionMnistData.Load(RepositoryPaths.DataDirectory(new ModelOptions()));
}

/// <summary>The full default MLP, trained once (into a temporary cache) for every test that needs it.</summary>
public sealed class DefaultMlpFixture : IDisposable
{
    public DefaultMlpFixture()
    {
        Data = FashionMnistData.Load(RepositoryPaths.DataDirectory(new ModelOptions()));
        var clock = Stopwatch.StartNew();
        Model = FashionMnistMlpModel.Load(Data, new ModelOptions { CacheDirectory = Cache.Path });
        TrainSeconds = clock.Elapsed.TotalSeconds;
    }

    public TempDirectory Cache { get; } = new();
    public FashionMnistData Data { get; }
    public FashionMnistMlpModel Model { get; }
    public double TrainSeconds { get; }

    public void Dispose() => Cache.Dispose();
}

[Trait(Category.Name, Category.Slow)]
public sealed class MlpTrainingTests(FashionMnistFixture fixture) : IClassFixture<FashionMnistFixture>
{
    private static readonly MlpTrainingConfig Small = new() { Hidden = [32, 16], Epochs = 1, BatchSize = 64, TrainExamples = 3000, Seed = 11 };

    private static byte[] Bytes(Mlp mlp) =>
        mlp.Parameters().SelectMany(p => p.Values.ToArray().SelectMany(BitConverter.GetBytes)).ToArray();

    [Fact]
    public void The_weights_cache_key_does_not_depend_on_the_culture()
    {
        var config = new MlpTrainingConfig { LearningRate = 0.05 };
        var previous = System.Globalization.CultureInfo.CurrentCulture;
        try
        {
            System.Globalization.CultureInfo.CurrentCulture = System.Globalization.CultureInfo.InvariantCulture;
            string invariant = config.Canonical();
            var comma = (System.Globalization.CultureInfo)System.Globalization.CultureInfo.InvariantCulture.Clone();
            comma.NumberFormat.NumberDecimalSeparator = ","; // as de-DE (the test host may run without ICU cultures)
            System.Globalization.CultureInfo.CurrentCulture = comma;
            Assert.Equal(invariant, config.Canonical());
            Assert.Contains("lr=0.05;", invariant);
        }
        finally
        {
            System.Globalization.CultureInfo.CurrentCulture = previous;
        }
    }

    [Fact]
    public void Same_seed_gives_byte_identical_weights_and_another_seed_does_not()
    {
        var a = MlpTrainer.Train(fixture.Data, Small);
        var b = MlpTrainer.Train(fixture.Data, Small);
        var c = MlpTrainer.Train(fixture.Data, Small with { Seed = 12 });
        Assert.Equal(Bytes(a), Bytes(b));
        Assert.NotEqual(Bytes(a), Bytes(c));
    }

    [Fact]
    public void Even_a_short_training_learns_far_above_chance()
    {
        var mlp = MlpTrainer.Train(fixture.Data, Small);
        Assert.True(MlpTrainer.Accuracy(mlp, fixture.Data, Split.Test) > 0.6);
    }

    [Fact]
    public void Weights_are_cached_by_configuration_and_reloaded_identically()
    {
        using var cache = new TempDirectory();
        var options = new ModelOptions { CacheDirectory = cache.Path, Mlp = Small };
        var first = FashionMnistMlpModel.Load(fixture.Data, options);
        var files = Directory.GetFiles(cache.Path, "weights.safetensors", SearchOption.AllDirectories);
        Assert.Single(files);
        var written = File.GetLastWriteTimeUtc(files[0]);
        var second = FashionMnistMlpModel.Load(fixture.Data, options);
        Assert.Equal(written, File.GetLastWriteTimeUtc(files[0]));
        Assert.Equal(Bytes(first.Network), Bytes(second.Network));
        Assert.Equal(first.Info.ContentHash, second.Info.ContentHash);
        Assert.Equal(first.TestAccuracy, second.TestAccuracy);

        var other = FashionMnistMlpModel.Load(fixture.Data, options with { Mlp = Small with { Seed = 12 } });
        Assert.NotEqual(first.Info.ContentHash, other.Info.ContentHash);
        Assert.Equal(2, Directory.GetFiles(cache.Path, "weights.safetensors", SearchOption.AllDirectories).Length);
    }

    [Fact]
    public void A_corrupt_cached_weights_file_is_retrained_not_trusted()
    {
        using var cache = new TempDirectory();
        var options = new ModelOptions { CacheDirectory = cache.Path, Mlp = Small };
        var first = FashionMnistMlpModel.Load(fixture.Data, options);
        var file = Directory.GetFiles(cache.Path, "weights.safetensors", SearchOption.AllDirectories).Single();
        File.WriteAllBytes(file, File.ReadAllBytes(file)[..100]);
        var messages = new List<string>();
        var again = FashionMnistMlpModel.Load(fixture.Data, options with { Log = messages.Add });
        Assert.Contains(messages, m => m.Contains("unusable"));
        Assert.Equal(Bytes(first.Network), Bytes(again.Network));
    }
}

[Trait(Category.Name, Category.Slow)]
public sealed class DefaultMlpTests(DefaultMlpFixture fixture, ITestOutputHelper output) : IClassFixture<DefaultMlpFixture>
{
    [Fact]
    public void The_default_mlp_reaches_85_percent_test_accuracy()
    {
        output.WriteLine($"default MLP: trained in {fixture.TrainSeconds:F1} s on {Environment.ProcessorCount} cores, " +
                         $"reported test accuracy {fixture.Model.TestAccuracy:P2}");
        // Recount from the hook activations, the forward-from-hook pass and the raw IDX labels.
        var model = fixture.Model;
        int correct = 0;
        foreach (var batch in model.Activations(Split.Test).Batches(2500))
        {
            using (batch)
            {
                using var logits = new HostMatrix(batch.Rows, model.LogitWidth);
                model.ForwardFromHook(batch.Activations, logits);
                for (int r = 0; r < batch.Rows; r++)
                {
                    var row = logits.Row(r).ToArray();
                    if (Array.IndexOf(row, row.Max()) == fixture.Data.TestLabels[batch.ExampleIndex[r]]) correct++;
                }
            }
        }
        double accuracy = correct / 10000.0;
        Assert.Equal(accuracy, model.TestAccuracy, 10);
        Assert.True(accuracy >= 0.85, $"test accuracy {accuracy:P2}");
    }

    [Fact]
    public void The_default_hook_is_the_128_wide_second_hidden_layer_after_relu()
    {
        var info = fixture.Model.Info;
        Assert.Equal("fashion-mnist-mlp", info.Id);
        Assert.Equal("mlp.hidden2", info.Hook);
        Assert.Equal(128, info.DModel);
        Assert.Equal(1, info.Positions);
        Assert.Equal(64, info.ContentHash.Length);
        Assert.Equal(new ActivationShape(60000, 1, 128), fixture.Model.Activations(Split.Train).Shape);
    }

    [Fact]
    public void Forward_from_hook_on_cached_activations_reproduces_the_clean_logits_exactly()
    {
        var model = fixture.Model;
        using var cacheDir = new TempDirectory();
        var cached = new CachedModel(model, new ActivationCache(cacheDir.Path));
        var downstream = cached.Capability<IDownstreamLoss>()!;
        int checkedRows = 0;
        foreach (var batch in cached.Activations(Split.Test).Batches(1500, 2000..6000))
        {
            using (batch)
            {
                using var clean = new HostMatrix(batch.Rows, model.LogitWidth);
                model.Logits(Split.Test, batch.FirstExample, clean);
                using var spliced = new HostMatrix(batch.Rows, model.LogitWidth);
                model.ForwardFromHook(batch.Activations, spliced);
                Assert.Equal(clean.ToArray(), spliced.ToArray());
                // Through the capability: splicing the clean values back in is the clean run, exactly.
                var outcomes = downstream.Compare(batch, [batch.Activations]);
                Assert.Equal(outcomes.Clean.CrossEntropy, outcomes.Replaced[0].CrossEntropy);
                Assert.All(outcomes.Replaced[0].KlFromClean, kl => Assert.Equal(0.0, kl));
                Assert.All(outcomes.Clean.HasTarget, Assert.True);
                checkedRows += batch.Rows;
            }
        }
        Assert.Equal(4000, checkedRows);
    }

    [Fact]
    public void Labels_follow_the_idx_files_and_the_hierarchy_groups_tops_and_footwear()
    {
        var tasks = fixture.Model.Tasks;
        var h = tasks.Hierarchy;
        Assert.Equal(["T-shirt/top", "Pullover", "Coat", "Shirt"], h.ChildrenOf(h.Find("tops")!.Value).Select(c => h.Concepts[c].Name));
        Assert.Equal(["Sandal", "Sneaker", "Ankle boot"], h.ChildrenOf(h.Find("footwear")!.Value).Select(c => h.Concepts[c].Name));
        Assert.Empty(h.ChildrenOf(h.Find("Trouser")!.Value));
        Assert.Null(h.Concepts[h.Find("Bag")!.Value].ParentId);
        Assert.Equal("Bag", tasks.ClassNames[tasks.ForgetConcept!.Value]);

        var labels = fixture.Model.Labels(Split.Test);
        for (int e = 0; e < 10000; e += 97)
        {
            int c = fixture.Data.TestLabels[e];
            Assert.Equal(c, labels.Classes[e]);
            Assert.True(labels.Has(e, c));
            Assert.Equal(c is 0 or 2 or 4 or 6, labels.Has(e, h.Find("tops")!.Value));
            Assert.Equal(c is 5 or 7 or 9, labels.Has(e, h.Find("footwear")!.Value));
        }
        Assert.Equal(1000, labels.ExamplesWith(tasks.ForgetConcept!.Value).Count(f => f));
    }

    [Fact]
    public void The_forget_class_is_configurable_by_name_or_index_and_bad_names_list_the_classes()
    {
        var byName = FashionMnistMlpModel.Load(fixture.Data, new ModelOptions { CacheDirectory = fixture.Cache.Path, ForgetClass = "sneaker" });
        var byIndex = FashionMnistMlpModel.Load(fixture.Data, new ModelOptions { CacheDirectory = fixture.Cache.Path, ForgetClass = "7" });
        Assert.Equal(7, byName.Tasks.ForgetConcept);
        Assert.Equal(7, byIndex.Tasks.ForgetConcept);
        var e = Assert.Throws<ArgumentException>(() =>
            FashionMnistMlpModel.Load(fixture.Data, new ModelOptions { CacheDirectory = fixture.Cache.Path, ForgetClass = "Hat" }));
        Assert.Contains("forget_class", e.Message);
        Assert.Contains("9 Ankle boot", e.Message);
    }

    [Fact]
    public void Another_hook_changes_width_and_content_hash()
    {
        var h1 = FashionMnistMlpModel.Load(fixture.Data, new ModelOptions { CacheDirectory = fixture.Cache.Path, Hook = "mlp.hidden1" });
        Assert.Equal(256, h1.Info.DModel);
        Assert.NotEqual(fixture.Model.Info.ContentHash, h1.Info.ContentHash);
    }
}
