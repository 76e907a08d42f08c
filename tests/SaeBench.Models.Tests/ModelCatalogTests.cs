using SaeBench.TestKit;
using SaeBench.Core;
using SaeBench.Core.Models;
using SaeBench.Models.Cache;
using SaeBench.Models.Synthetic;

namespace SaeBench.Models.Tests;

public sealed class ModelCatalogTests
{
    [Fact]
    public void Unknown_specs_suggest_the_nearest_and_list_the_valid_ones()
    {
        var e = Assert.Throws<BadInputException>(() => ModelCatalog.Validate("fashion-mnist"));
        Assert.Contains("did you mean 'fashion-mnist-mlp'", e.Message);
        Assert.Contains("file:PATH", e.Message);
        Assert.Throws<BadInputException>(() => ModelCatalog.Validate("file:"));
        ModelCatalog.Validate("synthetic");
        ModelCatalog.Validate("file:x.npy");
    }

    [Fact]
    public void The_synthetic_spec_builds_a_cached_world_with_every_capability()
    {
        using var dir = new TempDirectory();
        var options = new ModelOptions { CacheDirectory = dir.Path, Synthetic = new SyntheticWorldConfig { TrainExamples = 100, TestExamples = 100 } };
        var model = ModelCatalog.Create("synthetic", options);
        Assert.IsType<CachedModel>(model);
        Assert.Equal("synthetic", model.Info.Id);
        Assert.NotNull(model.Capability<IDownstreamLoss>());
        Assert.NotNull(model.Capability<ILabelledTasks>());
        Assert.NotNull(model.Capability<IGroundTruthFeatures>());
        Assert.IsType<SyntheticWorld>(ModelCatalog.Create("synthetic", options with { CacheActivations = false }));

        var forget = ModelCatalog.Create("synthetic", options with { ForgetClass = "parent_03" });
        Assert.Equal(3, forget.Capability<ILabelledTasks>()!.Tasks.ForgetConcept);
        Assert.Contains("hook", Assert.Throws<BadInputException>(() => ModelCatalog.Create("synthetic", options with { Hook = "mlp.hidden2" })).Message);
    }

    [Fact]
    public void The_repository_root_is_found_from_the_test_output_directory()
    {
        var root = RepositoryPaths.FindRepositoryRoot(AppContext.BaseDirectory);
        Assert.NotNull(root);
        Assert.True(File.Exists(Path.Combine(root, "data", "fashion-mnist", "LICENSE")));
        Assert.Equal(Path.Combine(root, ".saebench-cache"), RepositoryPaths.CacheDirectory(new ModelOptions { WorkingDirectory = root }));
    }
}
