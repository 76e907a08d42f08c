using System.Text.Json.Nodes;
using SaeBench.TestKit;
using SaeBench.Reporting.Results;
using SaeBench.Reporting.Tables;
using SaeBench.Reporting.Tests.Fixtures;
using static SaeBench.Reporting.Tests.Fixtures.ResultFiles;

namespace SaeBench.Reporting.Tests.Tables;

public class UnlearningTableTests
{
    private static JsonObject Row(double tau, int n, double k, double forget, double retain, bool uncertain) => new()
    {
        ["tau"] = tau, ["n"] = n, ["multiplier"] = k, ["forget_accuracy"] = forget, ["retain_accuracy"] = retain,
        ["retain_cut_uncertain"] = uncertain,
    };

    [Fact]
    public void The_summary_shows_every_configuration_and_marks_the_one_that_sets_the_score()
    {
        using var tmp = new TempDirectory();
        // Hand-made sweep: the lowest forget accuracy (0.1) is below the retain cut, so the score is set by 0.4 (score 0.6).
        var path = Write(tmp.Path, "unlearning", new Ckpt("a", "relu", 256),
            [new M("unlearning", "unlearning_score", "Unlearning score", null, true, 0.6)],
            config: new JsonObject { ["min_retain_accuracy"] = 0.99 });
        var file = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        file["eval_result_details"] = new JsonArray(
            Row(0.01, 10, 0.5, 0.7, 1.0, false),
            Row(0.01, 10, 1.0, 0.1, 0.95, false),
            Row(0.01, 20, 1.0, 0.4, 0.991, true));
        File.WriteAllText(path, file.ToJsonString());

        var results = ResultReader.Load(tmp.Path);
        var table = Assert.Single(UnlearningTable.Read(results));
        Assert.Equal(3, table.Rows.Count);
        Assert.Equal(0.4, UnlearningTable.Scoring(table.Rows, 0.99)!.ForgetAccuracy);

        var md = UnlearningTable.Markdown(results);
        Assert.Contains("## Unlearning per configuration", md);
        Assert.Contains("τ=0.01 n=10 ×0.5", md);
        Assert.Contains("0.7 / 1 |", md);
        Assert.Contains("0.1 / 0.95 ✗", md);
        Assert.Contains("0.4 / 0.991 ? ◀", md);
        var row = Assert.Single(md.Split('\n'), l => l.StartsWith("| a |", StringComparison.Ordinal));
        Assert.Equal(1, row.Count(ch => ch == '◀'));
    }

    [Fact]
    public void No_unlearning_result_no_section()
    {
        using var tmp = new TempDirectory();
        Write(tmp.Path, "core", new Ckpt("a", "relu", 256), [L0(10)]);
        Assert.Equal("", UnlearningTable.Markdown(ResultReader.Load(tmp.Path)));
    }
}
