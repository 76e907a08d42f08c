using System.Numerics.Tensors;
using SaeBench.Compute.Tensors;

namespace SaeBench.Training.Optimization;

/// <summary>
/// The unit-norm decoder constraint: before a step, the component of each row's gradient along the row is removed
/// (so the step is tangent to the sphere); after the step the rows are renormalised.
/// </summary>
public static class DecoderNorm
{
    /// <summary><c>g_j ← g_j − (g_j·d_j) d_j / ‖d_j‖²</c> for every row j.</summary>
    public static void RemoveParallelComponent(HostMatrix decoder, HostMatrix gradient) => ForRows(decoder, (j0, j1) =>
    {
        for (int j = j0; j < j1; j++)
        {
            var d = decoder.Row(j);
            var g = gradient.Row(j);
            float nn = TensorPrimitives.Dot(d, d);
            if (nn <= 0f) continue;
            float c = TensorPrimitives.Dot(g, d) / nn;
            TensorPrimitives.MultiplyAdd(d, -c, g, g);
        }
    });

    /// <summary>Scales every non-zero row to unit norm.</summary>
    public static void Normalize(HostMatrix decoder) => ForRows(decoder, (j0, j1) =>
    {
        for (int j = j0; j < j1; j++)
        {
            var d = decoder.Row(j);
            float n = TensorPrimitives.Norm(d);
            if (n > 0f) TensorPrimitives.Divide(d, n, d);
        }
    });

    /// <summary>Row ranges in parallel for big decoders (rows are independent, so the result is the same).</summary>
    private static void ForRows(HostMatrix m, Action<int, int> body)
    {
        int rows = m.Rows;
        int chunks = (long)rows * m.Cols < 1 << 18 || Environment.ProcessorCount == 1 ? 1 : Environment.ProcessorCount * 4;
        if (chunks == 1) body(0, rows);
        else Parallel.For(0, chunks, c => body((int)((long)rows * c / chunks), (int)((long)rows * (c + 1) / chunks)));
    }
}
