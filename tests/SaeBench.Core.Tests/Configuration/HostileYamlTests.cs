using SaeBench.Core.Checkpoints;
using SaeBench.Core.Configuration;
using SaeBench.Core.Registry;
using SaeBench.TestKit;

namespace SaeBench.Core.Tests.Configuration;

/// <summary>
/// Hostile YAML (issue 19) is refused naming the file and the line: nesting 30,000 deep once overflowed the stack, nested
/// aliases (a "billion laughs") ran past a minute and gigabytes, an alias inside its own node recursed forever, and a
/// non-scalar key or a typed id threw a cast exception that reached the CLI's stack-trace handler.
/// </summary>
public class HostileYamlTests
{
    private static string Nested(int depth) => "model_options: {hook: " + new string('[', depth) + new string(']', depth) + "}\n";

    /// <summary>Ten levels of nine aliases each: 9^10 (3.5 billion) strings when expanded, 700 bytes as text.</summary>
    private static string Laughs(string at)
    {
        var lines = new List<string> { "  l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]" };
        for (int i = 1; i <= 10; i++) lines.Add($"  l{i}: &l{i} [{string.Join(", ", Enumerable.Repeat($"*l{i - 1}", 9))}]");
        return $"{at}:\n" + string.Join("\n", lines) + "\n";
    }

    private static T Quickly<T>(Func<T> refuse)
    {
        var watch = System.Diagnostics.Stopwatch.StartNew();
        long before = GC.GetAllocatedBytesForCurrentThread();
        var result = refuse();
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(5), $"took {watch.Elapsed}");
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 64L << 20, "allocated more than 64 MiB");
        return result;
    }

    [Fact]
    public void Yaml_nested_30000_deep_is_refused_with_the_line()
    {
        var e = Quickly(() => Assert.Throws<ConfigException>(() => RunConfig.Parse(Nested(30_000), "deep.yaml", "/")));
        Assert.Contains("deep.yaml: invalid YAML at line 1", e.Message);
        Assert.Contains($"nested deeper than {YamlJson.MaxDepth} levels", e.Message);
    }

    [Fact]
    public void Nesting_within_the_limit_is_fine()
    {
        var c = RunConfig.Parse(Nested(YamlJson.MaxDepth - 2), "ok.yaml", "/");
        Assert.NotNull(c.ModelOptions["hook"]);
    }

    [Fact]
    public void A_billion_laughs_is_refused_before_it_expands()
    {
        var e = Quickly(() => Assert.Throws<ConfigException>(() => RunConfig.Parse(Laughs("model_options"), "laughs.yaml", "/")));
        Assert.Contains("laughs.yaml", e.Message);
        Assert.Contains("billion laughs", e.Message);
    }

    [Fact]
    public void Aliases_that_expand_modestly_still_work()
    {
        var c = RunConfig.Parse("model_options:\n  a: &a {x: 1}\n  b: *a\n", "ok.yaml", "/");
        Assert.Equal(1, c.ModelOptions["b"]!["x"]!.GetValue<long>());
    }

    [Fact]
    public void An_alias_inside_the_node_it_names_is_a_cycle()
    {
        var e = Quickly(() => Assert.Throws<ConfigException>(() => RunConfig.Parse("model_options: &x\n  hook: *x\n", "cycle.yaml", "/")));
        Assert.Contains("cycle.yaml: invalid YAML at line 2", e.Message);
        Assert.Contains("*x is inside the node it names", e.Message);
    }

    [Theory]
    [InlineData("? [a, b]\n: 1\n", "not a sequence")]
    [InlineData("? {a: 1}\n: 1\n", "not a mapping")]
    [InlineData("x: &m [1]\n? *m\n: 2\n", "not the alias *m")]
    public void A_key_that_is_not_a_plain_value_is_refused(string yaml, string expected)
    {
        var e = Assert.Throws<ConfigException>(() => RunConfig.Parse(yaml, "keys.yaml", "/"));
        Assert.Contains("keys.yaml", e.Message);
        Assert.Contains("a mapping key must be a plain value", e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void A_nul_in_a_value_is_refused()
    {
        var e = Assert.Throws<ConfigException>(() => RunConfig.Parse("output: \"res\\0ults\"\n", "nul.yaml", "/"));
        Assert.Contains("nul.yaml: invalid YAML at line 1", e.Message);
        Assert.Contains("NUL character", e.Message);
    }

    [Fact]
    public void Duplicate_keys_are_refused()
    {
        var e = Assert.Throws<ConfigException>(() => RunConfig.Parse("model: synthetic\nmodel: file\n", "dup.yaml", "/"));
        Assert.Contains("dup.yaml: invalid YAML at line 2", e.Message);
        Assert.Contains("Duplicate key", e.Message);
    }

    [Theory]
    [InlineData("evaluators:\n  - id: 5\n", "'id' must be an evaluator id (text), found the number 5")]
    [InlineData("evaluators:\n  - id: [core]\n", "'id' must be an evaluator id (text), found a list")]
    [InlineData("evaluators:\n  - id: {a: 1}\n", "'id' must be an evaluator id (text), found a mapping")]
    public void An_evaluator_id_of_the_wrong_type_is_named(string yaml, string expected)
    {
        var e = Assert.Throws<ConfigException>(() => RunConfig.Parse(yaml, "ids.yaml", "/"));
        Assert.Contains("ids.yaml: 'evaluators'", e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void A_config_file_over_the_size_limit_is_refused()
    {
        using var dir = new TempDirectory();
        var path = dir.File("huge.yaml");
        using (var f = File.Create(path)) f.SetLength(YamlJson.MaxFileBytes + 1);
        var e = Assert.Throws<ConfigException>(() => RunConfig.Load(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("MiB", e.Message);
    }

    [Fact]
    public void The_registry_refuses_the_same_yaml_as_a_checkpoint_format_problem()
    {
        var deep = Quickly(() => Assert.Throws<CheckpointFormatException>(() =>
            CheckpointRegistry.FromYaml("checkpoints:\n  - path: " + new string('[', 30_000) + new string(']', 30_000) + "\n", "/", "reg.yaml")));
        Assert.Equal("reg.yaml", deep.File);
        Assert.Contains("nested deeper than", deep.Message);
        var cycle = Assert.Throws<CheckpointFormatException>(() => CheckpointRegistry.FromYaml("checkpoints: &c\n  - *c\n", "/", "reg.yaml"));
        Assert.Contains("*c is inside the node it names", cycle.Message);
        var key = Assert.Throws<CheckpointFormatException>(() => CheckpointRegistry.FromYaml("checkpoints:\n  - {[path]: a}\n", "/", "reg.yaml"));
        Assert.Contains("a mapping key must be a plain value", key.Message);
    }
}
