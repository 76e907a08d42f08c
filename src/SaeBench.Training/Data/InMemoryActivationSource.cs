using SaeBench.Compute.Tensors;
using SaeBench.Core.Models;

namespace SaeBench.Training.Data;

/// <summary>An activation source over rows already in memory (one position per example, unlabelled); for benchmarks and tests.</summary>
public sealed class InMemoryActivationSource(HostMatrix rows) : IActivationSource
{
    public ActivationShape Shape => new(rows.Rows, 1, rows.Cols);

    public IEnumerable<ActivationBatch> Batches(int maxRows, Range? examples = null)
    {
        var (start, count) = (examples ?? Range.All).GetOffsetAndLength(rows.Rows);
        for (int s = start; s < start + count; s += maxRows)
        {
            int n = Math.Min(maxRows, start + count - s);
            var m = HostMatrix.FromSpan(rows.SliceRows(s, n).Span, n, rows.Cols);
            yield return ActivationBatch.ForExamples(Split.Train, m, s, 1, new int[n]);
        }
    }
}
