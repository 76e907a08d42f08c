using System.Text.Json.Nodes;
using SaeBench.TestKit;

namespace SaeBench.Evals.Tests.Golden;

/// <summary>The golden comparison itself: it must see a change beyond tolerance, honour overrides and list shape changes.</summary>
public class GoldenComparisonTests
{
    private static JsonNode Doc(double l0, double probe, string name = "a") => new JsonObject
    {
        ["metrics"] = new JsonObject { ["core.l0"] = l0, ["sparse_probing.probe_accuracy"] = probe },
        ["name"] = name,
    };

    [Fact]
    public void A_change_beyond_the_tolerance_is_reported_with_its_path()
    {
        var d = TestKit.Golden.Differences(Doc(10, 0.9), Doc(10.001, 0.9));
        Assert.Single(d);
        Assert.StartsWith("metrics.core.l0:", d[0]);
    }

    [Fact]
    public void A_change_within_the_relative_tolerance_passes()
    {
        Assert.Empty(TestKit.Golden.Differences(Doc(10, 0.9), Doc(10 * (1 + 1e-7), 0.9)));
    }

    [Fact]
    public void An_override_loosens_only_the_paths_it_matches()
    {
        var t = new GoldenTolerance().With("metrics.**probe*", 1e-2);
        Assert.Empty(TestKit.Golden.Differences(Doc(10, 0.9), Doc(10, 0.905), t));
        Assert.Single(TestKit.Golden.Differences(Doc(10, 0.9), Doc(10.1, 0.905), t));
    }

    [Fact]
    public void Missing_extra_and_non_numeric_changes_are_reported()
    {
        var expected = Doc(1, 1);
        var actual = Doc(1, 1, "b");
        ((JsonObject)actual)["extra"] = 1;
        ((JsonObject)actual["metrics"]!).Remove("core.l0");
        var d = TestKit.Golden.Differences(expected, actual);
        Assert.Equal(3, d.Count);
        Assert.Contains(d, s => s.StartsWith("metrics.core.l0: missing", StringComparison.Ordinal));
        Assert.Contains(d, s => s.StartsWith("name:", StringComparison.Ordinal));
        Assert.Contains(d, s => s.StartsWith("extra: unexpected", StringComparison.Ordinal));
    }
}
