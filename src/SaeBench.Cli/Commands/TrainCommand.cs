using System.CommandLine;
using System.Globalization;
using SaeBench.Harness;
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
            Description = "Built-in suite (quick, default, paper) or a suite YAML file (model, architectures, widths, target_l0, seeds, steps, batch_size, lr, overrides).",
            DefaultValueFactory = _ => "quick",
        };
        var model = new Option<string?>("--model") { Description = "Model spec (fashion-mnist-mlp, synthetic, file:PATH, hf:PATH[,hook=…]); default: the suite's, else fashion-mnist-mlp." };
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

        var backend = BackendCatalog.Cpu(context.Harness, gemmName);
        var model = ModelCatalog.Create(modelSpec ?? suite.Model ?? ModelCatalog.DefaultSpec, context.Harness.ModelOptions(hook));
        string dir = output is not null
            ? context.Harness.Resolve(output)
            : SuiteTrainer.DefaultDirectory(context.Harness.CacheDirectory(), suite, model.Info);

        var started = context.Clock.GetTimestamp();
        context.Out.WriteLine($"Backend: {backend.Description}");
        var results = new TrainingProgressDisplay(context).Show(suite, model, dir,
            progress => new SuiteTrainer(backend).EnsureTrained(suite, model, dir, progress, force, CancellationToken.None));
        var table = new Table().AddColumns("member", "L0", "EV", "dead", "seconds");
        foreach (var r in results)
            table.AddRow(r.Id, r.HeldOut.L0.ToString("F1", CultureInfo.InvariantCulture), r.HeldOut.ExplainedVariance.ToString("F3", CultureInfo.InvariantCulture),
                r.HeldOut.DeadFraction.ToString("P1", CultureInfo.InvariantCulture), r.Skipped ? "cached" : r.Seconds.ToString("F1", CultureInfo.InvariantCulture));
        context.Console.Write(table);
        context.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{results.Count(r => !r.Skipped)} trained, {results.Count(r => r.Skipped)} already present, {context.Clock.GetElapsedTime(started).TotalSeconds:F1} s. Registry: {Path.Combine(dir, SuiteTrainer.RegistryFile)}"));
        return ExitCodes.Success;
    }
}
