using SaeBench.Compute.Backends;
using SaeBench.Core.Registry;
using SaeBench.Core.Running;
using SaeBench.Models;
using SaeBench.Training.Suites;

namespace SaeBench.Harness;

/// <summary>
/// A validated run: everything a <see cref="RunRequest"/> names, checked and resolved — evaluators with their parsed
/// options, an available backend, a model spec whose files exist, and either the registered checkpoints or the suite to
/// train — before any model is built, any SAE trained or any checkpoint loaded.
/// </summary>
public sealed record RunPlan(
    RunRequest Request,
    IReadOnlyList<PlannedEvaluator> Evaluators,
    ComputeBackend Backend,
    string ModelSpec,
    ModelOptions ModelOptions,
    IReadOnlyList<CheckpointEntry>? Checkpoints,
    SuiteDefinition? Suite,
    string OutputDirectory,
    IReadOnlyList<string> Warnings)
{
    /// <summary>When the plan has no checkpoints, what will be trained before anything is evaluated (said before training
    /// starts, so that nobody waits minutes for an SAE suite they did not mean to train); null otherwise.</summary>
    public string? TrainingNotice => Checkpoints is null && Suite is { } suite
        ? $"run: no checkpoints given: training the '{suite.Name}' suite ({suite.Members().Count} SAEs) on {ModelSpec} first, then " +
          "evaluating it (members already in the cache are reused). To evaluate your own SAEs instead, pass --checkpoint PATH " +
          "(repeatable) or a config with 'checkpoints:'."
        : null;
}
