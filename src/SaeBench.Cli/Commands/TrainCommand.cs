using System.CommandLine;
using System.Globalization;
using SaeBench.Compute.Backends;
using SaeBench.Core.Models;
using SaeBench.Models;
using SaeBench.Training;
using SaeBench.Training.Suites;
using Spectre.Console;

namespace SaeBench.Cli.Commands;

/// <summary><c>saebench train</c>: train a suite of SAEs on a model and write checkpoints plus a registry.</summary>
public static class TrainCommand
{
    public static Command Create(CliContext context)
    {
        var suite = new Option<string>("--suite")
        {
            Description = "Built-in suite (quick, default) or a suite YAML file (model, architectures, widths, target_l0, seeds, steps, batch_size, lr, overrides).",
            DefaultValueFactory = _ => "quick",
        };
        var model = new Option<string?>("--model") { Description = "Model spec (fashion-mnist-mlp, synthetic, file:PATH); default: the suite's, else fashion-mnist-mlp." };
        var hook = ModelsCommand.HookOption();
        var output = new Option<string?>("--out") { Description = "Suite directory; default: .saebench-cache/suites/<suite>-<model hash>/ at the repository root." };
        var force = new Option<bool>("--force") { Description = "Retrain every member even when a matching checkpoint exists." };
        var gemm = new Option<string?>("--gemm") { Description = "GEMM: auto, openblas, managed (default: $SAEBENCH_GEMM, else auto)." };
        var command = new Command("train", "Train a suite of SAEs (every architecture × widths × sparsity targets) on a model; already-trained members are skipped.")
        {
            suite, model, hook, output, force, gemm,
        };
        command.SetAction(parse => Run(context, parse.GetValue(suite)!, parse.GetValue(model), parse.GetValue(hook), parse.GetValue(output),
            parse.GetValue(force), parse.GetValue(gemm)));
        return command;
    }

    private static int Run(CliContext context, string suiteName, string? modelSpec, string? hook, string? output, bool force, string? gemmName)
    {
        SuiteDefinition suite;
        try
        {
            suite = BuiltInSuites.TryGet(suiteName) ?? SuiteDefinition.FromFile(Path.Combine(context.WorkingDirectory, suiteName));
        }
        catch (SuiteFormatException e)
        {
            throw new UserInputException(e.Message + (e.Field == "file" ? $" Built-in suites: {string.Join(", ", BuiltInSuites.Names)}." : ""), e);
        }

        var backend = CheckpointCommandSupport.Backend(context, gemmName);

        var options = ModelsCommand.Options(context, hook);
        var model = ModelsCommand.Open(modelSpec ?? suite.Model ?? ModelCatalog.DefaultSpec, options);
        string dir = output is not null
            ? Path.GetFullPath(Path.Combine(context.WorkingDirectory, output))
            : SuiteTrainer.DefaultDirectory(RepositoryPaths.CacheDirectory(options), suite, model.Info);

        var started = context.Clock.GetTimestamp();
        var results = Train(context, suite, model, backend, dir, force, CancellationToken.None);
        var table = new Table().AddColumns("member", "L0", "EV", "dead", "seconds");
        foreach (var r in results)
            table.AddRow(r.Id, r.HeldOut.L0.ToString("F1", CultureInfo.InvariantCulture), r.HeldOut.ExplainedVariance.ToString("F3", CultureInfo.InvariantCulture),
                r.HeldOut.DeadFraction.ToString("P1", CultureInfo.InvariantCulture), r.Skipped ? "cached" : r.Seconds.ToString("F1", CultureInfo.InvariantCulture));
        context.Console.Write(table);
        context.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{results.Count(r => !r.Skipped)} trained, {results.Count(r => r.Skipped)} already present, {context.Clock.GetElapsedTime(started).TotalSeconds:F1} s. Registry: {Path.Combine(dir, SuiteTrainer.RegistryFile)}"));
        return ExitCodes.Success;
    }

    /// <summary>Trains the missing members of <paramref name="suite"/> into <paramref name="dir"/>, showing progress
    /// (bars on a terminal, lines otherwise); used by <c>train</c> and by <c>run</c> when no checkpoints are configured.</summary>
    internal static IReadOnlyList<TrainedMember> Train(CliContext context, SuiteDefinition suite, IModelUnderStudy model, ComputeBackend backend,
        string dir, bool force, CancellationToken cancellation)
    {
        var members = suite.Members();
        context.Out.WriteLine($"Suite '{suite.Name}': {members.Count} SAEs on {model.Info.Id} ({model.Info.Hook}, d = {model.Info.DModel}) → {dir}");
        context.Out.WriteLine($"Backend: {backend.Description}");
        var trainer = new SuiteTrainer(backend);
        IReadOnlyList<TrainedMember> results;
                if (context.Console.Profile.Capabilities.Interactive && !Console.IsOutputRedirected)
        {
            results = null!;
            context.Console.Progress()
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
                .Start(ctx =>
                {
                    var overall = ctx.AddTask($"[bold]{suite.Name}[/]", maxValue: members.Count);
                    ProgressTask? current = null;
                    results = trainer.EnsureTrained(suite, model, dir, new SyncProgress(p =>
                    {
                        if (p.Step is { } s)
                        {
                            if (current is null || current.Description.StartsWith(p.MemberId, StringComparison.Ordinal) is false)
                                current = ctx.AddTask(p.MemberId, maxValue: s.TotalSteps);
                            current.Value = s.Step;
                            current.Description = Markup.Escape($"{p.MemberId}  loss {s.Loss:F3}  L0 {s.L0:F1}  EV {s.ExplainedVariance:F3}  dead {s.DeadFraction:P0}");
                        }
                        else
                        {
                            if (current is not null) { current.Value = current.MaxValue; current.StopTask(); current = null; }
                            overall.Value = p.MemberIndex + 1;
                            ctx.Refresh();
                        }
                    }), force, cancellation);
                });
        }
        else
        {
            results = trainer.EnsureTrained(suite, model, dir, new SyncProgress(p =>
            {
                if (p.Step is { } s)
                {
                    if (s.Step % 500 == 0 || s.Step == s.TotalSteps)
                        context.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                            $"[{p.MemberIndex + 1}/{p.MemberCount}] {p.MemberId} step {s.Step}/{s.TotalSteps}  loss {s.Loss:F3}  L0 {s.L0:F1}  EV {s.ExplainedVariance:F3}  dead {s.DeadFraction:P0}  {s.SamplesPerSecond:F0} samples/s"));
                }
                else context.Out.WriteLine($"[{p.MemberIndex + 1}/{p.MemberCount}] {p.MemberId}: {p.Status}");
            }), force, cancellation);
        }

        return results;
    }

    /// <summary>Reports synchronously on the training thread (Progress&lt;T&gt; would post to the thread pool).</summary>
    private sealed class SyncProgress(Action<SuiteProgress> action) : IProgress<SuiteProgress>
    {
        public void Report(SuiteProgress value) => action(value);
    }
}
