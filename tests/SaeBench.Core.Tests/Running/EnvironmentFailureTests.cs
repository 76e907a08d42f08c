using System.Text.Json.Nodes;
using SaeBench.Compute.Backends;
using SaeBench.Compute.Tensors;
using SaeBench.Core.Autoencoders;
using SaeBench.Core.Checkpoints;
using SaeBench.Core.Evaluation;
using SaeBench.Core.Results;
using SaeBench.Core.Running;
using SaeBench.TestKit;

namespace SaeBench.Core.Tests.Running;

/// <summary>
/// The machine failing (issue 19): an output that is denied, read-only, a file or on a full disk, and a checkpoint id too
/// long for a file name. Each once escaped as a raw IOException with a stack trace; now the run stops with an
/// <see cref="EnvironmentFailureException"/> that says what to do, and the results written before stay intact.
/// </summary>
public sealed class EnvironmentFailureTests : IDisposable
{
    private const int D = 4;
    private readonly TempDirectory _dir = new();
    private readonly FakeModel _model = FakeModelBuilder.Random(D, examples: 30, seed: 1).Build();

    public void Dispose() => _dir.Dispose();

    private string Out => _dir.File("out");

    private static RunCheckpoint Checkpoint(string id)
    {
        var eye = new HostMatrix(D, D);
        for (int i = 0; i < D; i++) eye[i, i] = 1;
        var sae = new Sae("relu", new SaeParameters { WEnc = eye, BEnc = new float[D], WDec = eye.Clone(), BDec = new float[D] });
        var info = new CheckpointInfo
        {
            Path = "/mem/" + id, Format = "memory", Architecture = "relu", DIn = D, DSae = D, Dtype = "float32",
            DecoderNorms = new SummaryStats(1, 1, 1, D), ApplyBDecToInput = false, InputScale = 1, Files = [], Sha256 = "sha-" + id,
        };
        return new RunCheckpoint(id, "/mem/" + id, new Dictionary<string, string>(), () => "sha-" + id, () => new LoadedCheckpoint(sae, info));
    }

    private RunSettings Settings(Action<string, string>? write = null) =>
        new(Out, CpuBackend.Create(), new HarnessVersion("0.1.0", "asm:test", null), TimeProvider.System) { BatchRows = 16, WriteFile = write ?? AtomicFile.WriteAllText };

    private static PlannedEvaluator[] Evaluators() => [new(new MeanEvaluator("m1"), new MeanEvaluator("m1").ParseOptions([])), new(new MeanEvaluator("m2"), new MeanEvaluator("m2").ParseOptions([]))];

    /// <summary>Writes normally <paramref name="healthy"/> times, then fails every write with <paramref name="failure"/>.</summary>
    private static Action<string, string> FailingAfter(int healthy, Func<Exception> failure)
    {
        int writes = 0;
        return (path, text) =>
        {
            if (++writes > healthy) throw failure();
            AtomicFile.WriteAllText(path, text);
        };
    }

    public static TheoryData<string, string> Failures() => new()
    {
        { "disk full", "the disk is full (or the quota is used up); free some space, or choose another output directory" },
        { "read-only", "the file system is read-only; choose another output directory" },
        { "denied", "permission denied; make the directory writable, or choose another output directory" },
    };

    private static Exception Make(string kind) => kind switch
    {
        "disk full" => new IOException("No space left on device", 28),
        "read-only" => new IOException("Read-only file system", 30),
        _ => new UnauthorizedAccessException("Access to the path is denied."),
    };

    [Theory]
    [MemberData(nameof(Failures))]
    public void A_failing_output_mid_run_stops_the_run_says_what_to_do_and_keeps_finished_results(string kind, string advice)
    {
        var checkpoints = new[] { Checkpoint("a"), Checkpoint("b"), Checkpoint("c") };
        var e = Assert.Throws<EnvironmentFailureException>(() =>
            new Runner(Settings(FailingAfter(3, () => Make(kind)))).Run(checkpoints, Evaluators(), _model));
        Assert.Contains("cannot write " + Path.Combine(Out, "eval_results"), e.Message);
        Assert.Contains(advice, e.Message);
        Assert.Contains("The run stopped: the 3 results written before are kept, and running the same command again resumes.", e.Message);

        var files = Directory.GetFiles(Out, "*", SearchOption.AllDirectories);
        Assert.Equal(3, files.Length);
        Assert.All(files, f => Assert.Equal(JobStatuses.Done, ResultFile.ReadStamp(f)!.Value.Status));

        var resumed = new Runner(Settings()).Run(checkpoints, Evaluators(), _model);
        Assert.Equal(3, resumed.Skipped.Count);
        Assert.Equal(3, resumed.Done.Count);
    }

    [Fact]
    public void A_manifest_that_cannot_be_written_is_reported_after_every_result_is_kept()
    {
        var e = Assert.Throws<EnvironmentFailureException>(() =>
            new Runner(Settings(FailingAfter(2, () => Make("disk full")))).Run([Checkpoint("a")], Evaluators(), _model));
        Assert.Contains("manifest.json: the disk is full", e.Message);
        Assert.Contains("Every job ran and its result file is kept", e.Message);
        Assert.Equal(2, Directory.GetFiles(Path.Combine(Out, "eval_results"), "*.json", SearchOption.AllDirectories).Length);
    }

    [Fact]
    public void An_output_folder_that_is_a_file_is_reported_before_any_result_is_lost()
    {
        Directory.CreateDirectory(Out);
        File.WriteAllText(Path.Combine(Out, "eval_results"), "I am a file");
        var e = Assert.Throws<EnvironmentFailureException>(() => new Runner(Settings()).Run([Checkpoint("a")], Evaluators(), _model));
        Assert.Contains("cannot write " + Path.Combine(Out, "eval_results"), e.Message);
        Assert.Contains("a file or directory is in the way", e.Message);
        Assert.Equal("I am a file", File.ReadAllText(Path.Combine(Out, "eval_results")));
    }

    [Fact]
    public void Check_writable_refuses_a_file_and_a_path_under_a_file()
    {
        var file = _dir.File("f");
        File.WriteAllText(file, "x");
        Assert.Contains("is a file", Assert.Throws<EnvironmentFailureException>(() => AtomicFile.CheckWritable(file)).Message);
        Assert.Contains("a file or directory is in the way", Assert.Throws<EnvironmentFailureException>(() => AtomicFile.CheckWritable(Path.Combine(file, "sub"))).Message);
        AtomicFile.CheckWritable(_dir.File("fresh", "dir"));
        Assert.Empty(Directory.GetFileSystemEntries(_dir.File("fresh", "dir")));
    }

    [Fact]
    public void A_checkpoint_id_too_long_for_a_file_name_gets_a_shortened_unique_file()
    {
        string longId = new('x', 300), otherLongId = new string('x', 299) + "y";
        var manifest = new Runner(Settings()).Run([Checkpoint(longId), Checkpoint(otherLongId)], Evaluators(), _model);
        Assert.Equal(4, manifest.Done.Count);
        var path = ResultEnvelope.PathFor(Out, "m1", longId);
        Assert.True(System.Text.Encoding.UTF8.GetByteCount(Path.GetFileName(path)) <= 255);
        Assert.NotEqual(path, ResultEnvelope.PathFor(Out, "m1", otherLongId));
        Assert.Equal(longId, ResultFile.Parse(File.ReadAllText(path), path, []).Checkpoint.Id);
        Assert.Equal(4, new Runner(Settings()).Run([Checkpoint(longId), Checkpoint(otherLongId)], Evaluators(), _model).Skipped.Count);
    }

    [Theory]
    [InlineData("short", "short")]
    [InlineData("a/b:c", "a_b_c")]
    [InlineData("..", "_..")]
    public void Ids_that_fit_keep_their_file_names(string id, string expected) => Assert.Equal(expected, ResultEnvelope.SafeFileName(id));

    [Fact]
    public void Long_multibyte_ids_are_cut_on_a_character_boundary()
    {
        var name = ResultEnvelope.SafeFileName(string.Concat(Enumerable.Repeat("é😀", 200)));
        Assert.True(System.Text.Encoding.UTF8.GetByteCount(name) <= ResultEnvelope.MaxFileNameBytes);
        Assert.DoesNotContain('\uFFFD', System.Text.Encoding.UTF8.GetString(System.Text.Encoding.UTF8.GetBytes(name)));
    }
}
