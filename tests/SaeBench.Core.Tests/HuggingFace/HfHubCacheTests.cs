using SaeBench.Core.HuggingFace;
using SaeBench.TestKit;

namespace SaeBench.Core.Tests.HuggingFace;

/// <summary>The Hub cache root from the environment, repo folders, and snapshots by revision — as huggingface_hub lays them out.</summary>
public class HfHubCacheTests
{
    private static Func<string, string?> Env(params (string Name, string Value)[] variables) =>
        name => variables.FirstOrDefault(v => v.Name == name).Value;

    [Fact]
    public void The_root_is_HF_HUB_CACHE_then_HF_HOME_hub_then_HOME_cache()
    {
        Assert.Equal("/hub", HfHubCache.RootFrom(Env(("HF_HUB_CACHE", "/hub"), ("HF_HOME", "/hf"), ("HOME", "/home/u"))));
        Assert.Equal(Path.Combine("/hf", "hub"), HfHubCache.RootFrom(Env(("HF_HOME", "/hf"), ("HOME", "/home/u"))));
        Assert.Equal(Path.Combine("/home/u", ".cache", "huggingface", "hub"), HfHubCache.RootFrom(Env(("HOME", "/home/u"))));
        Assert.Equal(Path.Combine("/hf", "hub"), HfHubCache.RootFrom(Env(("HF_HUB_CACHE", ""), ("HF_HOME", "/hf")))); // empty = unset
        Assert.Null(HfHubCache.RootFrom(Env()));
        Assert.Null(HfHubCache.FromEnvironment(Env()));
        Assert.Equal("/home/u/hub", HfHubCache.RootFrom(Env(("HF_HUB_CACHE", "~/hub"), ("HOME", "/home/u"))));
    }

    [Theory]
    [InlineData("google/gemma-scope-2b-pt-res", "models--google--gemma-scope-2b-pt-res")]
    [InlineData("gpt2", "models--gpt2")]
    [InlineData("ctigges/pythia-70m-deduped__res-sm_processed", "models--ctigges--pythia-70m-deduped__res-sm_processed")]
    public void Repo_folders_replace_slashes_with_double_dashes(string repoId, string folder) =>
        Assert.Equal(folder, HfHubCache.RepoFolderName(repoId));

    [Theory]
    [InlineData("a/b/c")]
    [InlineData("../x")]
    [InlineData("org/")]
    [InlineData("a--b/c")]
    [InlineData("org/na me")]
    public void Repo_ids_that_could_leave_the_cache_are_refused(string repoId)
    {
        Assert.False(HfHubCache.IsRepoId(repoId));
        Assert.Throws<ArgumentException>(() => HfHubCache.RepoFolderName(repoId));
    }

    [Fact]
    public void A_revision_resolves_through_its_ref()
    {
        using var dir = new TempDirectory();
        var fake = new FakeHubCache(dir.Path).Ref("org/repo");
        fake.Add("org/repo", "a/file.txt", [1, 2, 3]);
        fake.Add("org/repo", "a/file.txt", [4], commit: "older");
        Assert.Equal(fake.Snapshot("org/repo"), new HfHubCache(dir.Path).SnapshotFolder("org/repo"));
        Assert.Equal(fake.Snapshot("org/repo", "older"), new HfHubCache(dir.Path).SnapshotFolder("org/repo", "older")); // a commit as the revision
    }

    [Fact]
    public void Without_a_ref_the_only_snapshot_is_used_and_several_are_an_error()
    {
        using var dir = new TempDirectory();
        var fake = new FakeHubCache(dir.Path);
        fake.Add("org/repo", "x", [1]);
        var cache = new HfHubCache(dir.Path);
        Assert.Equal(fake.Snapshot("org/repo"), cache.SnapshotFolder("org/repo"));

        fake.Add("org/repo", "x", [2], commit: "fedcba");
        var e = Assert.Throws<HfCacheMissException>(() => cache.SnapshotFolder("org/repo"));
        Assert.Contains("no refs/main", e.Message);
        Assert.Contains("2 snapshots", e.Message);
        Assert.Contains(FakeHubCache.Commit, e.Message);
        Assert.Contains("fedcba", e.Message);
        Assert.Contains(cache.Root, e.Message);
        Assert.Equal(Path.Combine(fake.RepoFolder("org/repo"), "refs", "main"), e.Expected);
    }

    [Fact]
    public void Misses_name_the_cache_root_and_what_was_expected()
    {
        using var dir = new TempDirectory();
        var cache = new HfHubCache(dir.Path);
        var missing = Assert.Throws<HfCacheMissException>(() => cache.SnapshotFolder("org/absent"));
        Assert.Contains($"Hugging Face cache {cache.Root}", missing.Message);
        Assert.Contains(Path.Combine(cache.Root, "models--org--absent"), missing.Message);
        Assert.Equal(cache.Root, missing.Root);

        var fake = new FakeHubCache(dir.Path).Ref("org/dangling", "abc");
        Directory.CreateDirectory(Path.Combine(fake.RepoFolder("org/dangling"), "snapshots"));
        var dangling = Assert.Throws<HfCacheMissException>(() => cache.SnapshotFolder("org/dangling"));
        Assert.Contains("names commit abc", dangling.Message);
        Assert.Equal(fake.Snapshot("org/dangling", "abc"), dangling.Expected);

        Directory.CreateDirectory(fake.RepoFolder("org/empty"));
        Assert.Contains("no snapshots/ folder", Assert.Throws<HfCacheMissException>(() => cache.SnapshotFolder("org/empty")).Message);
        Assert.Contains("not a branch", Assert.Throws<HfCacheMissException>(() => cache.SnapshotFolder("org/dangling", "../x")).Message);
    }

    [Fact]
    public void A_repo_folder_resolves_on_its_own()
    {
        using var dir = new TempDirectory();
        var fake = new FakeHubCache(dir.Path).Ref("org/repo");
        fake.Add("org/repo", "x", [1]);
        Assert.Equal(fake.Snapshot("org/repo"), HfHubCache.ResolveSnapshot(fake.RepoFolder("org/repo")));
    }
}
