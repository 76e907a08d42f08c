using SaeBench.Core.Results;
using SaeBench.Core.Running;
using SaeBench.Harness;
using Spectre.Console;

namespace SaeBench.Cli.Commands;

/// <summary>
/// Shows a run's progress: on a terminal, Spectre.Console bars (overall jobs and the current checkpoint's batches, with
/// ETA); otherwise one line per finished job, so CI logs stay readable.
/// </summary>
internal sealed class RunProgressDisplay(CliContext context) : IRunDisplay
{
    public T Show<T>(Func<IRunObserver, T> run)
    {
        if (!context.Console.Profile.Capabilities.Interactive)
            return run(new LineObserver(context.Error));

        T result = default!;
        context.Console.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn(), new SpinnerColumn())
            .Start(ctx => result = run(new BarObserver(ctx, context.Error)));
        return result;
    }

    private sealed class LineObserver(TextWriter log) : IRunObserver
    {
        private int _jobs, _finished;

        public void OnEvent(RunEvent e)
        {
            switch (e)
            {
                case PlanReady p:
                    _jobs = p.Jobs;
                    log.WriteLine($"plan: {p.Checkpoints} checkpoints, {p.Jobs} jobs; {p.AlreadyDone} skipped (a result file with the same job key exists; --force redoes them)");
                    break;
                case CheckpointWarning w:
                    log.WriteLine($"warning: checkpoint {w.CheckpointId}: {w.Message}");
                    break;
                case CheckpointStarted c:
                    log.WriteLine($"checkpoint {c.CheckpointId}: {string.Join(", ", c.Evaluators)} over {c.Batches} batches");
                    break;
                case JobFinished j when j.Status != JobStatuses.Skipped:
                    _finished++;
                    log.WriteLine($"[{_finished + 0}/{_jobs}] {j.EvalTypeId} on {j.CheckpointId}: {j.Status} ({j.Seconds:F1} s){(j.Error is null ? "" : " — " + j.Error)}");
                    break;
                case JobFinished:
                    _finished++;
                    break;
            }
        }
    }

    private sealed class BarObserver(ProgressContext ctx, TextWriter log) : IRunObserver
    {
        private ProgressTask? _overall;
        private ProgressTask? _checkpoint;
        private CheckpointProgress? _steps;

        public void OnEvent(RunEvent e)
        {
            switch (e)
            {
                case PlanReady p:
                    _overall = ctx.AddTask($"jobs ({p.Checkpoints} checkpoints)", maxValue: Math.Max(1, p.Jobs));
                    _overall.Increment(p.AlreadyDone);
                    break;
                case CheckpointStarted c:
                    _checkpoint?.StopTask();
                    // One step per batch plus one per job's completion: the bar reaches 100 % only when the checkpoint's
                    // last job has finished computing, not at its last batch.
                    _steps = new CheckpointProgress(c);
                    _checkpoint = ctx.AddTask(Markup.Escape(c.CheckpointId), maxValue: _steps.Total);
                    break;
                case CheckpointWarning w:
                    log.WriteLine($"warning: checkpoint {w.CheckpointId}: {w.Message}");
                    break;
                case BatchObserved b:
                    if (_steps?.Observe(b) == true) _checkpoint?.Value(_steps.Done);
                    break;
                case JobCompleting j:
                    if (_checkpoint is not null) _checkpoint.Description = Markup.Escape($"{j.CheckpointId}: {j.EvalTypeId}");
                    break;
                case JobFinished j when j.Status != JobStatuses.Skipped:
                    if (_steps?.Observe(j) == true) _checkpoint?.Value(_steps.Done);
                    _overall?.Increment(1);
                    if (j.Error is not null) log.WriteLine($"{j.EvalTypeId} on {j.CheckpointId}: {j.Status} — {j.Error}");
                    break;
            }
        }
    }
}
