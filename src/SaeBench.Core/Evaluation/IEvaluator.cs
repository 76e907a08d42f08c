using System.Text.Json.Nodes;

namespace SaeBench.Core.Evaluation;

/// <summary>
/// An evaluator plugin. It validates its options before any compute and, per checkpoint, starts a job that sees
/// the shared evaluation batches. Plugins do no file I/O and never loop over checkpoints: the runner owns both.
/// </summary>
public interface IEvaluator
{
    EvaluatorInfo Info { get; }

    /// <summary>Validates raw options (from YAML) into the evaluator's options record; throws <see cref="Configuration.ConfigException"/>
    /// naming the bad field and the valid ones.</summary>
    EvaluatorOptions ParseOptions(JsonObject options);

    /// <summary>Starts the job for one checkpoint. Throws <see cref="NotApplicableException"/> when the model or
    /// checkpoint lacks what the evaluator needs.</summary>
    IEvaluationJob Start(EvaluationContext context, EvaluatorOptions options);
}

/// <summary>One evaluator's work on one checkpoint.</summary>
public interface IEvaluationJob
{
    /// <summary>One batch of the evaluation (test) split with the SAE's code and reconstruction, shared by every job
    /// on this checkpoint. Valid only during the call: copy what you keep.</summary>
    void Observe(SaeBatch batch);

    /// <summary>Any further passes the evaluator needs (other splits, probes, interventions), then the result.</summary>
    EvalResult Complete(CancellationToken cancellation);
}

/// <summary>What an evaluator is.</summary>
/// <param name="Id">The <c>eval_type_id</c> (SAEBench's name where one exists).</param>
/// <param name="Version">The evaluator's version: bump it in the same commit as any change that can change its numbers.
/// It enters the job key (so a persistent results directory re-runs exactly that evaluator's jobs) and every result
/// file's provenance.</param>
public sealed record EvaluatorInfo(string Id, string DisplayName, string Description, string Version);

/// <summary>The evaluator does not apply (e.g. ground truth on a real model); recorded as status not_applicable, not as a failure.</summary>
public sealed class NotApplicableException(string reason) : Exception(reason);
