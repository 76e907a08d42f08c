namespace SaeBench.Core.Checkpoints;

/// <summary>
/// A checkpoint file (or registry entry) that cannot be used: names the file and the field at fault.
/// Raised before anything from the file is trusted; it never affects other checkpoints.
/// </summary>
public sealed class CheckpointFormatException : BadInputException
{
    public CheckpointFormatException(string file, string? field, string problem, Exception? inner = null)
        : base(Compose(file, field, problem), inner)
    {
        File = file;
        Field = field;
        Problem = problem;
    }

    /// <summary>The file at fault (as given by the caller).</summary>
    public string File { get; }

    /// <summary>The field, tensor or entry at fault; null when the whole file is.</summary>
    public string? Field { get; }

    /// <summary>What is wrong, without the file and field prefix.</summary>
    public string Problem { get; }

    private static string Compose(string file, string? field, string problem) =>
        field is null ? $"{file}: {problem}" : $"{file}: {field}: {problem}";
}
