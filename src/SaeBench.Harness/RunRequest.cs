using SaeBench.Core.Configuration;
using SaeBench.Core.Running;

namespace SaeBench.Harness;

/// <summary>What a run is asked to do: a configuration (a YAML file's, or the embedded default) and the command line's
/// overrides of how to run it.</summary>
public sealed record RunRequest(RunConfig Config)
{
    /// <summary>Redo jobs whose result files already have their key.</summary>
    public bool Force { get; init; }

    public Shard Shard { get; init; } = Shard.All;

    /// <summary>Rows (tokens) per evaluation batch: memory ∝ BatchRows × d_sae.</summary>
    public int BatchRows { get; init; } = 2048;

    /// <summary>Build tables, figures and report.html after the jobs (only when the run is not sharded).</summary>
    public bool BuildReport { get; init; } = true;

    public bool RenderImages { get; init; } = true;
}
