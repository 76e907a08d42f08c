namespace SaeBench.Models.Files;

/// <summary>
/// Refuses activation files holding NaN or ±Inf (or, for float64 files, values beyond float32's range, which become ±Inf
/// when read), naming the file, the tensor and the first position, as checkpoints' non-finite weights are refused; with
/// <see cref="ModelOptions.AllowNonFinite"/> they are counted and logged instead. One streaming pass over the mapped file.
/// </summary>
internal static class FiniteCheck
{
    private const int Chunk = 1 << 20;

    public static void Check(TensorLayout tensor, ModelOptions options)
    {
        if (!tensor.Type.IsFloat() || tensor.Elements == 0) return;
        using var file = new MappedFile(tensor.Path);
        tensor.CheckFits(file.Length);
        var buffer = new float[(int)Math.Min(Chunk, tensor.Elements)];
        long count = 0, first = -1;
        for (long start = 0; start < tensor.Elements; start += buffer.Length)
        {
            var span = buffer.AsSpan(0, (int)Math.Min(buffer.Length, tensor.Elements - start));
            file.ReadFloats(tensor, start, span);
            for (int i = 0; i < span.Length; i++)
            {
                if (float.IsFinite(span[i])) continue;
                if (first < 0) first = start + i;
                count++;
            }
        }
        if (count == 0) return;
        string where = Position(tensor, first);
        if (!options.AllowNonFinite)
            throw new InvalidDataException(
                $"{tensor.Path}: tensor '{tensor.Name}' holds {count} non-finite values (NaN or ±Inf), the first at {where}; " +
                "refusing it (allow with model_options: {allow_non_finite: true})");
        options.Log?.Invoke($"warning: {tensor.Path}: tensor '{tensor.Name}' holds {count} non-finite values (NaN or ±Inf), the first at {where}; " +
                            "used because non-finite activations were allowed");
    }

    /// <summary>"example e, position p, dimension j (element i)" for a <c>[N, d]</c> or <c>[N, positions, d]</c> tensor.</summary>
    private static string Position(TensorLayout tensor, long element)
    {
        var shape = tensor.Shape;
        long d = shape[^1], positions = shape.Length == 3 ? shape[1] : 1;
        long example = element / (positions * d), position = element / d % positions, dim = element % d;
        return shape.Length == 3
            ? $"example {example}, position {position}, dimension {dim} (element {element})"
            : $"example {example}, dimension {dim} (element {element})";
    }
}
