using System.Text.Json.Nodes;
using SaeBench.Core.Checkpoints;
using SaeBench.Core.Evaluation;
using SaeBench.Core.Results;
using SaeBench.Core.Running;

namespace SaeBench.Evals.Tests.Schemas;

/// <summary>Result files as the runner writes them, for one evaluator's result (what schema validation looks at).</summary>
public static class ResultFiles
{
    public static JsonObject Of(IEvaluator evaluator, EvaluatorOptions options, EvalResult result, EvaluationContext context)
    {
        var info = new CheckpointInfo
        {
            Path = "/mem/sae", Format = "native", Architecture = context.Sae.Architecture, DIn = context.Sae.DIn, DSae = context.Sae.DSae,
            Dtype = "float32", ApplyBDecToInput = context.Sae.Parameters.ApplyBDecToInput, InputScale = 1, Files = [],
            ModelName = context.Model.Info.Id, HookName = context.Model.Info.Hook,
        };
        var provenance = new Provenance("0.1.0", "asm:test", "c0ffee", evaluator.Info.Version, "key", JobStatus.Done, null, "cpu",
            context.Model.Info.Id, context.Model.Info.ContentHash, context.Seed,
            new CheckpointProvenance("sae", "sha", "/mem/sae", "native", context.Sae.Architecture, context.Sae.DIn, context.Sae.DSae, new Dictionary<string, string>()),
            0.5);
        return new ResultEnvelope(evaluator.Info.Id, options.ToJson(), "id", 1, result, "custom", SaeConfigJson.Of(info), provenance).ToJson();
    }
}
