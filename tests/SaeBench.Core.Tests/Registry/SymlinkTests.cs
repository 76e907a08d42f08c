using SaeBench.Core.Checkpoints;
using SaeBench.Core.Registry;
using SaeBench.TestKit;

namespace SaeBench.Core.Tests.Registry;

/// <summary>
/// Symbolic links (issue 19): checkpoints stored the way Hugging Face's cache, DVC and git-annex store them (files linking
/// into a blob store) load and register once; <c>**</c> globs and directory scans survive link loops (one loop registered
/// a checkpoint 41 times, two never finished).
/// </summary>
public sealed class SymlinkTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private string CopyFixture(string fixture, string to)
    {
        var target = _dir.Directory(to);
        foreach (var f in Directory.GetFiles(Fixtures.PathOf(fixture))) File.Copy(f, Path.Combine(target, Path.GetFileName(f)));
        return target;
    }

    /// <summary>A snapshot folder whose files link into a content-addressed blob folder, as the Hugging Face cache lays them out.</summary>
    private string HubSnapshot(string fixture, string name)
    {
        var blobs = _dir.Directory("hub", "blobs");
        var snapshot = _dir.Directory("hub", "snapshots", name);
        foreach (var f in Directory.GetFiles(Fixtures.PathOf(fixture)))
        {
            var blob = Path.Combine(blobs, Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(f)))[..20]);
            if (!File.Exists(blob)) File.Copy(f, blob);
            File.CreateSymbolicLink(Path.Combine(snapshot, Path.GetFileName(f)), Path.Combine("..", "..", "blobs", Path.GetFileName(blob)));
        }
        return snapshot;
    }

    [Theory]
    [InlineData("saelens_v6/topk")]
    [InlineData("dictionary_learning/topk")]
    [InlineData("sparsify/layers.4")]
    public void A_checkpoint_whose_files_are_links_into_a_blob_store_loads_like_the_original(string fixture)
    {
        var snapshot = HubSnapshot(fixture, "rev1");
        var original = CheckpointLoader.Load(Fixtures.PathOf(fixture));
        var linked = CheckpointLoader.Load(snapshot);
        Assert.Equal(original.Info.Sha256, linked.Info.Sha256);
        Assert.Equal(original.Sae.Parameters.WEnc.ToArray(), linked.Sae.Parameters.WEnc.ToArray());
        Assert.Equal(original.Info.Sha256, CheckpointLoader.Inspect(snapshot).Sha256);
    }

    [Fact]
    public void A_linked_checkpoint_is_cached_by_its_target_and_sees_the_target_change()
    {
        var snapshot = HubSnapshot("saelens_v6/topk", "rev1");
        var digests = new CheckpointDigestCache(_dir.File("digests"));
        var first = CheckpointLoader.Inspect(snapshot, new LoadOptions(Digests: digests));
        var again = CheckpointLoader.Inspect(snapshot, new LoadOptions(Digests: digests));
        Assert.Equal(InspectScan.Cached, again.Scan);
        Assert.Equal(first.Sha256, again.Sha256);

        // A new revision: the weights link now leads to another blob.
        var weights = Path.Combine(snapshot, "sae_weights.safetensors");
        var changed = _dir.File("hub", "blobs", "changed");
        var bytes = File.ReadAllBytes(weights);
        bytes[^1] ^= 1;
        File.WriteAllBytes(changed, bytes);
        File.Delete(weights);
        File.CreateSymbolicLink(weights, changed);
        var third = CheckpointLoader.Inspect(snapshot, new LoadOptions(Digests: digests));
        Assert.NotEqual(InspectScan.Cached, third.Scan);
        Assert.NotEqual(first.Sha256, third.Sha256);
    }

    [Fact]
    public void A_double_star_glob_through_a_link_loop_registers_each_checkpoint_once()
    {
        CopyFixture("saelens_v6/topk", "root/a/topk");
        Directory.CreateSymbolicLink(_dir.File("root", "a", "loop"), _dir.File("root"));
        var watch = System.Diagnostics.Stopwatch.StartNew();
        var matches = Glob.Match("root/**/cfg.json", _dir.Path);
        Assert.Equal([_dir.File("root", "a", "topk", "cfg.json")], matches);
        var r = CheckpointRegistry.FromYaml("checkpoints:\n  - glob: \"root/**/cfg.json\"\n", _dir.Path, "reg.yaml").Resolve();
        Assert.Single(r.Entries);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(10), $"took {watch.Elapsed}");
    }

    [Fact]
    public async Task Two_link_loops_finish()
    {
        CopyFixture("saelens_v6/topk", "root/a/topk");
        CopyFixture("sparsify/layers.4", "root/b/sparsify");
        Directory.CreateSymbolicLink(_dir.File("root", "a", "to-b"), _dir.File("root", "b"));
        Directory.CreateSymbolicLink(_dir.File("root", "b", "to-a"), _dir.File("root", "a"));
        Directory.CreateSymbolicLink(_dir.File("root", "a", "up"), _dir.File("root"));
        Directory.CreateSymbolicLink(_dir.File("root", "b", "up"), _dir.File("root"));
        var task = Task.Run(() => CheckpointRegistry.FromYaml("checkpoints:\n  - glob: \"root/**\"\n  - path: root\n", _dir.Path, "reg.yaml").Resolve());
        var r = await task.WaitAsync(TimeSpan.FromSeconds(30)); // throws TimeoutException when the walk does not finish
        Assert.Equal(2, r.Entries.Count);
        Assert.DoesNotContain(r.Diagnostics, d => d.Severity == RegistrySeverity.Error);
    }

    [Fact]
    public void A_directory_scan_follows_links_but_visits_each_real_directory_once()
    {
        CopyFixture("saelens_v6/topk", "store/topk");
        _dir.Directory("root");
        Directory.CreateSymbolicLink(_dir.File("root", "linked"), _dir.File("store"));
        Directory.CreateSymbolicLink(_dir.File("store", "back"), _dir.File("root"));
        var r = CheckpointRegistry.FromYaml("checkpoints:\n  - path: root\n", _dir.Path, "reg.yaml").Resolve();
        Assert.Equal(["linked-topk"], r.Entries.Select(e => e.Id));
    }

    [Fact]
    public void A_checkpoint_listed_by_its_link_and_by_its_target_is_registered_once()
    {
        var real = CopyFixture("saelens_v6/topk", "real");
        Directory.CreateSymbolicLink(_dir.File("alias"), real);
        var r = CheckpointRegistry.FromYaml("checkpoints:\n  - path: real\n  - path: alias\n", _dir.Path, "reg.yaml").Resolve();
        Assert.Single(r.Entries);
        Assert.Contains(r.Diagnostics, d => d.Severity == RegistrySeverity.Warning && d.Message.Contains("already registered"));
    }

    [Theory]
    [InlineData("ckpts/[]", "empty character class")]
    [InlineData("ckpts/[z-a]*", "not a valid pattern")]
    public void A_glob_that_cannot_match_is_an_error_naming_the_entry(string glob, string expected)
    {
        // An empty class once threw RegexParseException out of the registry (found by the fuzz tests).
        var r = CheckpointRegistry.FromYaml($"checkpoints:\n  - glob: \"{glob}\"\n", _dir.Path, "reg.yaml").Resolve();
        var d = Assert.Single(r.Diagnostics);
        Assert.Equal(RegistrySeverity.Error, d.Severity);
        Assert.Equal("checkpoints[0].glob", d.Field);
        Assert.Contains(expected, d.Message);
    }

    [Fact]
    public void A_glob_segment_longer_than_any_file_name_is_refused_without_building_a_regex()
    {
        // A 30,000-character segment once allocated almost a gigabyte compiling its regex (found by the fuzz tests).
        var ex = Assert.Throws<ArgumentException>(() => Glob.Match("ckpts/*" + new string('(', 3000), _dir.Path));
        Assert.Contains("no file name is longer than 255", ex.Message);
        Assert.Throws<ArgumentException>(() => Glob.Match(new string('a', Glob.MaxPatternLength + 1), _dir.Path));
    }

    [Fact]
    public void Character_classes_and_ranges_still_match()
    {
        foreach (var n in new[] { "a1", "a2", "b1", "a-" }) File.WriteAllText(_dir.File(n), "");
        Assert.Equal([_dir.File("a1"), _dir.File("a2")], Glob.Match("a[0-9]", _dir.Path));
        Assert.Equal([_dir.File("a-"), _dir.File("b1")], Glob.Match("[!a]*", _dir.Path).Concat(Glob.Match("a[!0-9]", _dir.Path)).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void A_glob_that_would_list_too_many_directories_is_refused_instead_of_walking_on()
    {
        // "/**" walked the whole file system for minutes (found by the fuzz tests); a pattern has a directory budget.
        for (int i = 0; i < 30; i++) _dir.Directory("wide", "d" + i, "e");
        var e = Assert.Throws<ArgumentException>(() => Glob.Match("wide/**/cfg.json", _dir.Path, maxDirectories: 20));
        Assert.Contains("'wide/**/cfg.json' lists more than 20 directories; narrow the pattern", e.Message);
        Assert.Empty(Glob.Match("wide/**/cfg.json", _dir.Path, maxDirectories: 100));
    }

    [Fact]
    public void A_glob_that_matches_too_many_paths_is_refused()
    {
        var e = Assert.Throws<ArgumentException>(() => Glob.Match("/**", _dir.Path));
        Assert.Contains("'/**' matches more than 10000 paths; narrow the pattern", e.Message);
    }
}
