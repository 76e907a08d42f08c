using Spectre.Console;

namespace SaeBench.Cli;

/// <summary>
/// Everything a command takes from the outside world: output, the clock and the environment.
/// Tests build one with their own writers and variables; nothing reads process globals directly.
/// </summary>
public sealed record CliContext(
    TextWriter Out,
    TextWriter Error,
    IAnsiConsole Console,
    TimeProvider Clock,
    Func<string, string?> Environment,
    string WorkingDirectory)
{
    /// <summary>The run library's view of this context: working directory, variables, clock; progress to <see cref="Error"/>.</summary>
    public Harness.HarnessEnvironment Harness => new(WorkingDirectory, Environment, Clock, Error);

    public static CliContext FromProcess() => new(
        System.Console.Out,
        System.Console.Error,
        AnsiConsole.Console,
        TimeProvider.System,
        System.Environment.GetEnvironmentVariable,
        Directory.GetCurrentDirectory());

    /// <summary>A context writing to the given writers, for tests.</summary>
    public static CliContext ForWriters(TextWriter output, TextWriter error, IReadOnlyDictionary<string, string>? environment = null, string? workingDirectory = null)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(output),
            Ansi = AnsiSupport.No,
            ColorSystem = ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
        });
        return new(output, error, console, TimeProvider.System,
            name => environment is not null && environment.TryGetValue(name, out var v) ? v : null,
            workingDirectory ?? Directory.GetCurrentDirectory());
    }
}
