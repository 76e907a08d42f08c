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
    IReadOnlyList<string> Warnings);
