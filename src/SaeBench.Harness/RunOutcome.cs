using SaeBench.Core.Models;
using SaeBench.Core.Results;
using SaeBench.Reporting;

namespace SaeBench.Harness;

/// <summary>What a run did: its manifest, the model it studied, and the report (or why it could not be built).</summary>
public sealed record RunOutcome(RunManifest Manifest, string OutputDirectory, ModelInfo Model, int Checkpoints, ReportOutcome? Report, string? ReportError)
{
    public bool Succeeded => Manifest.Succeeded && ReportError is null;
}
