namespace SaeBench.Core;

/// <summary>
/// The machine failed, not the input: an output that cannot be written because its directory is read-only, denied, a
/// file, or the disk is full. The message names the path, says what happened and what to do. It is an
/// <see cref="IOException"/>, so code that treats a failed write as a miss (caches) keeps doing so; the CLI reports it
/// in one line (exit code 1), never with a stack trace.
/// </summary>
public sealed class EnvironmentFailureException(string message, Exception? inner = null) : IOException(message, inner)
{
    // Linux errno values .NET reports as the HResult of an IOException.
    private const int ENOSPC = 28, EROFS = 30, ENAMETOOLONG = 36, EDQUOT = 122, ENOTDIR = 20, EEXIST = 17, EISDIR = 21;

    /// <summary>Writing <paramref name="path"/> failed with <paramref name="error"/>; the message says why and what to do.</summary>
    public static EnvironmentFailureException Writing(string path, Exception error) =>
        error as EnvironmentFailureException ?? new($"cannot write {path}: {Explain(error)}", error);

    private static string Explain(Exception e) => e switch
    {
        UnauthorizedAccessException => "permission denied; make the directory writable, or choose another output directory",
        PathTooLongException => "the path or file name is too long for the file system; choose a shorter output directory",
        IOException { HResult: ENOSPC or EDQUOT } => "the disk is full (or the quota is used up); free some space, or choose another output directory",
        IOException { HResult: EROFS } => "the file system is read-only; choose another output directory",
        IOException { HResult: ENAMETOOLONG } => "the file name is too long for the file system; choose a shorter output directory",
        IOException { HResult: ENOTDIR or EEXIST or EISDIR } => $"a file or directory is in the way ({e.Message}); move it, or choose another output directory",
        DirectoryNotFoundException => $"a file or directory is in the way, or a directory on the path is missing ({e.Message}); move it, or choose another output directory",
        _ => $"{e.Message}; check the output directory",
    };
}
