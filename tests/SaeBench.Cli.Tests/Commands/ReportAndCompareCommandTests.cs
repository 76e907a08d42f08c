using SaeBench.TestKit;
using SaeBench.Reporting.Tests.Fixtures;
using static SaeBench.Reporting.Tests.Fixtures.ResultFiles;

namespace SaeBench.Cli.Tests.Commands;

public class ReportAndCompareCommandTests
{
    private static async Task<(int Code, string Out, string Err)> Run(string cwd, params string[] args)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        var code = await SaeBenchApp.RunAsync(args, CliContext.ForWriters(o, e, TestCache.Environment(), workingDirectory: cwd));
        return (code, o.ToString(), e.ToString());
    }

    [Fact]
    public async Task Compare_exits_0_for_identical_runs_and_1_for_a_planted_regression()
    {
        using var tmp = new TempDirectory();
        SmallRun.Write(tmp.Directory("base"));
        SmallRun.Write(tmp.Directory("same"));
        SmallRun.Write(tmp.Directory("worse"));
        // description length is lower-is-better: 180 → 200 bits is 11 % worse
        Write(Path.Combine(tmp.Path, "worse"), "mdl", SmallRun.Saes.Single(s => s.Id == "topk-1024-l32"), [DescriptionLength(200), Fvu(0.07)]);

        var same = await Run(tmp.Path, "compare", "base", "same", "--out", "cmp-same");
        Assert.Equal(0, same.Code);
        Assert.True(File.Exists(Path.Combine(tmp.Path, "cmp-same", "comparison.md")));
        Assert.True(File.Exists(Path.Combine(tmp.Path, "cmp-same", "comparison.json")));

        var worse = await Run(tmp.Path, "compare", "base", "worse", "--tolerance", "0.05");
        Assert.Equal(1, worse.Code);
        Assert.Contains("REGRESSED topk-1024-l32 mdl/mdl.description_length_bits: 180 → 200", worse.Out);
        Assert.True(File.Exists(Path.Combine(tmp.Path, "worse", "comparison", "comparison.json")));

        // within a 20 % tolerance it passes
        Assert.Equal(0, (await Run(tmp.Path, "compare", "base", "worse", "--tolerance", "0.2", "--out", "cmp-loose")).Code);
    }

    [Fact]
    public async Task Compare_and_report_exit_2_for_bad_input()
    {
        using var tmp = new TempDirectory();
        SmallRun.Write(tmp.Directory("base"));
        var missing = await Run(tmp.Path, "compare", "base", "nope");
        Assert.Equal(2, missing.Code);
        Assert.Contains("nope", missing.Err);
        Assert.Equal(2, (await Run(tmp.Path, "compare", "base", "base", "--tolerance=-1")).Code);
        Assert.Equal(2, (await Run(tmp.Path, "report", tmp.Directory("empty"))).Code);
    }

    [Fact]
    public async Task Report_without_images_writes_tables_specs_and_a_table_only_report_and_warns_about_bad_files()
    {
        using var tmp = new TempDirectory();
        var run = tmp.Directory("run");
        SmallRun.Write(run);
        File.WriteAllText(Path.Combine(run, "eval_results", "core", "bad_eval_results.json"), "{oops");
        var r = await Run(tmp.Path, "report", "run", "--out", "out", "--no-images");
        Assert.Equal(0, r.Code);
        Assert.Contains("bad_eval_results.json: malformed JSON", r.Err);
        Assert.Contains("report: note: image rendering switched off", r.Out);
        var outDir = Path.Combine(tmp.Path, "out");
        foreach (var f in new[] { "metrics_tidy.csv", "metrics_wide.csv", "summary.md", "report.html", "figures/architecture_comparison.vl.json" })
            Assert.True(File.Exists(Path.Combine(outDir, f)), f);
        Assert.Contains("id=\"chart\"", File.ReadAllText(Path.Combine(outDir, "report.html")));   // vega is inlined from the assembly
        Assert.False(File.Exists(Path.Combine(outDir, "figures", "architecture_comparison.png")));
    }
}
