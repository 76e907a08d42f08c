using SaeBench.Compute.Tensors;
using SaeBench.Core.Models;
using SaeBench.Models.Common;

namespace SaeBench.Models.Files;

/// <summary>
/// Activations streamed from a memory-mapped tensor <c>[N, d]</c> or <c>[N, P, d]</c> (any float type, converted to
/// float32 batch by batch). A split may be a contiguous range of the tensor's examples, or any list of them (a seeded
/// random split of one file). The file is mapped per
/// enumeration and unmapped when it ends, so nothing stays open between runs over the data.
/// </summary>
internal sealed class MappedActivationSource : IActivationSource
{
    private readonly TensorLayout _activations;
    private readonly int _offset;
    private readonly int[]? _labels;
    private readonly TensorLayout? _mask;
    private readonly int[]? _rows;

    /// <param name="activations">The tensor; rank 2 or 3.</param>
    /// <param name="offset">First example of the tensor that belongs to this split.</param>
    /// <param name="count">Examples in this split.</param>
    /// <param name="labels">Class label per example of this split (−1 = none), or null.</param>
    /// <param name="mask">Validity mask <c>[N, P]</c> of bytes (non-zero = valid), or null for all valid.</param>
    private readonly Split _split;

    /// <summary>A split made of the tensor's examples <paramref name="rows"/> (in that order; example e of the split is
    /// tensor example rows[e]).</summary>
    public MappedActivationSource(Split split, TensorLayout activations, int[] rows, int[]? labels, TensorLayout? mask)
        : this(split, activations, 0, rows.Length, labels, mask)
    {
        if (rows.Any(r => r < 0 || r >= activations.Shape[0]))
            throw new ArgumentOutOfRangeException(nameof(rows), $"Example rows outside [0, {activations.Shape[0]}).");
        _rows = rows;
    }

    public MappedActivationSource(Split split, TensorLayout activations, int offset, int count, int[]? labels, TensorLayout? mask)
    {
        _split = split;
        var shape = activations.Shape;
        if (shape.Length is not (2 or 3))
            throw new InvalidDataException($"{activations.Path}: field 'shape' of '{activations.Name}' is {activations.ShapeText}; expected [N, d] or [N, positions, d].");
        if (!activations.Type.IsFloat())
            throw new InvalidDataException($"{activations.Path}: '{activations.Name}' is {activations.Type}; activations must be F32, F16 or BF16.");
        if (shape.Any(s => s > int.MaxValue) || shape[0] == 0 || shape[^1] == 0)
            throw new InvalidDataException($"{activations.Path}: field 'shape' of '{activations.Name}' is {activations.ShapeText}; every dimension must be in 1…{int.MaxValue}.");
        int positions = shape.Length == 3 ? (int)shape[1] : 1;
        if (positions == 0) throw new InvalidDataException($"{activations.Path}: '{activations.Name}' has 0 positions.");
        if (offset < 0 || count < 1 || offset + count > shape[0])
            throw new ArgumentOutOfRangeException(nameof(offset), $"Examples [{offset}, {offset + count}) outside {shape[0]}.");
        if (labels is not null && labels.Length != count)
            throw new ArgumentException($"{labels.Length} labels for {count} examples.", nameof(labels));
        if (mask is not null && (mask.Shape.Length != 2 || mask.Shape[0] != shape[0] || mask.Shape[1] != positions || mask.Type != ElementType.U8))
            throw new InvalidDataException(
                $"{mask.Path}: mask '{mask.Name}' is {mask.Type} {mask.ShapeText}; expected U8/BOOL [{shape[0]}, {positions}].");
        _activations = activations;
        _offset = offset;
        _labels = labels;
        _mask = mask;
        Shape = new ActivationShape(count, positions, (int)shape[^1]);
    }

    public ActivationShape Shape { get; }

    public IEnumerable<ActivationBatch> Batches(int maxRows, Range? examples = null)
    {
        var plan = BatchPlan.Of(Shape, maxRows, examples).ToList();
        using var file = new MappedFile(_activations.Path);
        using var maskFile = _mask is null ? null : new MappedFile(_mask.Path);
        int p = Shape.Positions, d = Shape.DModel;
        foreach (var (first, count) in plan)
        {
            int rows = count * p;
            var x = HostMatrix.Rent(rows, d, clear: false);
            if (_rows is null) file.ReadFloats(_activations, (long)(_offset + first) * p * d, x.Span);
            else
                for (int e = 0; e < count; e++)
                    file.ReadFloats(_activations, (long)_rows[first + e] * p * d, x.Span.Slice(e * p * d, p * d));
            var labels = new int[count];
            for (int e = 0; e < count; e++) labels[e] = _labels?[first + e] ?? -1;
            bool[]? valid = null;
            if (maskFile is not null)
            {
                var bytes = new long[rows];
                if (_rows is null) maskFile.ReadIntegers(_mask!, (long)(_offset + first) * p, bytes);
                else
                    for (int e = 0; e < count; e++)
                        maskFile.ReadIntegers(_mask!, (long)_rows[first + e] * p, bytes.AsSpan(e * p, p));
                valid = bytes.Select(b => b != 0).ToArray();
            }
            yield return ActivationBatch.ForExamples(_split, x, first, p, labels, valid);
        }
    }
}
