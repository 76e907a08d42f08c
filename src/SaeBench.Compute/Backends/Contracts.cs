using SaeBench.Compute.Tensors;

namespace SaeBench.Compute.Backends;

/// <summary>Allocation and explicit host↔device transfers.</summary>
public interface IDeviceMemory
{
    ITensor Allocate(int rows, int cols);
    void Upload(ReadOnlySpan<float> source, ITensor destination);
    void Download(ITensor source, Span<float> destination);
}

/// <summary><c>C = α·op(A)·op(B) + β·C</c> on tensors of one backend.</summary>
public interface IGemm
{
    string Name { get; }
    void Gemm(ITensor a, bool transA, ITensor b, bool transB, ITensor c, float alpha = 1f, float beta = 0f);
}

/// <summary>The element-wise pieces of SAE activation functions.</summary>
public interface IActivationOps
{
    void AddRowVector(ITensor matrix, ITensor bias);
    void Relu(ITensor matrix);
    /// <summary>Keeps x where x &gt; θ (scalar θ when <paramref name="perColumn"/> is null, else θ[j] per column).</summary>
    void Threshold(ITensor matrix, float scalar, ITensor? perColumn);
}

/// <summary>Exact top selections applied in place: the kept entries stay, the rest become 0.</summary>
public interface ISelectionOps
{
    /// <summary>
    /// Keeps each row's k largest entries; with <paramref name="relu"/> the kept negatives become 0 too (TopK SAEs);
    /// a <paramref name="bias"/> row (1 × cols) is added to every row first, fused into the same sweep. When
    /// <paramref name="kept"/> is given (and k &lt; cols) it receives the kept entries on the host (k per row, ascending columns).
    /// </summary>
    void KeepRowTopK(ITensor matrix, int k, bool relu = false, ITensor? bias = null, SparseRows? kept = null);
    void KeepColumnTopM(ITensor matrix, int m);
    /// <summary>Keeps the K largest entries of the whole tensor; returns the K-th largest value.</summary>
    float KeepGlobalTopK(ITensor matrix, int k);
}

/// <summary>Reductions whose (small) results come back to the host in double precision.</summary>
public interface IReductionOps
{
    void RowSumSquares(ITensor matrix, Span<double> destination);
    void RowDots(ITensor a, ITensor b, Span<double> destination);
    void ColumnCounts(ITensor matrix, Span<long> nonZero, Span<long> positive);
}

/// <summary>
/// A compute backend: the role interfaces one device implements. Code above the compute layer takes one
/// of these from its context; it never news up kernels itself.
/// </summary>
public sealed record ComputeBackend(
    string Name,
    IDeviceMemory Memory,
    IGemm Gemm,
    IActivationOps Activations,
    ISelectionOps Selection,
    IReductionOps Reductions,
    string Description)
{
    /// <summary>Transformer kernels (norms, activations, attention, logit reductions); null where the backend has none.</summary>
    public ITransformerOps? Transformer { get; init; }
}
