using SaeBench.TestKit;
using SaeBench.Core.Results;
using SaeBench.Reporting.Results;
using SaeBench.Reporting.Tests.Fixtures;
using static SaeBench.Reporting.Tests.Fixtures.ResultFiles;

namespace SaeBench.Reporting.Tests.Results;

public class ResultReaderTests
{
    private static readonly Ckpt A = new("topk-a", "topk", 256, 16);
    private static readonly Ckpt B = new("relu-b", "relu", 1024);

    [Fact]
    public void Shards_in_sibling_directories_are_merged()
    {
        using var tmp = new TempDirectory();
        Write(tmp.Directory("shard-0"), "core", A, [L0(16), ExplainedVariance(0.9)]);
        Write(tmp.Directory("shard-1"), "core", B, [L0(40), ExplainedVariance(0.8)]);
        Write(tmp.Directory("shard-1"), "mdl", A, [DescriptionLength(100), Fvu(0.05)]);

        var set = ResultReader.Load(tmp.Path);

        Assert.Empty(set.Problems);
        Assert.Equal(["relu-b", "topk-a"], set.Checkpoints.Select(c => c.Id).Order());
        Assert.Equal(0.9, set.Value("topk-a", new("core", "reconstruction_quality.explained_variance")));
        Assert.Equal(100, set.Value("topk-a", new("mdl", "mdl.description_length_bits")));
        Assert.Equal(0.8, set.Value("relu-b", new("core", "reconstruction_quality.explained_variance")));
    }

    [Fact]
    public void Descriptors_and_checkpoint_fields_come_from_the_file()
    {
        using var tmp = new TempDirectory();
        Write(tmp.Path, "core", A, [L0(16), ExplainedVariance(0.9)]);
        var set = ResultReader.Load(tmp.Path);
        var d = set.Descriptor(new("core", "reconstruction_quality.explained_variance"))!;
        Assert.Equal("Explained variance (fraction)", d.Title);
        Assert.True(d.HigherIsBetter);
        Assert.Null(set.Descriptor(new("core", "sparsity.l0"))!.HigherIsBetter);
        var c = Assert.Single(set.Checkpoints);
        Assert.Equal(("topk", "256", "16"), (c.Architecture, c.Width, c.TargetL0));
        Assert.Equal(256.0, c.WidthValue);
    }

    [Fact]
    public void A_spelling_of_an_architecture_joins_its_series_and_a_training_method_keeps_its_own()
    {
        // A file of another tool (or an older harness) says "standard" for a ReLU SAE: it must join the relu series,
        // while p_anneal stays a series of its own.
        using var tmp = new TempDirectory();
        Write(tmp.Path, "core", new Ckpt("sl-standard", "standard", 1024), [L0(16)]);
        Write(tmp.Path, "core", B, [L0(40)]);
        Write(tmp.Path, "core", new Ckpt("pa", "p_anneal", 1024), [L0(30)]);
        var set = ResultReader.Load(tmp.Path);
        Assert.Equal("relu", set.Checkpoints.Single(c => c.Id == "sl-standard").Architecture);
        Assert.Equal("p_anneal", set.Checkpoints.Single(c => c.Id == "pa").Architecture);
        Assert.Equal(["p_anneal", "relu", "relu"], set.Checkpoints.Select(c => c.Architecture!).Order());
    }

    [Fact]
    public void Malformed_json_is_reported_with_its_file_and_skipped()
    {
        using var tmp = new TempDirectory();
        Write(tmp.Path, "core", A, [L0(16)]);
        var bad = Path.Combine(tmp.Path, "eval_results", "core", "broken_eval_results.json");
        File.WriteAllText(bad, "{ \"eval_type_id\": \"core\", ");

        var set = ResultReader.Load(tmp.Path);

        Assert.Single(set.Results);
        var p = Assert.Single(set.Problems);
        Assert.Equal(Path.Combine("eval_results", "core", "broken_eval_results.json"), p.File);
        Assert.StartsWith("malformed JSON", p.Message);
    }

    [Fact]
    public void A_missing_required_field_is_named()
    {
        using var tmp = new TempDirectory();
        var path = Write(tmp.Path, "core", A, [L0(16)]);
        File.WriteAllText(path, File.ReadAllText(path).Replace("\"eval_type_id\"", "\"eval_type\""));
        Write(tmp.Path, "core", B, [L0(16)]);
        var set = ResultReader.Load(tmp.Path);
        Assert.Contains("'eval_type_id'", Assert.Single(set.Problems).Message);
        Assert.Equal("relu-b", Assert.Single(set.Results).Checkpoint.Id);
    }

    [Fact]
    public void Failed_and_not_applicable_results_are_kept_without_metrics()
    {
        using var tmp = new TempDirectory();
        Write(tmp.Path, "core", A, [L0(16)]);
        Write(tmp.Path, "absorption_first_letter", A, [], status: "not_applicable", error: "fewer than 3 parents qualify");
        Write(tmp.Path, "unlearning", A, [], status: "failed", error: "boom");
        var set = ResultReader.Load(tmp.Path);
        Assert.Empty(set.Problems);
        Assert.Equal(3, set.Results.Count);
        var na = set.Results.Single(r => r.EvalTypeId == "absorption_first_letter");
        Assert.Equal(JobStatus.NotApplicable, na.Status);
        Assert.Equal("fewer than 3 parents qualify", na.Error);
        Assert.Empty(na.Metrics);
    }

    [Fact]
    public void Null_metric_stays_null()
    {
        using var tmp = new TempDirectory();
        Write(tmp.Path, "core", A, [L0(16), ExplainedVariance(null)]);
        var set = ResultReader.Load(tmp.Path);
        var key = new Reporting.Results.MetricKey("core", "reconstruction_quality.explained_variance");
        Assert.Contains(key, set.MetricKeys);
        Assert.Null(set.Value("topk-a", key));
        Assert.False(set.HasValues(key));
    }

    [Fact]
    public void Duplicate_job_keeps_the_newer_file_and_says_so()
    {
        using var tmp = new TempDirectory();
        Write(tmp.Directory("s0"), "core", A, [L0(10)], epochMillis: 1000);
        Write(tmp.Directory("s1"), "core", A, [L0(20)], epochMillis: 2000);
        var set = ResultReader.Load(tmp.Path);
        Assert.Equal(20, set.Value("topk-a", new("core", "sparsity.l0")));
        Assert.Contains("duplicate", Assert.Single(set.Problems).Message);
    }

    [Fact]
    public void Missing_directory_or_no_results_is_an_input_error()
    {
        using var tmp = new TempDirectory();
        var e1 = Assert.Throws<ResultsInputException>(() => ResultReader.Load(Path.Combine(tmp.Path, "nope")));
        Assert.Contains("does not exist", e1.Message);
        var e2 = Assert.Throws<ResultsInputException>(() => ResultReader.Load(tmp.Path));
        Assert.Contains("no result files", e2.Message);
    }

    [Fact]
    public void Files_outside_an_eval_results_folder_are_ignored()
    {
        using var tmp = new TempDirectory();
        Write(tmp.Path, "core", A, [L0(16)]);
        File.WriteAllText(Path.Combine(tmp.Path, "stray_eval_results.json"), "not json");
        var set = ResultReader.Load(tmp.Path);
        Assert.Empty(set.Problems);
        Assert.Single(set.Results);
    }

    [Fact]
    public void Shard_manifests_are_merged_by_job_key()
    {
        using var tmp = new TempDirectory();
        var s0 = tmp.Directory("s0");
        var s1 = tmp.Directory("s1");
        Write(s0, "core", A, [L0(16)]);
        Write(s1, "core", B, [L0(16)]);
        File.WriteAllText(Path.Combine(s0, "manifest.json"), """
            { "planned": [ {"eval_type_id":"core","checkpoint_id":"topk-a","job_key":"k1"}, {"eval_type_id":"core","checkpoint_id":"relu-b","job_key":"k2"} ],
              "done": [ {"eval_type_id":"core","checkpoint_id":"topk-a","job_key":"k1"} ], "skipped": [], "failed": [] }
            """);
        File.WriteAllText(Path.Combine(s1, "manifest.json"), """
            { "planned": [ {"eval_type_id":"core","checkpoint_id":"topk-a","job_key":"k1"}, {"eval_type_id":"core","checkpoint_id":"relu-b","job_key":"k2"} ],
              "done": [], "skipped": [], "failed": [ {"job": {"eval_type_id":"core","checkpoint_id":"relu-b","job_key":"k2"}, "error": "out of memory"} ] }
            """);
        var m = ResultReader.Load(tmp.Path).Manifest!;
        Assert.Equal(2, m.Planned.Count);
        Assert.Single(m.Done);
        Assert.Equal("out of memory", Assert.Single(m.Failed).Error);
        var roundTrip = RunManifest.Parse(m.ToJsonString());
        Assert.Equal(m.Planned, roundTrip.Planned);
        Assert.Equal(m.Failed, roundTrip.Failed);
    }

    [Fact]
    public void Manifests_the_runner_writes_for_shards_of_one_directory_are_merged()
    {
        using var tmp = new TempDirectory();
        Write(tmp.Path, "core", A, [L0(16)]);
        Write(tmp.Path, "core", B, [L0(16)]);
        var a = new PlannedJob("core", "topk-a", "k1");
        var b = new PlannedJob("core", "relu-b", "k2");
        new RunManifest([a, b], [a], [], [], [], false)
            .WriteTo(Path.Combine(tmp.Path, RunManifest.FileName(1, 2)));
        new RunManifest([a, b], [], [], [new FailedJob(b, "out of memory")], [], false)
            .WriteTo(Path.Combine(tmp.Path, RunManifest.FileName(2, 2)));
        var m = ResultReader.Load(tmp.Path).Manifest!;
        Assert.Equal(2, m.Planned.Count);
        Assert.Single(m.Done);
        Assert.Equal("out of memory", Assert.Single(m.Failed).Error);
    }

    [Fact]
    public void Report_rebuild_keeps_not_applicable_and_interrupted()
    {
        using var tmp = new TempDirectory();
        Write(tmp.Path, "core", A, [L0(16)]);
        var a = new PlannedJob("core", "topk-a", "k1");
        var b = new PlannedJob("mdl", "topk-a", "k2");
        new RunManifest([a, b], [a], [], [], [b], Interrupted: true).WriteTo(Path.Combine(tmp.Path, "manifest.json"));
        var outDir = Path.Combine(tmp.Path, "other");
        ReportBuilder.Build(tmp.Path, outDir, new ReportOptions(RenderImages: false), TextWriter.Null);
        var rebuilt = RunManifest.Parse(File.ReadAllText(Path.Combine(outDir, "manifest.json")));
        Assert.Equal([b], rebuilt.NotApplicable);
        Assert.True(rebuilt.Interrupted);
        Assert.Equal([a, b], rebuilt.Planned);
    }
}
