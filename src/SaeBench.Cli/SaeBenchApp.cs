using System.CommandLine;
using SaeBench.Cli.Commands;

namespace SaeBench.Cli;

/// <summary>Builds the <c>saebench</c> command tree. Every command is registered here, in one place.</summary>
public static class SaeBenchApp
{
    public static RootCommand Build(CliContext context)
    {
        var root = new RootCommand("saebench — a benchmark harness for sparse autoencoders (SAEs). " + ExitCodes.HelpText);
        foreach (var command in Commands(context)) root.Subcommands.Add(command);
        return root;
    }

    private static IEnumerable<Command> Commands(CliContext context)
    {
        yield return DoctorCommand.Create(context);
        yield return BenchCommand.Create(context);
        yield return ReportCommand.Create(context);
        yield return CompareCommand.Create(context);
        yield return ListCommand.Create(context);
        yield return InspectCommand.Create(context);
        yield return EncodeCommand.Create(context);
        yield return ModelsCommand.Create(context);
        yield return RunCommand.Create(context);
        yield return TrainCommand.Create(context);
        yield return PaperCommand.Create(context);
        yield return LmCommand.Create(context);
    }

    public static async Task<int> RunAsync(string[] args, CliContext context)
    {
        var root = Build(context);
        // The default handler would turn every exception (UserInputException included) into exit code 1 with a stack
        // trace; bad input must be one line and exit code 2, so exceptions are handled here instead.
        // Ctrl-C cancels the action's token; the runner stops at the next batch and writes the manifest. The process is
        // ended only if that takes longer than the timeout (System.CommandLine's default of 2 s could cut the manifest off).
        var config = new InvocationConfiguration
        {
            Output = context.Out, Error = context.Error, EnableDefaultExceptionHandler = false,
            ProcessTerminationTimeout = TimeSpan.FromSeconds(60),
        };
        try
        {
            var parsed = root.Parse(args);
            if (parsed.Errors.Count > 0 && !args.Any(a => a is "-h" or "--help" or "-?"))
            {
                // Bad usage is exit 2 (System.CommandLine's own default is 1): one line per problem, then the command's usage.
                foreach (var error in parsed.Errors) await context.Error.WriteLineAsync("error: " + error.Message);
                var names = new List<string>();
                for (var r = parsed.CommandResult; r is not null; r = r.Parent as System.CommandLine.Parsing.CommandResult)
                    if (r.Command is not RootCommand) names.Insert(0, r.Command.Name);
                await context.Error.WriteLineAsync($"Run 'saebench {string.Join(" ", names.Append("--help"))}' for usage.");
                return ExitCodes.BadInput;
            }
            return await parsed.InvokeAsync(config);
        }
        catch (Core.BadInputException e)
        {
            await context.Error.WriteLineAsync("error: " + e.Message);
            return ExitCodes.BadInput;
        }
        catch (OperationCanceledException)
        {
            await context.Error.WriteLineAsync("interrupted: finished work is kept; run the same command again to resume.");
            return ExitCodes.Interrupted;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The machine, not the input: an output that cannot be written (EnvironmentFailureException says what to do),
            // or a file that vanished or cannot be read. One line, no stack trace.
            await context.Error.WriteLineAsync("error: " + e.Message);
            return ExitCodes.Failed;
        }
        catch (Exception e)
        {
            await context.Error.WriteLineAsync($"error: unexpected {e.GetType().Name}: {e.Message}");
            await context.Error.WriteLineAsync(e.StackTrace);
            return ExitCodes.Failed;
        }
    }
}

/// <summary>Bad input from the user (a file, a field, an option): reported as one line, exit code 2.</summary>
public sealed class UserInputException(string message, Exception? inner = null) : Core.BadInputException(message, inner);
