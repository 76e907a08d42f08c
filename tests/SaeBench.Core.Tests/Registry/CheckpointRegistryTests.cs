using SaeBench.TestKit;
using SaeBench.Core.Checkpoints;
using SaeBench.Core.Registry;
using YamlDotNet.RepresentationModel;

namespace SaeBench.Core.Tests.Registry;

public class CheckpointRegistryTests
{
    private static RegistryResolution Resolve(string yaml) => CheckpointRegistry.FromYaml(yaml, Fixtures.Root, "test.yaml").Resolve();

    [Fact]
    public void Paths_globs_ids_and_tags_resolve()
    {
        var r = Resolve("""
            model: fmnist            # other sections of the runner's config are ignored here
            checkpoints:
              - path: saelens_v6/topk
                id: topk-small
                tags: {architecture: topk, width: 64, target_l0: 8}
              - glob: "dictionary_learning/*/ae.pt"
                tags:
                  family: dl
              - sparsify/layers.4
            """);
        Assert.Empty(r.Diagnostics);
        Assert.Equal(
            ["topk-small", "dictionary_learning-batchtopk", "dictionary_learning-gated", "dictionary_learning-jumprelu",
             "dictionary_learning-matryoshka", "dictionary_learning-standard", "dictionary_learning-topk", "sparsify-layers.4"],
            r.Entries.Select(e => e.Id));
        var first = r.Entries[0];
        Assert.Equal("saelens", first.Format);
        Assert.Equal("8", first.Tags["target_l0"]);
        Assert.Equal("topk", first.Tags["architecture"]);
        Assert.All(r.Entries.Skip(1).Take(6), e => Assert.Equal("dl", e.Tags["family"]));
        Assert.Equal("sparsify", r.Entries[^1].Format);
    }

    [Fact]
    public void The_identity_hash_is_the_loaders_hash()
    {
        var entry = Resolve("checkpoints: [saelens_v6/gated]").Entries.Single();
        Assert.Equal(CheckpointLoader.Load(entry.Path).Info.Sha256, entry.Sha256);
    }

    [Fact]
    public void A_glob_matching_nothing_warns_and_a_missing_path_is_an_error_without_stopping_the_others()
    {
        var r = Resolve("""
            checkpoints:
              - glob: "nowhere/*/cfg.json"
              - path: does/not/exist
              - path: saelens_v6/standard
            """);
        Assert.Single(r.Entries);
        Assert.True(r.HasErrors);
        var warning = Assert.Single(r.Diagnostics, d => d.Severity == RegistrySeverity.Warning);
        Assert.Equal("checkpoints[0].glob", warning.Field);
        Assert.Contains("matches nothing", warning.Message);
        var error = Assert.Single(r.Diagnostics, d => d.Severity == RegistrySeverity.Error);
        Assert.Equal("checkpoints[1].path", error.Field);
        Assert.Contains("does not exist", error.Message);
        Assert.Equal("test.yaml", error.Source);
    }

    [Fact]
    public void A_directory_is_scanned_for_checkpoints()
    {
        var r = CheckpointRegistry.ScanDirectory(Fixtures.Root).Resolve();
        Assert.Empty(r.Diagnostics);
        // 12 manifest checkpoints plus hostile/nan_weights, which is laid out as a checkpoint (loading it is what fails).
        Assert.Equal(13, r.Entries.Count);
        Assert.Contains(r.Entries, e => e.Id == "saelens_v6-jumprelu");
        Assert.Contains(r.Entries, e => e.Id == "hostile-nan_weights");
        Assert.Equal(r.Entries.Count, r.Entries.Select(e => e.Id).Distinct().Count());
    }

    [Fact]
    public void Globs_may_descend_any_number_of_directories()
    {
        var r = Resolve("checkpoints: [{glob: '**/cfg.json'}]");
        Assert.Equal(7, r.Entries.Count); // 4 SAELens v6, 1 v5, 1 sparsify, hostile/nan_weights
        Assert.Contains(r.Entries, e => e.Format == "sparsify");
    }

    [Fact]
    public void Duplicate_ids_are_errors_and_duplicate_checkpoints_are_listed_once()
    {
        var r = Resolve("""
            checkpoints:
              - {path: saelens_v6/topk, id: a}
              - {path: saelens_v6/gated, id: a}
              - {path: saelens_v6/topk/cfg.json}
            """);
        Assert.Single(r.Entries);
        Assert.Contains(r.Diagnostics, d => d.Severity == RegistrySeverity.Error && d.Message.Contains("id 'a'"));
        Assert.Contains(r.Diagnostics, d => d.Severity == RegistrySeverity.Warning && d.Message.Contains("already registered"));
    }

    [Theory]
    [InlineData("checkpoints:\n  - pth: x\n", "checkpoints[0].pth (line 2)", "unknown key 'pth'")]
    [InlineData("checkpoints:\n  - {path: a, glob: b}\n", "checkpoints[0]", "exactly one of path: or glob:")]
    [InlineData("checkpoints:\n  - {path: a, tags: [x]}\n", "checkpoints[0].tags", "mapping")]
    [InlineData("checkpoints:\n  - {path: a, id: 'a/b'}\n", "checkpoints[0].id", "letters, digits")]
    [InlineData("checkpoints: 3\n", "checkpoints", "must be a list")]
    [InlineData("models: []\n", "checkpoints", "no 'checkpoints:' section")]
    [InlineData("checkpoints: [\n", "line", "not valid YAML")]
    public void Malformed_sections_name_the_file_and_field(string yaml, string field, string message)
    {
        var e = Assert.Throws<CheckpointFormatException>(() => CheckpointRegistry.FromYaml(yaml, Fixtures.Root, "cfg.yaml"));
        Assert.Equal("cfg.yaml", e.File);
        Assert.StartsWith(field, e.Field);
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void A_node_parsed_by_another_component_is_accepted()
    {
        var stream = new YamlStream();
        stream.Load(new StringReader("checkpoints:\n  - path: saelens_v5/topk\n    tags: {width: 64}\n"));
        var section = ((YamlMappingNode)stream.Documents[0].RootNode).Children[new YamlScalarNode("checkpoints")];
        var entry = CheckpointRegistry.FromNode(section, Fixtures.Root, "run.yaml").Resolve().Entries.Single();
        Assert.Equal("saelens_v5-topk", entry.Id);
        Assert.Equal("64", entry.Tags["width"]);
    }

    [Fact]
    public void Relative_paths_are_relative_to_the_config_file()
    {
        using var dir = new TempDirectory();
        var config = dir.File("run.yaml");
        File.WriteAllText(config, $"checkpoints:\n  - path: {Path.GetRelativePath(dir.Path, Fixtures.PathOf("saelens_v6/topk"))}\n");
        Assert.Single(CheckpointRegistry.FromFile(config).Resolve().Entries);
    }
}
