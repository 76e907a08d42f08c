using System.Text.Json.Nodes;
using SaeBench.Core.Configuration;
using SaeBench.Core.Results;
using SaeBench.TestKit;

namespace SaeBench.Harness.Tests;

/// <summary>
/// <c>examples/lm</c> end to end, as its README promises: the harness trains the suite on the shipped GPT-2, runs every
/// language-model evaluator on every SAE and builds the report. Only the output directory is redirected.
/// </summary>
public sealed class LanguageModelExampleTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private static string ExampleConfig()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "examples", "lm", "config.yaml");
            if (File.Exists(candidate)) return candidate;
        }
        throw new FileNotFoundException("examples/lm/config.yaml not found above " + AppContext.BaseDirectory);
    }

    [Fact]
    [Trait(Category.Name, Category.Slow)]
    public void The_language_model_example_runs_every_evaluator_on_every_SAE_and_builds_the_report()
    {
        var config = RunConfig.Load(ExampleConfig()) with { Output = _dir.File("out") };
        var env = new HarnessEnvironment(_dir.Path, name => name == HarnessEnvironment.CacheVariable ? _dir.File("cache") : null,
            TimeProvider.System, TextWriter.Null);

        var outcome = new RunPipeline(env).Run(new RunRequest(config) { RenderImages = false });

        Assert.True(outcome.Succeeded, string.Join("\n", outcome.Manifest.Failed.Select(f => $"{f.Job.EvalTypeId}/{f.Job.CheckpointId}: {f.Error}")) + outcome.ReportError);
        var evaluators = config.Evaluators!.Select(e => e.Id).ToHashSet();
        Assert.Equal(["absorption_first_letter", "autointerp", "core", "mdl", "sparse_probing", "unlearning"], evaluators.Order());
        // Twelve trained SAEs and two baselines; every evaluator produced a result (or said why it does not apply) for each.
        Assert.Equal(14, outcome.Checkpoints);
        Assert.Equal(evaluators.Count * outcome.Checkpoints, outcome.Manifest.Done.Count + outcome.Manifest.NotApplicable.Count);
        Assert.DoesNotContain(outcome.Manifest.NotApplicable, j => j.EvalTypeId is "core" or "sparse_probing" or "autointerp" or "mdl");
        // The tiny model does not carry first letters (its README says so): absorption is not applicable on every SAE.
        Assert.Equal(outcome.Checkpoints, outcome.Manifest.NotApplicable.Count(j => j.EvalTypeId == "absorption_first_letter"));

        // The identity baseline is an oracle SAE: spliced in, the model's loss is unchanged.
        var identity = outcome.Manifest.Done.Single(j => j.EvalTypeId == "core" && j.CheckpointId.Contains("identity"));
        var core = ResultFile.Parse(File.ReadAllText(ResultEnvelope.PathFor(outcome.OutputDirectory, "core", identity.CheckpointId)), "core", []);
        Assert.Equal(1.0, core.Find("model_performance_preservation.ce_loss_score")!.Value!.Value, 3);
        Assert.True(File.Exists(Path.Combine(outcome.OutputDirectory, "report.html")));

        // Every result file of an evaluation SAEBench has validates against SAEBench's published schema for it — except the
        // offline judge's autointerp, whose score is deliberately not named autointerp_score (evals/…/Autointerp/README.md;
        // a chat judge's file is validated in AutointerpEvaluatorTests).
        foreach (var job in outcome.Manifest.Done.Where(j => j.EvalTypeId != "autointerp" && File.Exists(TestData.SaeBenchSchema(j.EvalTypeId))))
            SaeBenchSchemas.AssertValid(job.EvalTypeId, JsonNode.Parse(File.ReadAllText(ResultEnvelope.PathFor(outcome.OutputDirectory, job.EvalTypeId, job.CheckpointId)))!);
    }
}
