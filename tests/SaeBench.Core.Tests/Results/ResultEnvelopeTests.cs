using System.Text.Json;
using System.Text.Json.Nodes;
using SaeBench.Core.Evaluation;
using SaeBench.Core.Results;

namespace SaeBench.Core.Tests.Results;

public class ResultEnvelopeTests
{
    private static readonly MetricDescriptor Ev = new("reconstruction_quality", "explained_variance", "Explained variance", "fraction", true);
    private static readonly MetricDescriptor L0 = new("sparsity", "l0", "L0", "latents", null);

    private static ResultEnvelope Some(params MetricValue[] metrics) => new(
        "core", new JsonObject { ["batch_tokens"] = 2048 }, "id-1", 1700000000000,
        new EvalResult(metrics, [new JsonObject { ["index"] = 0 }]),
        "custom", new JsonObject { ["architecture"] = "topk" },
        new Provenance("0.1.0", "asm:0123456789abcdef", "c0ffee", "3", "key", JobStatus.Done, null, "cpu", "m", "mh", 42,
            new CheckpointProvenance("ck<script>", "sha", "/p", "saelens", "topk", 4, 8, new Dictionary<string, string> { ["width"] = "8" }), 1.5));

    [Fact]
    public void Keys_follow_SAEBench_order_then_our_provenance()
    {
        var json = Some(MetricValue.Of(Ev, 0.5)).ToJson();
        Assert.Equal(
            ["eval_type_id", "eval_config", "eval_id", "datetime_epoch_millis", "eval_result_metrics", "eval_result_details",
             "sae_bench_commit_hash", "sae_lens_id", "sae_lens_release_id", "sae_lens_version", "sae_cfg_dict",
             "eval_result_unstructured", "saebench_net"],
            json.Select(kv => kv.Key).ToArray());
    }

    [Fact]
    public void Undefined_metrics_are_null_never_NaN_or_minus_one()
    {
        var json = Some(MetricValue.Of(Ev, double.NaN), new MetricValue(L0, null)).ToJson();
        Assert.Null(json["eval_result_metrics"]!["reconstruction_quality"]!["explained_variance"]);
        Assert.Null(json["eval_result_metrics"]!["sparsity"]!["l0"]);
        var text = json.ToJsonString();
        Assert.DoesNotContain("NaN", text);
    }

    [Fact]
    public void Descriptors_travel_with_the_metrics()
    {
        var json = Some(MetricValue.Of(Ev, 0.5), MetricValue.Of(L0, 3)).ToJson();
        var d = json["saebench_net"]!["metrics"]!.AsArray();
        Assert.Equal(2, d.Count);
        Assert.True(d[0]!["higher_is_better"]!.GetValue<bool>());
        Assert.Null(d[1]!["higher_is_better"]);
    }

    [Fact]
    public void Written_file_round_trips_its_stamp_and_leaves_no_temp_files()
    {
        var dir = Directory.CreateTempSubdirectory().FullName;
        var path = ResultEnvelope.PathFor(dir, "core", "a/b");
        Some(MetricValue.Of(Ev, 0.5)).WriteTo(path);
        Assert.EndsWith(Path.Combine("eval_results", "core", "a_b_eval_results.json"), path);
        Assert.Equal(("key", "done"), ResultFile.ReadStamp(path));
        Assert.Single(Directory.GetFiles(Path.GetDirectoryName(path)!));
        using var doc = JsonDocument.Parse(File.ReadAllText(path));
        Assert.Equal("ck<script>", doc.RootElement.GetProperty("sae_lens_id").GetString());
    }

    [Fact]
    public void Unreadable_result_file_counts_as_absent()
    {
        var path = Path.Combine(Directory.CreateTempSubdirectory().FullName, "x.json");
        File.WriteAllText(path, "{ \"eval_type_id\": \"core\", ");
        Assert.Null(ResultFile.ReadStamp(path));
    }

    [Fact]
    public void Writer_and_reader_round_trip_every_field_the_reports_use()
    {
        var envelope = Some(MetricValue.Of(Ev, 0.5), new MetricValue(L0, null));
        var problems = new List<ResultProblem>();
        var record = ResultFile.Parse(envelope.ToJson().ToJsonString(ResultJson.Indented), "f.json", problems);

        Assert.Empty(problems);
        Assert.Equal("core", record.EvalTypeId);
        Assert.Equal(JobStatus.Done, record.Status);
        Assert.Null(record.Error);
        Assert.Equal(1700000000000, record.DatetimeEpochMillis);
        Assert.Equal([Ev, L0], record.Metrics.Select(m => m.Descriptor));
        Assert.Equal(0.5, record.Find(Ev.Id)!.Value);
        Assert.Null(record.Find(L0.Id)!.Value);
        Assert.Equal("ck<script>", record.Checkpoint.Id);
        Assert.Equal("custom", record.Checkpoint.ReleaseId);
        Assert.Equal("topk", record.Checkpoint.Architecture);
        Assert.Equal("8", record.Checkpoint.Width);
        Assert.Equal("/p", record.Checkpoint.Path);
        Assert.Equal("sha", record.Checkpoint.Sha256);
        Assert.Equal(new RecordedProvenance("0.1.0", "asm:0123456789abcdef", "c0ffee", "3", "key", "cpu", "m", "mh", 42), record.Provenance);
    }

    [Theory]
    [InlineData(JobStatus.Failed)]
    [InlineData(JobStatus.NotApplicable)]
    public void Every_status_round_trips(JobStatus status)
    {
        var envelope = Some() with { Provenance = Some().Provenance with { Status = status, Error = "why" } };
        var record = ResultFile.Parse(envelope.ToJson().ToJsonString(), "f.json", []);
        Assert.Equal(status, record.Status);
        Assert.Equal("why", record.Error);
    }
}
