using SaeBench.Core.Models;
using SaeBench.Core.Running;
using SaeBench.Evals.CoreEval;
using SaeBench.Evals.Tests.Fixtures;
using SaeBench.Models;
using SaeBench.TestKit;

namespace SaeBench.Evals.Tests.Schemas;

/// <summary>
/// Result files of the evaluators SAEBench has validate against SAEBench's published JSON schemas (kept, prose removed, in
/// tests/schemas/saebench). The only deliberate deviation is an undefined metric: null here (SAEBench writes -1, its
/// schema types metrics as numbers), so these runs use SAEs whose metrics are all defined.
/// </summary>
public class SchemaConformanceTests
{
    [Fact]
    public void Core_on_the_synthetic_world_validates()
    {
        var world = EvalFixtures.World(EvalFixtures.SmallWorld);
        var context = EvalFixtures.Context(EvalFixtures.Oracle(world), world);
        var evaluator = new CoreEvaluator();
        var options = evaluator.ParseOptions([]);
        var file = ResultFiles.Of(evaluator, options, SingleJob.Run(evaluator, options, context), context);
        SaeBenchSchemas.AssertValid("core", file);
    }

    [Fact]
    public void Core_on_a_language_model_validates()
    {
        var lm = ModelCatalog.Create("hf:" + TestData.LmModel("gpt2") + ",context=16,windows=24",
            new ModelOptions { WorkingDirectory = TestData.RepositoryRoot, CacheActivations = false });
        var sae = Core.Autoencoders.Sae.Identity(lm.Info.DModel);
        var context = EvalFixtures.Context(sae, lm, batchRows: 64);
        var evaluator = new CoreEvaluator();
        var options = evaluator.ParseOptions([]);
        var result = SingleJob.Run(evaluator, options, context);
        SaeBenchSchemas.AssertValid("core", ResultFiles.Of(evaluator, options, result, context));
        Assert.Equal(1.0, result.Get("model_performance_preservation.ce_loss_score")!.Value, 4); // identity SAE: nothing lost
        Assert.Equal(1.0, result.Get("model_behavior_preservation.kl_div_score")!.Value, 4);

        // A zero SAE (x̂ = 0 everywhere but at BOS, kept as SAEBench keeps special tokens) is the ablation: score 0.
        var p = sae.Parameters.Clone();
        p.WDec = new Compute.Tensors.HostMatrix(p.WDec.Rows, p.WDec.Cols);
        var zero = new Core.Autoencoders.Sae("relu", new Core.Autoencoders.SaeParameters { WEnc = p.WEnc, BEnc = p.BEnc, WDec = p.WDec, BDec = p.BDec });
        var zeroResult = SingleJob.Run(evaluator, evaluator.ParseOptions(new System.Text.Json.Nodes.JsonObject { ["exclude_special_tokens_from_reconstruction"] = false }),
            EvalFixtures.Context(zero, lm, batchRows: 64));
        Assert.Equal(0.0, zeroResult.Get("model_performance_preservation.ce_loss_score")!.Value, 4);
        Assert.Equal(0.0, zeroResult.Get("model_behavior_preservation.kl_div_score")!.Value, 4);

        // SAEBench's batch limits: 1 batch of 2 prompts for CE/KL = 2 windows × 15 non-BOS tokens.
        var limited = SingleJob.Run(evaluator, evaluator.ParseOptions(new System.Text.Json.Nodes.JsonObject
        {
            ["batch_size_prompts"] = 2, ["n_eval_reconstruction_batches"] = 1, ["n_eval_sparsity_variance_batches"] = 2,
        }), EvalFixtures.Context(sae, lm, batchRows: 64));
        Assert.Equal(2 * 15, limited.Get("token_stats.total_tokens_eval_reconstruction"));
        Assert.Equal(4 * 15, limited.Get("token_stats.total_tokens_eval_sparsity_variance"));
    }

    [Fact]
    public void A_file_missing_a_required_metric_does_not_validate()
    {
        var world = EvalFixtures.World(EvalFixtures.SmallWorld);
        var context = EvalFixtures.Context(EvalFixtures.Oracle(world), world);
        var evaluator = new CoreEvaluator();
        var options = evaluator.ParseOptions([]);
        var file = ResultFiles.Of(evaluator, options, SingleJob.Run(evaluator, options, context), context);
        file["eval_result_metrics"]!["sparsity"]!.AsObject().Remove("l0");
        Assert.Contains(SaeBenchSchemas.Problems("core", file), p => p.Contains("l0"));
    }
}
