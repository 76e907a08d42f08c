using SaeBench.Compute.Backends;
using SaeBench.Core;

namespace SaeBench.Harness;

/// <summary>A compute backend a run can name (<c>--backend</c>, <c>backend:</c>).</summary>
public sealed record BackendEntry(string Name, string Description);

/// <summary>
/// The compute backends, listed once: names, descriptions, and creating one — an unavailable backend is a problem
/// reported before anything runs, never an exception mid-run. The CPU backend's GEMM follows <c>$SAEBENCH_GEMM</c>
/// (auto, openblas, managed) and loads the OpenBLAS named by <c>$SAEBENCH_OPENBLAS</c>.
/// </summary>
public static class BackendCatalog
{
    public static IReadOnlyList<BackendEntry> Entries { get; } =
    [
        new("cpu", "CPU: OpenBLAS sgemm when it loads (or as $SAEBENCH_GEMM says), else the managed SIMD GEMM"),
        new("cpu-managed", "CPU with the managed Vector256 GEMM only"),
        new("cpu-openblas", "CPU with OpenBLAS required"),
        new("cuda", "NVIDIA GPU (cuBLAS and compiled kernels)"),
    ];

    /// <summary>Creates the backend <paramref name="name"/> names, or says why it cannot (unknown name, library missing).</summary>
    public static bool TryCreate(string name, HarnessEnvironment environment, out ComputeBackend? backend, out string problem)
    {
        backend = null;
        problem = "";
        try
        {
            switch (name.Trim().ToLowerInvariant())
            {
                case "cpu": backend = Cpu(environment); return true;
                case "cpu-managed": backend = Cpu(environment, "managed"); return true;
                case "cpu-openblas": backend = Cpu(environment, "openblas"); return true;
                case "cuda":
                    if (CudaBackend.TryCreate(out backend, out var reason)) return true;
                    problem = $"backend: {reason}";
                    return false;
                default:
                    problem = "backend: " + Core.Configuration.Suggest.UnknownName("backend", name, Entries.Select(e => e.Name));
                    return false;
            }
        }
        catch (BadInputException e)
        {
            problem = e.Message;
            return false;
        }
    }

    /// <summary>The backend <paramref name="name"/> names; a <see cref="BadInputException"/> when it cannot be had.</summary>
    public static ComputeBackend Create(string name, HarnessEnvironment environment) =>
        TryCreate(name, environment, out var backend, out var problem) ? backend! : throw new BadInputException(problem);

    /// <summary>
    /// The CPU backend: the GEMM from <paramref name="gemm"/> (e.g. a <c>--gemm</c> value) or else <c>$SAEBENCH_GEMM</c>,
    /// the OpenBLAS library named by <c>$SAEBENCH_OPENBLAS</c>. A bad name, or OpenBLAS required but missing, is bad input.
    /// </summary>
    public static ComputeBackend Cpu(HarnessEnvironment environment, string? gemm = null)
    {
        string? name = gemm ?? environment.Variables(CpuBackendOptions.GemmEnvironmentVariable);
        string source = gemm is not null ? "--gemm" : "$" + CpuBackendOptions.GemmEnvironmentVariable;
        try
        {
            return CpuBackend.Create(new CpuBackendOptions(CpuBackendOptions.ParseGemm(name),
                OpenBlasLibrary: environment.Variables(CpuBackendOptions.OpenBlasEnvironmentVariable)));
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException)
        {
            throw new BadInputException($"{source}: {e.Message}", e);
        }
    }
}
