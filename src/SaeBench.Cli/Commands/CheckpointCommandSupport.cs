using SaeBench.Compute.Backends;
using SaeBench.Core.Checkpoints;
using SaeBench.Models;

namespace SaeBench.Cli.Commands;

/// <summary>What the checkpoint commands share: path resolution, and turning loader errors into bad-input errors.</summary>
internal static class CheckpointCommandSupport
{
    public static string Resolve(CliContext context, string path) => Path.GetFullPath(Path.Combine(context.WorkingDirectory, path));

    /// <summary>Runs <paramref name="body"/>; a checkpoint problem becomes a <see cref="UserInputException"/> (exit code 2).</summary>
    public static T Guard<T>(Func<T> body)
    {
        try
        {
            return body();
        }
        catch (CheckpointFormatException e)
        {
            throw new UserInputException(e.Message, e);
        }
    }

    /// <summary>Folder of the cache directory (<c>.saebench-cache/</c> or <c>$SAEBENCH_CACHE</c>) that remembers checkpoint digests.</summary>
    public const string DigestFolder = "checkpoint-digests";

    /// <summary>
    /// The digest cache: a checkpoint's SHA-256 and scan, remembered while its files are unchanged, so that runs and
    /// inspections do not re-read unchanged checkpoints.
    /// </summary>
    public static CheckpointDigestCache Digests(CliContext context, string? workingDirectory = null) =>
        new(Path.Combine(RepositoryPaths.CacheDirectory(ModelsCommand.Options(context) with { WorkingDirectory = workingDirectory ?? context.WorkingDirectory }),
            DigestFolder));

    /// <summary>
    /// The CPU backend every command uses: the GEMM from <paramref name="gemm"/> (a --gemm value) or else
    /// $SAEBENCH_GEMM, and the OpenBLAS library named by $SAEBENCH_OPENBLAS. A bad name, or OpenBLAS requested but
    /// missing, is bad input (exit code 2), never a crash.
    /// </summary>
    public static ComputeBackend Backend(CliContext context, string? gemm = null)
    {
        string? name = gemm ?? context.Environment(CpuBackendOptions.GemmEnvironmentVariable);
        string source = gemm is not null ? "--gemm" : "$" + CpuBackendOptions.GemmEnvironmentVariable;
        try
        {
            return CpuBackend.Create(new CpuBackendOptions(CpuBackendOptions.ParseGemm(name),
                OpenBlasLibrary: context.Environment(CpuBackendOptions.OpenBlasEnvironmentVariable)));
        }
        catch (ArgumentException e)
        {
            throw new UserInputException($"{source}: {e.Message}", e);
        }
        catch (InvalidOperationException e)
        {
            throw new UserInputException($"{source}: {e.Message}", e);
        }
    }
}
