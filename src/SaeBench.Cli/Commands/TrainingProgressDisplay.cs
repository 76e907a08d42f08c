using System.Globalization;
using SaeBench.Core.Models;
using SaeBench.Harness;
using SaeBench.Training.Suites;
using Spectre.Console;

namespace SaeBench.Cli.Commands;

/// <summary>
/// Shows a suite's training: on a terminal, a bar for the suite and one for the member in training (loss, L0, EV,
/// dead); otherwise a line every 500 steps and one per member, so CI logs stay readable. Used by <c>train</c>, and by
/// <c>run</c> when it trains the default suite first.
/// </summary>
internal sealed class TrainingProgressDisplay(CliContext context) : ITrainingDisplay
{
    public T Show<T>(SuiteDefinition suite, IModelUnderStudy model, string directory, Func<IProgress<SuiteProgress>, T> train)
    {
        int count = suite.Members().Count;
        context.Out.WriteLine($"Suite '{suite.Name}': {count} SAEs on {model.Info.Id} ({model.Info.Hook}, d = {model.Info.DModel}) → {directory}");
        if (!context.Console.Profile.Capabilities.Interactive || Console.IsOutputRedirected)
        {
            return train(new SyncProgress(p =>
            {
                if (p.Step is { } s)
                {
                    if (s.Step % 500 == 0 || s.Step == s.TotalSteps)
                        context.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                            $"[{p.MemberIndex + 1}/{p.MemberCount}] {p.MemberId} step {s.Step}/{s.TotalSteps}  loss {s.Loss:F3}  L0 {s.L0:F1}  EV {s.ExplainedVariance:F3}  dead {s.DeadFraction:P0}  {s.SamplesPerSecond:F0} samples/s"));
                }
                else context.Out.WriteLine($"[{p.MemberIndex + 1}/{p.MemberCount}] {p.MemberId}: {p.Status}");
            }));
        }

        T result = default!;
        context.Console.Progress()
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
            .Start(ctx =>
            {
                var overall = ctx.AddTask($"[bold]{Markup.Escape(suite.Name)}[/]", maxValue: count);
                ProgressTask? current = null;
                result = train(new SyncProgress(p =>
                {
                    if (p.Step is { } s)
                    {
                        if (current is null || !current.Description.StartsWith(p.MemberId, StringComparison.Ordinal))
                            current = ctx.AddTask(Markup.Escape(p.MemberId), maxValue: s.TotalSteps);
                        current.Value = s.Step;
                        current.Description = Markup.Escape($"{p.MemberId}  loss {s.Loss:F3}  L0 {s.L0:F1}  EV {s.ExplainedVariance:F3}  dead {s.DeadFraction:P0}");
                    }
                    else
                    {
                        if (current is not null) { current.Value = current.MaxValue; current.StopTask(); current = null; }
                        overall.Value = p.MemberIndex + 1;
                        ctx.Refresh();
                    }
                }));
            });
        return result;
    }

    /// <summary>Reports synchronously on the training thread (Progress&lt;T&gt; would post to the thread pool).</summary>
    private sealed class SyncProgress(Action<SuiteProgress> action) : IProgress<SuiteProgress>
    {
        public void Report(SuiteProgress value) => action(value);
    }
}
