namespace SaeBench.Core.Checkpoints;

/// <summary>Shape and storage dtype of a named tensor, read without touching its data.</summary>
public sealed record TensorDescription(IReadOnlyList<long> Shape, string DType)
{
    public long ElementCount => Shape.Aggregate(1L, (a, b) => a * b);
    public string ShapeText => "[" + string.Join(", ", Shape) + "]";

    /// <summary>Bytes per stored element, from the dtype name (float32 → 4, bfloat16 → 2, int8/uint8/bool → 1, …).</summary>
    public int ElementBytes => DType switch
    {
        "bool" => 1,
        "bfloat16" => 2,
        _ when DType.Length > 2 && int.TryParse(DType.AsSpan(DType.TrimEnd("0123456789".ToCharArray()).Length), out int bits) && bits % 8 == 0 => bits / 8,
        _ => throw new NotSupportedException($"unknown dtype '{DType}'"),
    };
}

/// <summary>Named tensors in one weight file, read lazily (safetensors, a torch zip checkpoint).</summary>
public interface ITensorSource
{
    /// <summary>The file the tensors come from (for error messages).</summary>
    string File { get; }

    /// <summary>Describes a tensor without reading its data; false when there is no such tensor.</summary>
    bool TryDescribe(string name, out TensorDescription description);

    /// <summary>Converts <c>destination.Length</c> elements (row-major, from <paramref name="elementOffset"/>) to float32.</summary>
    void Read(string name, long elementOffset, Span<float> destination);
}
