namespace SaeBench.Core;

/// <summary>
/// Bad input from the user — a file, a field, an option, a spec — as opposed to a bug or a failing environment. Every
/// kind of bad input the harness detects is one of these (configuration, checkpoint formats, suites, result
/// directories, model specs, validation of a whole run), so the CLI has one place that turns them into one line and
/// exit code 2. The message names the file and the field.
/// </summary>
public class BadInputException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>Several independent problems found together (a run is validated completely before anything runs).</summary>
public sealed class ValidationException(IReadOnlyList<string> problems)
    : BadInputException(problems.Count == 1 ? problems[0] : $"{problems.Count} problems:\n  - " + string.Join("\n  - ", problems))
{
    public IReadOnlyList<string> Problems { get; } = problems;
}
