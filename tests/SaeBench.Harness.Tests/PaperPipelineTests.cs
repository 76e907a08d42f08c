using SaeBench.Core.Configuration;
using SaeBench.Core.Results;
using SaeBench.Core.Running;
using SaeBench.Reporting.Findings;
using SaeBench.Reporting.Results;
using SaeBench.TestKit;

namespace SaeBench.Harness.Tests;

/// <summary>
/// The paper pipeline end to end at toy size: a tiny suite on the synthetic model is trained, evaluated, and
/// findings.md is written with one section per claim, a verdict each, and its figures; the verdicts are the ones the
/// result files alone give (re-derived from a fresh read of the results).
/// </summary>
public sealed class PaperPipelineTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    [Trait(Category.Name, Category.Slow)] // trains and evaluates 17 SAEs: ~20 s on a quiet machine, minutes under load
    public void A_tiny_paper_run_writes_findings_with_every_claim_a_verdict_and_the_mdl_figure()
    {
        var env = new HarnessEnvironment(_dir.Path, name => name == HarnessEnvironment.CacheVariable ? _dir.File("cache") : null, TimeProvider.System, TextWriter.Null);
        File.WriteAllText(_dir.File("tiny.yaml"), """
            name: paper-tiny
            architectures: [topk, batchtopk, matryoshka_batchtopk, feature_choice, mutual_choice]
            widths: [16, 32, 64]
            target_l0: [4]
            steps: 100
            batch_size: 64
            """);
        // 100 steps leave FVU far above the default 0.1, where the MDL evaluator excludes every SAE: a loose common target.
        const double target = 0.99;
        var cfg = PaperPipeline.Configure(RunConfig.Default(_dir.Path) with { Model = "synthetic" }, _dir.File("out"), _dir.File("tiny.yaml"), target);
        var outcome = new PaperPipeline(env).Run(new RunRequest(cfg) { RenderImages = false }, target);

        Assert.True(outcome.Run.Manifest.Succeeded, string.Join("; ", outcome.Run.Manifest.Failed.Select(f => f.Error)));
        var md = File.ReadAllText(Path.Combine(_dir.File("out"), PaperPipeline.FindingsFile));
        foreach (var heading in new[] { "## (a) ", "## (b) ", "## (c) ", "## How this was run" }) Assert.Contains(heading, md);
        Assert.Equal(3, md.Split("**Verdict: ").Length - 1);
        Assert.Contains("Wall time of this `saebench paper` run", md);

        // Verdicts from the files alone, read again: the same as the run's, and each one in the summary table.
        var again = PaperFindingsBuilder.Build(ResultReader.Load(_dir.File("out")), target);
        Assert.Equal(outcome.Findings!.Claims.Select(c => c.Verdict), again.Claims.Select(c => c.Verdict));
        foreach (var c in again.Claims) Assert.Contains($"| ({c.Id}) {c.Title} | **{PaperFindingsBuilder.VerdictText(c.Verdict)}** |", md);

        // topk at three widths of one target: the MDL curve is drawn (spec only: images off), and linked.
        Assert.True(File.Exists(Path.Combine(_dir.File("out"), "figures", "paper_mdl.vl.json")), md);
        Assert.Contains("](figures/paper_mdl.vl.json)", md);
        // (b) has its topk / feature_choice / mutual_choice rows with numbers.
        var b = again.Claims.Single(c => c.Id == "b");
        Assert.NotEqual(Verdict.NotMeasured, b.Verdict);
        Assert.Contains("| mutual_choice |", b.Measurement);
    }

    [Fact]
    [Trait(Category.Name, Category.Slow)] // trains 2 tiny SAEs and evaluates one checkpoint before the stop
    public void An_interrupted_paper_run_keeps_finished_results_and_writes_no_findings()
    {
        var env = new HarnessEnvironment(_dir.Path, name => name == HarnessEnvironment.CacheVariable ? _dir.File("cache") : null, TimeProvider.System, TextWriter.Null);
        File.WriteAllText(_dir.File("tiny.yaml"), """
            name: paper-stop
            architectures: [topk]
            widths: [16, 32]
            target_l0: [4]
            steps: 20
            batch_size: 64
            """);
        var cfg = PaperPipeline.Configure(RunConfig.Default(_dir.Path) with { Model = "synthetic" }, _dir.File("out"), _dir.File("tiny.yaml"), 0.99);
        using var stop = new CancellationTokenSource();
        // Ctrl-C as the first evaluation finishes: the rest of the suite is not evaluated.
        var displays = new HarnessDisplays(new StopAfterFirstJob(stop), HarnessDisplays.None.Training);
        var outcome = new PaperPipeline(env).Run(new RunRequest(cfg) { RenderImages = false }, 0.99, displays, stop.Token);

        Assert.True(outcome.Interrupted);
        Assert.Null(outcome.Findings);
        Assert.False(File.Exists(Path.Combine(_dir.File("out"), PaperPipeline.FindingsFile)));
        Assert.NotEmpty(outcome.Run.Manifest.Done);
        Assert.True(outcome.Run.Manifest.Done.Count < outcome.Run.Manifest.Planned.Count);
    }

    private sealed class StopAfterFirstJob(CancellationTokenSource stop) : IRunDisplay, IRunObserver
    {
        public T Show<T>(Func<IRunObserver, T> run) => run(this);

        public void OnEvent(RunEvent e)
        {
            if (e is JobFinished f && f.Status == JobStatuses.Done) stop.Cancel();
        }
    }
}
