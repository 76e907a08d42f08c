namespace SaeBench.Core.Running;

/// <summary>Something that happened during a run, for progress displays and logs.</summary>
public abstract record RunEvent;

/// <summary>The plan is known: how many checkpoints and jobs this shard will look at.</summary>
public sealed record PlanReady(int Checkpoints, int Jobs, int AlreadyDone) : RunEvent;

/// <summary>A checkpoint starts: <paramref name="Batches"/> evaluation batches will stream through its jobs.</summary>
public sealed record CheckpointStarted(string CheckpointId, IReadOnlyList<string> Evaluators, int Batches) : RunEvent;

/// <summary>Loading a checkpoint raised a warning (e.g. a feature-choice SAE without thresholds, encoded with batch selection).</summary>
public sealed record CheckpointWarning(string CheckpointId, string Message) : RunEvent;

/// <summary>One evaluation batch went through every job of the checkpoint.</summary>
public sealed record BatchObserved(string CheckpointId, int Batch, int Batches) : RunEvent;

/// <summary>A job entered its own passes (<see cref="Evaluation.IEvaluationJob.Complete"/>).</summary>
public sealed record JobCompleting(string CheckpointId, string EvalTypeId) : RunEvent;

/// <summary>A job ended (done, failed, not applicable or skipped).</summary>
public sealed record JobFinished(string CheckpointId, string EvalTypeId, string Status, double Seconds, string? Error) : RunEvent;

/// <summary>Receives run events. One member, so a test can collect them in a list.</summary>
public interface IRunObserver
{
    void OnEvent(RunEvent e);
}

/// <summary>Ignores every event.</summary>
public sealed class NullRunObserver : IRunObserver
{
    public void OnEvent(RunEvent e) { }
}
