using SaeBench.Core.Results;
using SaeBench.Core.Running;

namespace SaeBench.Cli.Commands;

/// <summary>
/// The steps of one checkpoint's progress bar: one per batch streamed through the SAE, then one per job finishing
/// (the jobs compute their results after the last batch, in <c>Complete()</c>). So the bar reaches 100 % only when the
/// checkpoint's last job is done, never while a job is still computing.
/// </summary>
public sealed class CheckpointProgress(CheckpointStarted started)
{
    private int _batches;
    private int _finished;

    public string CheckpointId { get; } = started.CheckpointId;

    /// <summary>Batches plus jobs (at least 1).</summary>
    public double Total { get; } = Math.Max(1, started.Batches + started.Evaluators.Count);

    /// <summary>Steps done so far.</summary>
    public double Done => Math.Min(Total, _batches + _finished);

    /// <summary>Takes one event; false when it is not about this checkpoint's bar.</summary>
    public bool Observe(RunEvent e)
    {
        switch (e)
        {
            case BatchObserved b when b.CheckpointId == CheckpointId:
                _batches = b.Batch;
                return true;
            case JobFinished j when j.CheckpointId == CheckpointId && j.Status != JobStatuses.Skipped:
                _finished++;
                return true;
            default:
                return false;
        }
    }
}
