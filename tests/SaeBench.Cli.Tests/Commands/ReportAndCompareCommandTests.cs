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

    [Fact]
    public async Task Compare_exits_2_for_a_changed_seed_and_lists_it_as_provenance_not_as_regressions()
    {
        using var tmp = new TempDirectory();
        var baseline = tmp.Directory("base");
        var cand = tmp.Directory("cand");
        foreach (var c in SmallRun.Saes)
            Write(baseline, "core", c, [L0(SmallRun.Values[c.Id].L0), ExplainedVariance(SmallRun.Values[c.Id].Ev), LossRecovered(SmallRun.Values[c.Id].Ce)]);
        foreach (var c in SmallRun.Saes)
            Write(cand, "core", c, [L0(SmallRun.Values[c.Id].L0), ExplainedVariance(0.1), LossRecovered(0.1)], provenance: p => p["seed"] = 7);
        var r = await Run(tmp.Path, "compare", "base", "cand");
        Assert.Equal(2, r.Code);
        Assert.Contains("PROVENANCE seed: 0 → 7 (8 result(s), makes the runs incomparable)", r.Out);
        Assert.DoesNotContain("REGRESSED", r.Out);
        Assert.Contains("--allow-provenance-change", r.Err);
        var md = File.ReadAllText(Path.Combine(cand, "comparison", "comparison.md"));
        Assert.Contains("INCOMPARABLE", md);
        Assert.DoesNotContain("### Regressions", md);

        var allowed = await Run(tmp.Path, "compare", "base", "cand", "--allow-provenance-change", "--out", "cmp2");
        Assert.Equal(1, allowed.Code);
        Assert.Contains("REGRESSED", allowed.Out);
    }

    [Fact]
    public async Task Compare_honours_a_tolerance_file()
    {
        using var tmp = new TempDirectory();
        SmallRun.Write(tmp.Directory("base"));
        SmallRun.Write(tmp.Directory("worse"));
        Write(Path.Combine(tmp.Path, "worse"), "mdl", SmallRun.Saes.Single(s => s.Id == "topk-1024-l32"), [DescriptionLength(200), Fvu(0.07)]);
        File.WriteAllText(Path.Combine(tmp.Path, "tol.yaml"), "metrics:\n  \"mdl/mdl.description_length_bits\": { relative: 0.2 }\n");
        Assert.Equal(1, (await Run(tmp.Path, "compare", "base", "worse", "--out", "c1")).Code);
        Assert.Equal(0, (await Run(tmp.Path, "compare", "base", "worse", "--tolerances", "tol.yaml", "--out", "c2")).Code);
        var bad = await Run(tmp.Path, "compare", "base", "worse", "--tolerances", "missing.yaml", "--out", "c3");
        Assert.Equal(2, bad.Code);
        Assert.Contains("missing.yaml", bad.Err);
    }

    [Theory]
    [InlineData("compare")]
    [InlineData("compare", "a", "b", "--bogus")]
    [InlineData("compare", "a", "b", "--tolerance", "abc")]
    public async Task Usage_errors_exit_2(params string[] args)
    {
        using var tmp = new TempDirectory();
        var r = await Run(tmp.Path, args);
        Assert.Equal(2, r.Code);
        Assert.Contains("saebench compare --help", r.Err);
    }
}
