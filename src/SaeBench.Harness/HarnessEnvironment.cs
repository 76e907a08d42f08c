using SaeBench.Core.Checkpoints;
using SaeBench.Models;

namespace SaeBench.Harness;

/// <summary>
/// What the pipeline takes from the outside world: the directory relative paths start from, environment variables,
/// the clock and where progress messages go. Tests build one with their own values; nothing reads process globals.
/// </summary>
public sealed record HarnessEnvironment(string WorkingDirectory, Func<string, string?> Variables, TimeProvider Clock, TextWriter Log)
{
    /// <summary>Environment variable naming the cache directory (trained weights, activation caches, digests, suites).</summary>
    public const string CacheVariable = "SAEBENCH_CACHE";

    /// <summary>Folder of the cache directory that remembers checkpoint digests.</summary>
    public const string DigestFolder = "checkpoint-digests";

    public static HarnessEnvironment FromProcess(TextWriter log) =>
        new(Directory.GetCurrentDirectory(), Environment.GetEnvironmentVariable, TimeProvider.System, log);

    /// <summary>Model options rooted at <paramref name="workingDirectory"/> (default: this environment's), with the cache
    /// directory from <c>$SAEBENCH_CACHE</c> and progress messages to <see cref="Log"/>.</summary>
    public ModelOptions ModelOptions(string? hook = null, string? workingDirectory = null) => new()
    {
        Hook = hook,
        WorkingDirectory = workingDirectory ?? WorkingDirectory,
        CacheDirectory = Variables(CacheVariable) is { Length: > 0 } cache ? cache : null,
        Log = message => Log.WriteLine(message),
        Variables = Variables,
    };

    /// <summary>The cache directory (<c>.saebench-cache/</c> at the repository root, or <c>$SAEBENCH_CACHE</c>).</summary>
    public string CacheDirectory(string? workingDirectory = null) => RepositoryPaths.CacheDirectory(ModelOptions(workingDirectory: workingDirectory));

    /// <summary>The digest cache: a checkpoint's SHA-256 and scan, remembered while its files are unchanged.</summary>
    public CheckpointDigestCache Digests(string? workingDirectory = null) => new(Path.Combine(CacheDirectory(workingDirectory), DigestFolder));

    /// <summary>A path relative to the working directory, made absolute.</summary>
    public string Resolve(string path) => Path.GetFullPath(Path.Combine(WorkingDirectory, path));
}
