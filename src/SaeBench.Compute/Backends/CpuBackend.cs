using SaeBench.Compute.Kernels;
using SaeBench.Compute.Tensors;

namespace SaeBench.Compute.Backends;

/// <summary>Which GEMM the CPU backend uses.</summary>
public enum GemmChoice
{
    /// <summary>OpenBLAS when it loads, else the managed GEMM.</summary>
    Auto,
    OpenBlas,
    Managed,
}

/// <param name="OpenBlasLibrary">A specific OpenBLAS library (file name or path) to load instead of the usual names.</param>
public sealed record CpuBackendOptions(GemmChoice Gemm = GemmChoice.Auto, int Threads = 0, string? OpenBlasLibrary = null)
{
    /// <summary>Environment variable naming the OpenBLAS library to load (e.g. a custom build).</summary>
    public const string OpenBlasEnvironmentVariable = "SAEBENCH_OPENBLAS";

    /// <summary>Environment variable that forces the GEMM: <c>managed</c>, <c>openblas</c> or <c>auto</c>.</summary>
    public const string GemmEnvironmentVariable = "SAEBENCH_GEMM";

    /// <summary>Parses a GEMM choice name (case-insensitive); null or empty means Auto.</summary>
    public static GemmChoice ParseGemm(string? value) => value?.Trim().ToLowerInvariant() switch
    {
        null or "" or "auto" => GemmChoice.Auto,
        "openblas" or "blas" => GemmChoice.OpenBlas,
        "managed" => GemmChoice.Managed,
        _ => throw new ArgumentException($"Unknown GEMM '{value}'. Valid: auto, openblas, managed."),
    };
}

/// <summary>The CPU backend: tensors are <see cref="HostMatrix"/>, so uploads and downloads are copies in RAM.</summary>
public static class CpuBackend
{
    public static ComputeBackend Create(CpuBackendOptions? options = null)
    {
        options ??= new CpuBackendOptions();
        IGemm gemm = options.Gemm switch
        {
            GemmChoice.Managed => new ManagedGemmKernel(options.Threads),
            GemmChoice.OpenBlas => OpenBlas.TryLoad(options.OpenBlasLibrary, out var lib, out var reason)
                ? new OpenBlasGemmKernel(lib!)
                : throw new InvalidOperationException("OpenBLAS was requested but " + reason),
            _ => OpenBlas.TryLoad(options.OpenBlasLibrary, out var lib2, out _) ? new OpenBlasGemmKernel(lib2!) : new ManagedGemmKernel(options.Threads),
        };
        var ops = new CpuOps();
        return new ComputeBackend("cpu", ops, gemm, ops, ops, ops, $"CPU ({Environment.ProcessorCount} cores), GEMM: {gemm.Name}")
        {
            Transformer = new CpuTransformerOps(options.Threads),
        };
    }

    internal static HostMatrix Host(ITensor t) =>
        t as HostMatrix ?? throw new ArgumentException($"The CPU backend cannot use a {t.GetType().Name}; transfer it to the host first.");
}

internal sealed class ManagedGemmKernel(int threads) : IGemm
{
    public string Name => "managed (Vector256 tiled)";

    public void Gemm(ITensor a, bool transA, ITensor b, bool transB, ITensor c, float alpha = 1f, float beta = 0f)
    {
        var (ha, hb, hc, m, n, k) = GemmShape.Resolve(a, transA, b, transB, c);
        ManagedGemm.Gemm(transA, transB, m, n, k, alpha, ha.Span, ha.Cols, hb.Span, hb.Cols, beta, hc.Span, hc.Cols, threads);
    }
}

internal sealed class OpenBlasGemmKernel(OpenBlas library) : IGemm
{
    public string Name => $"OpenBLAS ({library.LibraryName})";

    public void Gemm(ITensor a, bool transA, ITensor b, bool transB, ITensor c, float alpha = 1f, float beta = 0f)
    {
        var (ha, hb, hc, m, n, k) = GemmShape.Resolve(a, transA, b, transB, c);
        library.Sgemm(transA, transB, m, n, k, alpha, ha.Span, ha.Cols, hb.Span, hb.Cols, beta, hc.Span, hc.Cols);
    }
}

internal static class GemmShape
{
    public static (HostMatrix A, HostMatrix B, HostMatrix C, int M, int N, int K) Resolve(ITensor a, bool transA, ITensor b, bool transB, ITensor c)
    {
        var ha = CpuBackend.Host(a);
        var hb = CpuBackend.Host(b);
        var hc = CpuBackend.Host(c);
        int m = transA ? ha.Cols : ha.Rows, k = transA ? ha.Rows : ha.Cols;
        int kb = transB ? hb.Cols : hb.Rows, n = transB ? hb.Rows : hb.Cols;
        if (k != kb || hc.Rows != m || hc.Cols != n)
            throw new ArgumentException(
                $"GEMM shapes do not agree: op(A) {m}×{k}, op(B) {kb}×{n}, C {hc.Rows}×{hc.Cols}.");
        return (ha, hb, hc, m, n, k);
    }
}

internal sealed class CpuOps : IDeviceMemory, IActivationOps, ISelectionOps, IReductionOps
{
    public ITensor Allocate(int rows, int cols) => new HostMatrix(rows, cols);

    public void Upload(ReadOnlySpan<float> source, ITensor destination)
    {
        var d = CpuBackend.Host(destination);
        if (source.Length != d.Length) throw new ArgumentException($"Upload of {source.Length} values into {d.Rows}×{d.Cols}.");
        source.CopyTo(d.Span);
    }

    public void Download(ITensor source, Span<float> destination) => CpuBackend.Host(source).Span.CopyTo(destination);

    public void AddRowVector(ITensor matrix, ITensor bias)
    {
        var m = CpuBackend.Host(matrix);
        RowOps.AddRowVector(m.Span, m.Cols, CpuBackend.Host(bias).Span);
    }

    public void Relu(ITensor matrix) => RowOps.Relu(CpuBackend.Host(matrix).Span);

    public void Threshold(ITensor matrix, float scalar, ITensor? perColumn)
    {
        var m = CpuBackend.Host(matrix);
        if (perColumn is null) RowOps.Threshold(m.Span, scalar);
        else RowOps.ThresholdColumns(m.Span, m.Cols, CpuBackend.Host(perColumn).Span);
    }

    public void KeepRowTopK(ITensor matrix, int k, bool relu = false, ITensor? bias = null, SparseRows? kept = null)
    {
        var m = CpuBackend.Host(matrix);
        RowOps.KeepRowTopK(m.Span, m.Rows, m.Cols, k, relu, bias is null ? null : CpuBackend.Host(bias).ToArray(), kept);
    }

    public void KeepColumnTopM(ITensor matrix, int m)
    {
        var h = CpuBackend.Host(matrix);
        RowOps.KeepColumnTopM(h.Span, h.Rows, h.Cols, m);
    }

    public float KeepGlobalTopK(ITensor matrix, int k) => RowOps.KeepGlobalTopK(CpuBackend.Host(matrix).Span, k);

    public void RowSumSquares(ITensor matrix, Span<double> destination)
    {
        var m = CpuBackend.Host(matrix);
        Reductions.RowSumSquares(m.Span, m.Rows, m.Cols, destination);
    }

    public void RowDots(ITensor a, ITensor b, Span<double> destination)
    {
        var ha = CpuBackend.Host(a);
        var hb = CpuBackend.Host(b);
        if (ha.Rows != hb.Rows || ha.Cols != hb.Cols) throw new ArgumentException($"RowDots of {ha.Rows}×{ha.Cols} and {hb.Rows}×{hb.Cols}.");
        Reductions.RowDots(ha.Span, hb.Span, ha.Rows, ha.Cols, destination);
    }

    public void ColumnCounts(ITensor matrix, Span<long> nonZero, Span<long> positive)
    {
        var m = CpuBackend.Host(matrix);
        Reductions.ColumnCounts(m.Span, m.Rows, m.Cols, nonZero, positive);
    }
}
