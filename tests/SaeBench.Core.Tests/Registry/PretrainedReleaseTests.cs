using SaeBench.Core.Checkpoints;
using SaeBench.Core.Registry;
using SaeBench.Core.Tests.Checkpoints;
using SaeBench.Core.Tests.HuggingFace;
using SaeBench.TestKit;

namespace SaeBench.Core.Tests.Registry;

/// <summary><c>release:</c> / <c>sae_id:</c> entries, found in a fake Hugging Face cache (nothing is downloaded).</summary>
public class PretrainedReleaseTests
{
    private const string Gpt2Repo = "jbloom/GPT2-Small-SAEs-Reformatted";
    private const string GemmaRepo = "google/gemma-scope-2b-pt-res";
    private const string GemmaFolder = "layer_12/width_16k/average_l0_82";
    private const int GemmaWidth = 16384;

    private static Func<string, string?> Env(params (string Name, string Value)[] variables) =>
        name => variables.FirstOrDefault(v => v.Name == name).Value;

    private static RegistryResolution Resolve(string yaml, string cacheRoot) =>
        CheckpointRegistry.FromYaml(yaml, cacheRoot, "run.yaml").Resolve(variables: Env(("HF_HUB_CACHE", cacheRoot)));

    /// <summary>gpt2-small-res-jb's blocks.8.hook_resid_pre (the SAELens v6 fixture) and a Gemma Scope folder, both behind refs/main.</summary>
    private static (FakeHubCache Cache, float[] WEnc) Populate(string root)
    {
        var cache = new FakeHubCache(root).Ref(Gpt2Repo).Ref(GemmaRepo);
        cache.AddFolder(Gpt2Repo, "blocks.8.hook_resid_pre", Fixtures.PathOf("saelens_v6/standard"));
        var wEnc = Npz.Ramp(4 * GemmaWidth, -1f, 1f / 1024);
        string scratch = Path.Combine(root, "scratch.npz");
        Npz.Write(scratch, Npz.GemmaParams(4, GemmaWidth, wEnc, new float[GemmaWidth * 4], new float[GemmaWidth], [1, 2, 3, 4], new float[GemmaWidth]));
        cache.Add(GemmaRepo, GemmaFolder + "/params.npz", File.ReadAllBytes(scratch));
        File.Delete(scratch);
        return (cache, wEnc);
    }

    [Fact]
    public void Releases_resolve_to_ordinary_entries_on_the_snapshot_folders()
    {
        using var dir = new TempDirectory();
        var (cache, wEnc) = Populate(dir.Path);
        var r = Resolve($"""
            checkpoints:
              - release: gpt2-small-res-jb
                sae_id: blocks.8.hook_resid_pre
                id: gpt2-l8
                tags:
                  width: 24576
              - release: gemma-scope-2b-pt-res
                sae_id: {GemmaFolder}
              - release: {GemmaRepo}
                sae_id: {GemmaFolder}/
            """, dir.Path);

        Assert.DoesNotContain(r.Diagnostics, d => d.Severity == RegistrySeverity.Error);
        Assert.Equal(2, r.Entries.Count); // the third is the second again: listed once, with a warning
        Assert.Contains(r.Diagnostics, d => d.Field == "checkpoints[2]" && d.Message.Contains("already registered"));

        var gpt2 = r.Entries[0];
        Assert.Equal("gpt2-l8", gpt2.Id);
        Assert.Equal("saelens", gpt2.Format);
        Assert.Equal(Path.Combine(cache.Snapshot(Gpt2Repo), "blocks.8.hook_resid_pre"), gpt2.Path);
        Assert.Equal(new Dictionary<string, string> { ["release"] = "gpt2-small-res-jb", ["sae_id"] = "blocks.8.hook_resid_pre", ["width"] = "24576" },
            gpt2.Tags);
        var fromCache = CheckpointLoader.Load(gpt2.Path);
        var original = CheckpointLoader.Load(Fixtures.PathOf("saelens_v6/standard"));
        Assert.Equal(original.Sae.Parameters.WEnc.ToArray(), fromCache.Sae.Parameters.WEnc.ToArray());
        Assert.Equal(original.Sae.Parameters.WDec.ToArray(), fromCache.Sae.Parameters.WDec.ToArray());
        Assert.Equal(original.Info.Sha256, gpt2.Sha256); // the identity is the content, not where it is
        var note = Assert.Single(r.Diagnostics, d => d.Severity == RegistrySeverity.Warning && d.Field == "checkpoints[0].release");
        Assert.Contains("center_writing_weights", note.Message);

        var gemma = r.Entries[1];
        Assert.Equal("gemma-scope-2b-pt-res-layer_12-width_16k-average_l0_82", gemma.Id);
        Assert.Equal("gemma_scope", gemma.Format);
        Assert.Equal("gemma-scope-2b-pt-res", gemma.Tags["release"]);
        Assert.Equal(GemmaFolder, gemma.Tags["sae_id"]);
        var loaded = CheckpointLoader.Load(gemma.Path);
        Assert.Equal(wEnc, loaded.Sae.Parameters.WEnc.ToArray());
        Assert.Equal([1f, 2f, 3f, 4f], loaded.Sae.Parameters.BDec);
        Assert.Equal("blocks.12.hook_resid_post", loaded.Info.HookName);
        Assert.Equal("gemma-2-2b", loaded.Info.ModelName);
        Assert.Equal(loaded.Info.Sha256, gemma.Sha256);
    }

    [Fact]
    public void The_repo_id_form_detects_the_format_and_takes_its_own_id()
    {
        using var dir = new TempDirectory();
        Populate(dir.Path);
        var r = Resolve($"checkpoints:\n  - {{release: {Gpt2Repo}, sae_id: blocks.8.hook_resid_pre}}\n", dir.Path);
        var entry = Assert.Single(r.Entries);
        Assert.Empty(r.Diagnostics); // no release note: this is not the gpt2-small-res-jb release
        Assert.Equal("jbloom-GPT2-Small-SAEs-Reformatted-blocks.8.hook_resid_pre", entry.Id);
        Assert.Equal(Gpt2Repo, entry.Tags["release"]);
    }

    [Fact]
    public void A_dictionary_learning_release_resolves_through_its_path_rule()
    {
        using var dir = new TempDirectory();
        var cache = new FakeHubCache(dir.Path).Ref("canrager/lm_sae");
        cache.AddFolder("canrager/lm_sae", "pythia70m_sweep_topk_ctx128_0730/resid_post_layer_3/trainer_2", Fixtures.PathOf("dictionary_learning/topk"));
        var r = Resolve("checkpoints:\n  - {release: sae_bench_pythia70m_sweep_topk_ctx128_0730, sae_id: blocks.3.hook_resid_post__trainer_2}\n", dir.Path);
        Assert.Empty(r.Diagnostics);
        Assert.Equal("dictionary_learning", Assert.Single(r.Entries).Format);
        Assert.Equal("topk", CheckpointLoader.Load(r.Entries[0].Path).Sae.Architecture);
    }

    [Fact]
    public void The_cache_root_is_HF_HUB_CACHE_then_HF_HOME_hub_then_HOME_cache()
    {
        using var dir = new TempDirectory();
        Populate(dir.Directory("home", ".cache", "huggingface", "hub"));
        Populate(dir.Directory("hf-home", "hub"));
        dir.Directory("empty");
        const string yaml = "checkpoints:\n  - {release: gpt2-small-res-jb, sae_id: blocks.8.hook_resid_pre}\n";
        RegistryResolution With(params (string, string)[] variables) => CheckpointRegistry.FromYaml(yaml, dir.Path, "run.yaml").Resolve(variables: Env(variables));

        Assert.StartsWith(dir.File("home"), Assert.Single(With(("HOME", dir.File("home"))).Entries).Path);
        Assert.StartsWith(dir.File("hf-home"), Assert.Single(With(("HF_HOME", dir.File("hf-home")), ("HOME", dir.File("home"))).Entries).Path);
        var miss = With(("HF_HUB_CACHE", dir.File("empty")), ("HF_HOME", dir.File("hf-home")), ("HOME", dir.File("home")));
        Assert.Empty(miss.Entries);
        var error = Assert.Single(miss.Diagnostics);
        Assert.Equal("checkpoints[0].release", error.Field);
        Assert.Contains($"Hugging Face cache {dir.File("empty")}", error.Message);
        Assert.Contains("models--jbloom--GPT2-Small-SAEs-Reformatted", error.Message);
        Assert.Contains("Nothing is downloaded", error.Message);
    }

    [Fact]
    public void Without_any_cache_variable_a_release_is_an_error_that_says_so()
    {
        const string yaml = "checkpoints:\n  - {release: gpt2-small-res-jb, sae_id: blocks.8.hook_resid_pre}\n";
        var unset = CheckpointRegistry.FromYaml(yaml, "/", "run.yaml").Resolve(variables: Env());
        Assert.Contains("HF_HUB_CACHE, HF_HOME and HOME are all unset", Assert.Single(unset.Diagnostics).Message);
        var none = CheckpointRegistry.FromYaml(yaml, "/", "run.yaml").Resolve();
        Assert.Contains("no environment variables were given", Assert.Single(none.Diagnostics).Message);
    }

    [Fact]
    public void A_missing_file_names_the_cache_root_the_snapshot_and_the_expected_file()
    {
        using var dir = new TempDirectory();
        var cache = new FakeHubCache(dir.Path).Ref(Gpt2Repo);
        cache.Add(Gpt2Repo, "blocks.8.hook_resid_pre/cfg.json", File.ReadAllBytes(Fixtures.PathOf("saelens_v6/standard/cfg.json")));
        var r = Resolve("checkpoints:\n  - {release: gpt2-small-res-jb, sae_id: blocks.8.hook_resid_pre}\n", dir.Path);
        var error = Assert.Single(r.Diagnostics, d => d.Severity == RegistrySeverity.Error);
        Assert.Equal("checkpoints[0].sae_id", error.Field);
        Assert.Equal("run.yaml", error.Source);
        Assert.Contains($"Hugging Face cache {dir.Path}", error.Message);
        Assert.Contains($"snapshot {cache.Snapshot(Gpt2Repo)}", error.Message);
        Assert.Contains("blocks.8.hook_resid_pre/sae_weights.safetensors", error.Message);
        Assert.Contains("nothing is downloaded", error.Message);
    }

    [Fact]
    public void A_link_into_a_missing_blob_is_called_what_it_is()
    {
        using var dir = new TempDirectory();
        var (cache, _) = Populate(dir.Path);
        string link = Path.Combine(cache.Snapshot(GemmaRepo), GemmaFolder, "params.npz");
        File.Delete(Path.GetFullPath(Path.Combine(Path.GetDirectoryName(link)!, new FileInfo(link).LinkTarget!)));
        var r = Resolve($"checkpoints:\n  - {{release: gemma-scope-2b-pt-res, sae_id: {GemmaFolder}}}\n", dir.Path);
        Assert.Contains("is a link to", Assert.Single(r.Diagnostics).Message);
    }

    [Fact]
    public void Without_refs_main_the_only_snapshot_is_used_and_two_are_an_error()
    {
        using var dir = new TempDirectory();
        var cache = new FakeHubCache(dir.Path);
        cache.AddFolder(Gpt2Repo, "blocks.8.hook_resid_pre", Fixtures.PathOf("saelens_v6/standard"));
        const string yaml = "checkpoints:\n  - {release: gpt2-small-res-jb, sae_id: blocks.8.hook_resid_pre}\n";
        Assert.Single(Resolve(yaml, dir.Path).Entries);

        cache.AddFolder(Gpt2Repo, "blocks.8.hook_resid_pre", Fixtures.PathOf("saelens_v6/topk"), commit: "feedface");
        var r = Resolve(yaml, dir.Path);
        Assert.Empty(r.Entries);
        var error = Assert.Single(r.Diagnostics, d => d.Severity == RegistrySeverity.Error);
        Assert.Contains("no refs/main", error.Message);
        Assert.Contains("feedface", error.Message);
    }

    [Fact]
    public void An_unknown_release_lists_the_known_ones_and_suggests_the_repo_id_form()
    {
        var r = Resolve("checkpoints:\n  - {release: gpt2-small-res-jbb, sae_id: blocks.8.hook_resid_pre}\n", "/");
        var error = Assert.Single(r.Diagnostics);
        Assert.Equal("checkpoints[0].release", error.Field);
        Assert.Contains("Did you mean 'gpt2-small-res-jb'?", error.Message);
        foreach (var known in new[] { "pythia-70m-deduped-res-sm", "gemma-scope-2b-pt-mlp", "gemma-scope-2b-pt-att", "gemma-scope-9b-pt-res",
                                      "sae_bench_pythia70m_sweep_standard_ctx128_0712", "sae_bench_gemma-2-2b_topk_width-2pow16_date-1109" })
            Assert.Contains(known, error.Message);
        Assert.Contains("Hugging Face repo id (org/name)", error.Message);
    }

    [Fact]
    public void Canonical_gemma_scope_releases_are_refused_with_the_concrete_form_to_use()
    {
        var r = Resolve("checkpoints:\n  - {release: gemma-scope-2b-pt-res-canonical, sae_id: layer_12/width_16k/canonical}\n", "/");
        var error = Assert.Single(r.Diagnostics);
        Assert.Equal("checkpoints[0].release", error.Field);
        Assert.Contains("release: google/gemma-scope-2b-pt-res, sae_id: layer_12/width_16k/average_l0_<N>", error.Message);
        Assert.Contains("average_l0_82", error.Message);
    }

    [Theory]
    [InlineData("gpt2-small-res-jb", "blocks.12.hook_resid_pre")]
    [InlineData("gpt2-small-res-jb", "blocks.10.hook_resid_post")]
    [InlineData("pythia-70m-deduped-res-sm", "blocks.6.hook_resid_post")]
    [InlineData("gemma-scope-2b-pt-res", "layer_26/width_16k/average_l0_82")]
    [InlineData("gemma-scope-2b-pt-mlp", "embedding/width_4k/average_l0_6")]
    [InlineData("gemma-scope-2b-pt-res", "layer_12/width_17k/average_l0_82")]
    [InlineData("sae_bench_gemma-2-2b_topk_width-2pow16_date-1109", "blocks.12.hook_resid_post__trainer_0_step_97")]
    [InlineData("sae_bench_pythia70m_sweep_gated_ctx128_0730", "blocks.5.hook_resid_post__trainer_0")]
    public void An_id_the_release_does_not_have_is_an_error_on_sae_id(string release, string saeId)
    {
        var error = Assert.Single(Resolve($"checkpoints:\n  - {{release: {release}, sae_id: '{saeId}'}}\n", "/").Diagnostics);
        Assert.Equal("checkpoints[0].sae_id", error.Field);
        Assert.Contains($"not an id of the release '{release}'", error.Message);
    }

    [Theory]
    [InlineData("pythia-70m-deduped-res-sm", "blocks.0.hook_resid_pre", "ctigges/pythia-70m-deduped__res-sm_processed", "e-res-sm")]
    [InlineData("pythia-70m-deduped-res-sm", "blocks.5.hook_resid_post", "ctigges/pythia-70m-deduped__res-sm_processed", "5-res-sm")]
    [InlineData("gpt2-small-res-jb", "blocks.11.hook_resid_post", "jbloom/GPT2-Small-SAEs-Reformatted", "blocks.11.hook_resid_post")]
    [InlineData("gemma-scope-9b-pt-res", "embedding/width_4k/average_l0_14", "google/gemma-scope-9b-pt-res", "embedding/width_4k/average_l0_14")]
    [InlineData("gemma-scope-9b-pt-res", "layer_41/width_131k/average_l0_11", "google/gemma-scope-9b-pt-res", "layer_41/width_131k/average_l0_11")]
    [InlineData("gemma-scope-2b-pt-att", "layer_0/width_16k/average_l0_104", "google/gemma-scope-2b-pt-att", "layer_0/width_16k/average_l0_104")]
    [InlineData("sae_bench_pythia70m_sweep_standard_ctx128_0712", "blocks.4.hook_resid_post__trainer_23", "canrager/lm_sae",
        "pythia70m_sweep_standard_ctx128_0712/resid_post_layer_4/trainer_23")]
    [InlineData("sae_bench_gemma-2-2b_vanilla_width-2pow14_date-1109", "blocks.19.hook_resid_post__trainer_5_step_9765",
        "canrager/saebench_gemma-2-2b_width-2pow14_date-1109", "gemma-2-2b_vanilla_width-2pow14_date-1109/resid_post_layer_19_checkpoints/trainer_5_step_9765")]
    [InlineData("google/gemma-scope-27b-pt-res", "layer_10/width_131k/average_l0_11", "google/gemma-scope-27b-pt-res", "layer_10/width_131k/average_l0_11")]
    public void The_table_gives_the_repo_and_folder_SAELens_lists(string release, string saeId, string repo, string folder)
    {
        var location = SaeLensReleases.Locate(release, saeId);
        Assert.Equal(repo, location.RepoId);
        Assert.Equal(folder, location.Folder);
    }

    [Theory]
    [InlineData("../../etc")]
    [InlineData("/abs/path")]
    [InlineData("a/./b")]
    [InlineData("a\\b")]
    public void A_repo_id_folder_may_not_leave_the_repo(string saeId) =>
        Assert.Equal("sae_id", Assert.Throws<PretrainedSaeException>(() => SaeLensReleases.Locate("org/repo", saeId)).Key);

    [Theory]
    [InlineData("checkpoints:\n  - {release: a, path: b, sae_id: c}\n", "checkpoints[0]", "exactly one of path: or glob: (or release: with sae_id:)")]
    [InlineData("checkpoints:\n  - {release: a}\n", "checkpoints[0]", "release: needs sae_id:")]
    [InlineData("checkpoints:\n  - {path: a, sae_id: c}\n", "checkpoints[0].sae_id", "goes with release:")]
    [InlineData("checkpoints:\n  - {release: a, sae_id: c, tags: {release: x}}\n", "checkpoints[0].tags.release", "choose another tag name")]
    [InlineData("checkpoints:\n  - {release: a, sae_id: [c]}\n", "checkpoints[0].sae_id (line 2)", "non-empty string")]
    [InlineData("checkpoints:\n  - {release: a, saeid: c}\n", "checkpoints[0].saeid", "valid: path, glob, release, sae_id, id, tags")]
    public void Malformed_release_entries_name_the_file_and_field(string yaml, string field, string message)
    {
        var e = Assert.Throws<CheckpointFormatException>(() => CheckpointRegistry.FromYaml(yaml, "/", "cfg.yaml"));
        Assert.Equal("cfg.yaml", e.File);
        Assert.StartsWith(field, e.Field);
        Assert.Contains(message, e.Message);
    }
}
